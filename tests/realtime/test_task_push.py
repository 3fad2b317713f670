"""A task's reminder reaches its owner's open consoles pushed through the hub (real web
process, Redis pub/sub, database): one ``task_reminder`` frame per reminder, however many
sweeps run, to the owner only; the mail is staged once beside it."""

from __future__ import annotations

from datetime import timedelta

import redis.asyncio as aioredis
from sqlalchemy import func, select

from desk.db import SessionMaker
from desk.models import OutboundMail, Task, utcnow
from desk.settings import Settings
from desk.tasks import iso
from ingest import task_reminders
from routing import events
from routing.router import Router
from tests.realtime.conftest import Clients, Org, WebFactory


async def _sweep_and_publish(sm: SessionMaker, settings: Settings, router: Router) -> int:
    """What the worker's due-timer thread does (ingest.due): sweep, commit, then publish."""
    reminded = await task_reminders.sweep(sm, settings, utcnow())
    await router.store.publish(router.events_channel,
                               [events.dump(n) for n in reminded.notices])
    return len(reminded.notices)


async def test_a_reminder_is_pushed_once_to_its_owner_s_consoles(
        settings: Settings, sm: SessionMaker, redis: aioredis.Redis, org: Org,
        web: WebFactory, clients: Clients) -> None:
    (w,) = await web(1)
    ana = await clients.staff(w, "ana@x.test")
    ana_again = await clients.staff(w, "ana@x.test")  # a second tab
    bob = await clients.staff(w, "bob@x.test")
    due = utcnow() + timedelta(hours=2)
    async with sm() as s:
        task = Task(title="Order the <b>spare</b> fuse", owner_id=org.ana, created_by=org.ana,
                    due_at=due, remind_at=utcnow() - timedelta(seconds=1))
        s.add(task)
        await s.commit()
    router = Router(settings, redis, sm)
    assert await _sweep_and_publish(sm, settings, router) == 1
    assert await _sweep_and_publish(sm, settings, router) == 0  # claimed: nothing again
    for console in (ana, ana_again):
        frame = await console.expect("task_reminder")
        assert frame["task_id"] == task.id
        assert frame["title"] == "Order the <b>spare</b> fuse"
        assert frame["due_at"] is not None and frame["reminded_at"]
        await console.quiet()
        assert len(console.of("task_reminder")) == 1
    await bob.quiet()
    assert bob.of("task_reminder") == []
    async with sm() as s:
        row = await s.get(Task, task.id)
        assert row is not None and row.reminded_at is not None
        assert frame["reminded_at"] == iso(row.reminded_at)  # the key the task list shows
        assert await s.scalar(select(func.count()).select_from(OutboundMail).where(
            OutboundMail.kind == "task")) == 1

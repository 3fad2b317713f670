"""Noise takes no agent (issue 10, item 12): auto-replies and bulk mail that join no ticket are
stored as ``noise`` tickets, neither routed nor acknowledged, listed apart, and promoted through
the API into a routed ticket. Real Dovecot, the real web app (router included) and Redis."""

from __future__ import annotations

import httpx
import redis.asyncio as aioredis
from sqlalchemy import select

from desk.models import (
    Agent,
    AgentGroup,
    Conversation,
    Department,
    Mailbox,
    OutboundMail,
    RoutingDecision,
)
from routing.store import Store
from tests.ingest import corpus
from tests.ingest.conftest import Records, staff_hash, staff_login
from tests.ingest.harness import conversations, count, eventually, running
from tests.support.dovecot import Dovecot


async def test_auto_reply_and_bulk_become_unrouted_noise_until_promoted(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis, web: httpx.AsyncClient
) -> None:
    box = await records.mailbox(dovecot)
    async with records.sm() as s:
        front = (await s.execute(select(Department.front_group_id).join(
            Mailbox, Mailbox.department_id == Department.id).where(Mailbox.id == box))
        ).scalar_one()
        s.add(Agent(email="ana@desk.example", display_name="Ana", role="agent",
                    password_hash=staff_hash(), groups=[AgentGroup(group_id=front)]))
        await s.commit()
    files = corpus.files()
    dovecot.deliver(corpus.simple(message_id="<person@example.org>"))
    dovecot.deliver(files["auto_reply_ooo.eml"])  # names an unknown ticket number: joins none
    dovecot.deliver(files["bulk_newsletter.eml"])  # Precedence: bulk
    async with running(records, redis, box) as run:
        await eventually(lambda: _n(records, 3))
        await run.poller.synced.wait()
    person, ooo, bulk = await conversations(records)
    assert (person.status, ooo.status, bulk.status) == ("queued", "noise", "noise")
    assert run.routed == [person.id]
    assert [a.conversation_id for a in run.acked] == [person.id]
    assert await count(records, OutboundMail) == 0

    headers = await staff_login(web, "ana@desk.example")
    listed = (await web.get("/api/conversations")).json()
    assert [c["id"] for c in listed] == [person.id]
    noise = (await web.get("/api/conversations", params={"status": "noise"})).json()
    assert sorted(c["id"] for c in noise) == [ooo.id, bulk.id]
    opened = (await web.get(f"/api/conversations/{bulk.id}")).json()
    assert opened["status"] == "noise" and opened["messages"]

    r = await web.post(f"/api/conversations/{bulk.id}/promote", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "queued"
    held = await Store(redis).conv(bulk.id)
    assert held is not None and held.state == "queued"
    assert await count(records, RoutingDecision, RoutingDecision.conversation_id == bulk.id,
                       RoutingDecision.action == "queued") == 1
    again = await web.post(f"/api/conversations/{bulk.id}/promote", headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert (await web.post(f"/api/conversations/{person.id}/promote",
                           headers=headers)).status_code == 409
    assert (await web.post(f"/api/conversations/{ooo.id}/promote")).status_code == 403  # CSRF
    assert await count(records, RoutingDecision, RoutingDecision.conversation_id == ooo.id) == 0


async def _n(records: Records, n: int) -> bool:
    return await count(records, Conversation) == n

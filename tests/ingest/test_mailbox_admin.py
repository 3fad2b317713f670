"""Mailboxes without SQL (issue 10, item 13) against a real Dovecot: ``switchboard mailbox
add|list|test`` as a process, and a running poller picking up what the admin API changes."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import httpx
import redis.asyncio as aioredis
from sqlalchemy import select

from desk.models import Agent, Conversation, Department, Mailbox
from ingest.poller import PollerConfig, serve
from routing import keys
from tests.ingest import corpus
from tests.ingest.conftest import Records, staff_hash, staff_login
from tests.ingest.harness import count, eventually
from tests.ingest.procs import env_for
from tests.support.dovecot import Dovecot
from tests.support.processes import switchboard


def _cli(records: Records, tmp_path: Path, *args: str, password: str | None = None
         ) -> subprocess.CompletedProcess[str]:
    env = env_for(records.settings)
    if password is not None:
        env["SWITCHBOARD_MAILBOX_PASSWORD"] = password
    log = tmp_path / "cli.log"
    proc = switchboard(["mailbox", *args], env, log)
    proc.wait(timeout=60)
    return subprocess.CompletedProcess(args, proc.returncode, log.read_text(), "")


async def _department(records: Records, name: str) -> int:
    async with records.sm() as s:
        dept = Department(name=name)
        s.add(dept)
        await s.commit()
        return dept.id


async def test_cli_adds_lists_and_tests_mailboxes(
    dovecot: Dovecot, records: Records, tmp_path: Path
) -> None:
    await _department(records, "Support")
    for i in range(2):
        dovecot.deliver(corpus.simple(message_id=f"<cli-{i}@example.org>"))
    where = ("--host", "127.0.0.1", "--port", str(dovecot.port), "--security", "none",
             "--username", dovecot.user)
    good = await asyncio.to_thread(_cli, records, tmp_path, "add", "--department", "Support",
                                   *where, password=dovecot.password)
    assert good.returncode == 0, good.stdout
    bad = await asyncio.to_thread(_cli, records, tmp_path, "add", "--department", "Support",
                                  *where, "--disabled", password="wrong password")
    assert bad.returncode == 0, bad.stdout
    async with records.sm() as s:
        good_id, bad_id = (await s.execute(select(Mailbox.id).order_by(Mailbox.id))
                           ).scalars().all()
    listed = await asyncio.to_thread(_cli, records, tmp_path, "list")
    assert listed.returncode == 0
    lines = listed.stdout.strip().splitlines()
    assert len(lines) == 2 and f"{dovecot.user}@127.0.0.1:{dovecot.port}" in lines[0]
    assert "enabled" in lines[0] and "disabled" in lines[1]
    assert dovecot.password not in listed.stdout and "wrong password" not in listed.stdout

    ok = await asyncio.to_thread(_cli, records, tmp_path, "test", str(good_id))
    assert ok.returncode == 0, ok.stdout
    assert ok.stdout.strip() == (f"mailbox {good_id}: OK, {dovecot.user}@127.0.0.1:"
                                 f"{dovecot.port} INBOX: 2 messages")
    failed = await asyncio.to_thread(_cli, records, tmp_path, "test", str(bad_id))
    assert failed.returncode == 1
    # The server's own answer, word for word.
    assert failed.stdout.strip() == (f"mailbox {bad_id}: FAILED: IMAP login: NO "
                                     "[b'[AUTHENTICATIONFAILED] Authentication failed.']")
    assert "wrong password" not in failed.stdout



async def test_running_poller_follows_mailboxes_changed_through_the_api(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis, web: httpx.AsyncClient
) -> None:
    dept = await _department(records, "Support")
    async with records.sm() as s:
        s.add(Agent(email="root@desk.example", display_name="Root", role="admin",
                    password_hash=staff_hash()))
        await s.commit()
    h = await staff_login(web, "root@desk.example")
    dovecot.deliver(corpus.simple(message_id="<api-1@example.org>"))
    stop = asyncio.Event()
    config = PollerConfig(reload_s=0.1, backoff_min_s=0.1, backoff_max_s=0.5,
                          lease_ttl_ms=3000)
    poller = asyncio.create_task(serve(records.settings.with_(imap_timeout_s=5.0), stop, config))
    try:
        r = await web.post("/api/mailboxes", headers=h, json={
            "department_id": dept, "host": "127.0.0.1", "port": dovecot.port,
            "security": "none", "username": dovecot.user, "password": dovecot.password})
        assert r.status_code == 201, r.text
        box = r.json()["id"]
        await eventually(lambda: _conversations(records, 1))
        # A changed mailbox: its task restarts with the new settings (here a missing folder).
        r = await web.patch(f"/api/mailboxes/{box}", headers=h, json={"folder": "Nope"})
        assert r.status_code == 200
        await eventually(lambda: _last_error(records, box, "select"))
        # Back to the inbox: the restarted task imports what came meanwhile, once.
        dovecot.deliver(corpus.simple(message_id="<api-2@example.org>"))
        r = await web.patch(f"/api/mailboxes/{box}", headers=h, json={"folder": "INBOX"})
        await eventually(lambda: _conversations(records, 2))
        # Disabled: the task stops and lets go of the mailbox's lease.
        r = await web.patch(f"/api/mailboxes/{box}", headers=h, json={"enabled": False})
        assert r.json()["enabled"] is False
        await eventually(lambda: _no_lease(redis, box))
        r = await web.patch(f"/api/mailboxes/{box}", headers=h, json={"enabled": True})
        await eventually(lambda: _leased(redis, box))
        assert (await web.delete(f"/api/mailboxes/{box}", headers=h)).status_code == 200
        await eventually(lambda: _no_lease(redis, box))
    finally:
        stop.set()
        await asyncio.wait_for(poller, 20)
    assert await count(records, Conversation) == 2


async def _conversations(records: Records, n: int) -> bool:
    return await count(records, Conversation) == n


async def _last_error(records: Records, box: int, word: str) -> bool:
    async with records.sm() as s:
        row = await s.get(Mailbox, box, populate_existing=True)
    return row is not None and word in (row.last_error or "")


async def _no_lease(redis: aioredis.Redis, box: int) -> bool:
    return not await redis.exists(keys.mailbox_lease(box))


async def _leased(redis: aioredis.Redis, box: int) -> bool:
    return bool(await redis.exists(keys.mailbox_lease(box)))


async def test_api_tests_a_mailbox_connection(
    dovecot: Dovecot, records: Records, web: httpx.AsyncClient
) -> None:
    """The admin page's "test connection": the folder's message count, or the server's exact
    answer; admins only, unknown ids 404, the password never in the answer."""
    dept = await _department(records, "Support")
    async with records.sm() as s:
        s.add_all([Agent(email="root@desk.example", display_name="Root", role="admin",
                         password_hash=staff_hash()),
                   Agent(email="sup@desk.example", display_name="Sup", role="supervisor",
                         password_hash=staff_hash())])
        await s.commit()
    h = await staff_login(web, "root@desk.example")
    dovecot.deliver(corpus.simple(message_id="<t-1@example.org>"))
    where = {"department_id": dept, "host": "127.0.0.1", "port": dovecot.port,
             "security": "none", "username": dovecot.user}
    good = (await web.post("/api/mailboxes", headers=h,
                           json={**where, "password": dovecot.password})).json()["id"]
    bad = (await web.post("/api/mailboxes", headers=h, json={
        **where, "password": "wrong password", "enabled": False})).json()["id"]
    r = await web.post(f"/api/mailboxes/{good}/test", headers=h)
    assert r.status_code == 200
    assert r.json() == {"ok": True, "message": f"{dovecot.user}@127.0.0.1:{dovecot.port} "
                                               "INBOX: 1 messages"}
    r = await web.post(f"/api/mailboxes/{bad}/test", headers=h)
    assert r.json() == {"ok": False, "message": "IMAP login: NO "
                        "[b'[AUTHENTICATIONFAILED] Authentication failed.']"}
    assert (await web.post("/api/mailboxes/999999/test", headers=h)).status_code == 404
    other = await staff_login(web, "sup@desk.example")
    assert (await web.post(f"/api/mailboxes/{good}/test", headers=other)).status_code == 403

"""Ingest fixtures: a private Dovecot on loopback, the records, poller and worker processes."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from desk.auth import hash_password
from desk.db import SessionMaker, make_engine, make_sessionmaker
from desk.schema import create_all
from desk.settings import Settings
from realtime.app import create_app
from tests.ingest.procs import Processes
from tests.support.databases import truncate_all
from tests.support.dovecot import Dovecot, running
from tests.support.mailboxes import add_mailbox


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running() as server:
        yield server


@pytest.fixture
async def records(settings: Settings, tmp_path: Path) -> AsyncIterator[Records]:
    """The records on a database of this test's own (SQLite) or the session's (PostgreSQL,
    emptied after the test)."""
    sqlite = settings.database_url.startswith("sqlite")
    if sqlite:
        settings = settings.with_(database_url=f"sqlite+aiosqlite:///{tmp_path / 'ingest.db'}")
    engine = make_engine(settings)
    await create_all(engine)
    yield Records(settings, make_sessionmaker(engine))
    if not sqlite:
        await truncate_all(engine)
    await engine.dispose()


@dataclass
class Records:
    settings: Settings
    sm: SessionMaker

    async def mailbox(self, server: Dovecot, **fields: Any) -> int:
        return await add_mailbox(self.sm, port=server.port, user=server.user,
                                 password=server.password, **fields)


STAFF_PASSWORD = "a long enough password"


@functools.cache
def staff_hash() -> str:
    return hash_password(STAFF_PASSWORD)


@pytest.fixture
async def web(records: Records) -> AsyncIterator[httpx.AsyncClient]:
    """The real web app (router, hub, HTTP API) in-process on the test's records."""
    app = create_app(records.settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def staff_login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    """Log in an agent whose hash is ``staff_hash()``; returns the CSRF header for writes."""
    r = await client.post("/api/auth/login", json={"email": email, "password": STAFF_PASSWORD})
    assert r.status_code == 200, r.text
    return {"x-csrf-token": r.json()["csrf_token"]}


@pytest.fixture
def processes(records: Records) -> Iterator[Processes]:
    """Start poller/worker processes (tests.ingest.procs) on the test's records; reaped after."""
    started = Processes(records.settings)
    yield started
    started.kill_all()

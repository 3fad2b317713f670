"""Ingest fixtures: a private Dovecot on loopback, the records, poller and worker processes."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from desk.db import SessionMaker, make_engine, make_sessionmaker
from desk.schema import create_all
from desk.settings import Settings
from tests.ingest.procs import Processes
from tests.support.databases import truncate_all
from tests.support.dovecot import DOVECOT, Dovecot
from tests.support.mailboxes import add_mailbox


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    if not Path(DOVECOT).exists() or shutil.which("setpriv") is None:
        pytest.fail("dovecot-imapd is not installed (apt-get install -y dovecot-imapd)")
    # Not under pytest's tmp_path: its parent is 0700 root, and Dovecot runs as nobody.
    server = Dovecot()
    server.start()
    yield server
    server.cleanup()


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


@pytest.fixture
def processes(records: Records) -> Iterator[Processes]:
    """Start poller/worker processes (tests.ingest.procs) on the test's records; reaped after."""
    started = Processes(records.settings)
    yield started
    started.kill_all()

"""Ingest fixtures: a private Dovecot on loopback and an aiosmtpd capturing sink."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from desk.db import SessionMaker, make_engine, make_sessionmaker
from desk.embedded import free_port
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


@dataclass
class Sink:
    """Captures every accepted message; ``fail_next`` makes the next N DATA commands fail."""

    messages: list[Envelope] = field(default_factory=list)
    fail_next: int = 0
    fail_code: str = "451 4.3.0 try again later"
    delay_s: float = 0.0
    port: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_next > 0:
            self.fail_next -= 1
            return self.fail_code
        self.messages.append(envelope)
        return "250 OK"

    def message_ids(self) -> list[str]:
        out = []
        for env in self.messages:
            content: Any = env.content or b""
            for line in bytes(content).split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    out.append(line.split(b":", 1)[1].strip().decode())
        return out


@pytest.fixture
def smtp_sink() -> Iterator[Sink]:
    sink = Sink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


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

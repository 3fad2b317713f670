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

from tests.ingest.dovecot import DOVECOT, Dovecot, free_port


@pytest.fixture
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    if not Path(DOVECOT).exists() or shutil.which("setpriv") is None:
        pytest.fail("dovecot-imapd is not installed (apt-get install -y dovecot-imapd)")
    server = Dovecot(tmp_path_factory.mktemp("dovecot"))
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
async def smtp_sink() -> AsyncIterator[Sink]:
    sink = Sink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    await asyncio.to_thread(controller.start)
    yield sink
    await asyncio.to_thread(controller.stop)

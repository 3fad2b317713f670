"""An aiosmtpd server on loopback that keeps what it is sent (the ``smtp_sink`` fixture)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from desk.embedded import free_port


@dataclass
class Sink:
    """Captures every accepted message; ``fail_next`` makes the next N DATA commands fail."""

    messages: list[Envelope] = field(default_factory=list)
    fail_next: int = 0
    fail_code: str = "451 4.3.0 try again later"
    delay_s: float = 0.0
    port: int = field(default_factory=free_port)

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


S = TypeVar("S", bound=Sink)


@contextlib.contextmanager
def running_sink(sink: S) -> Iterator[S]:
    """Serve ``sink`` (any ``Sink``) on its port for the block."""
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()

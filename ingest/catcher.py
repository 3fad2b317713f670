"""The demo's mail catcher: an SMTP server on loopback that keeps what the desk sends, and a page
listing it, so the email half of the product can be seen without a real mail system.

Development only (``switchboard demo`` starts it; ``run`` refuses production settings). Mails
are kept in memory, newest first, at most ``KEEP`` of them: a catcher left running never grows
without bound. A mail's HTML part is shown in a sandboxed frame with scripts off; its text part
is escaped, with web links made clickable so a case link can be followed from the page.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from desk.settings import Settings

KEEP = 500
MAIL_MAX_BYTES = 10 * 1024 * 1024
_LINK = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True, slots=True)
class Caught:
    number: int
    received: datetime
    sender: str
    recipients: tuple[str, ...]
    raw: bytes

    def parsed(self) -> EmailMessage:
        mail = message_from_bytes(self.raw, policy=default)
        assert isinstance(mail, EmailMessage)
        return mail

    def summary(self) -> dict[str, Any]:
        mail = self.parsed()
        return {"number": self.number, "received": self.received.isoformat(),
                "from": str(mail["From"] or self.sender), "to": list(self.recipients),
                "subject": str(mail["Subject"] or ""), "text": _part(mail, "plain")}


class Catcher:
    """Holds the caught mails; its ``handle_DATA`` is aiosmtpd's handler hook."""

    def __init__(self, keep: int = KEEP) -> None:
        self.mails: deque[Caught] = deque(maxlen=keep)
        self._count = 0

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        self._count += 1
        raw = envelope.original_content or b""
        self.mails.appendleft(Caught(self._count, datetime.now(UTC), envelope.mail_from or "",
                                     tuple(envelope.rcpt_tos), raw))
        return "250 Message accepted for delivery"

    def find(self, number: int) -> Caught | None:
        return next((m for m in self.mails if m.number == number), None)


def _part(mail: EmailMessage, kind: str) -> str:
    body = mail.get_body((kind,))
    if body is None:
        return ""
    try:
        return str(body.get_content())
    except (LookupError, ValueError):
        return body.get_payload(decode=True).decode("utf-8", "replace")  # type: ignore[union-attr]


def _linked(text: str) -> str:
    out, last = [], 0
    for m in _LINK.finditer(text):
        out += [html.escape(text[last:m.start()]),
                f'<a href="{html.escape(m.group())}">{html.escape(m.group())}</a>']
        last = m.end()
    return "".join(out) + html.escape(text[last:])


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Switchboard mail catcher</title><style>
body{{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}}
header{{background:#243b53;color:#fff;padding:.8rem 1.2rem}}
main{{padding:1rem 1.2rem;max-width:70rem}}
table{{border-collapse:collapse;width:100%;background:#fff}} td,th{{padding:.45rem .6rem;
border-bottom:1px solid #d9e2ec;text-align:left}} a{{color:#0b69a3}} pre{{white-space:pre-wrap;
background:#fff;padding:1rem;border:1px solid #d9e2ec}} iframe{{width:100%;height:28rem;
border:1px solid #d9e2ec;background:#fff}} dl{{display:grid;grid-template-columns:8rem 1fr}}
.empty{{color:#627d98}}</style></head><body><header><strong>Mail catcher</strong> — mail the
demo desk sent; nothing here left this machine</header><main>{body}</main></body></html>"""


def _list_page(catcher: Catcher) -> str:
    rows = "".join(
        f"<tr><td>{m['received'][11:19]}</td><td>{html.escape(', '.join(m['to']))}</td>"
        f"<td><a href=\"/mail/{m['number']}\">{html.escape(m['subject']) or '(no subject)'}"
        "</a></td></tr>" for m in (c.summary() for c in catcher.mails))
    body = (f"<table><tr><th>Received (UTC)</th><th>To</th><th>Subject</th></tr>{rows}</table>"
            if rows else '<p class="empty">No mail yet. Mail the desk sends shows up here.</p>')
    return _PAGE.format(title="Inbox", body=body)


def _mail_page(caught: Caught) -> str:
    mail = caught.parsed()
    heads = "".join(f"<dt>{h}</dt><dd>{html.escape(str(mail[h]))}</dd>"
                    for h in ("From", "To", "Cc", "Subject", "Date") if mail[h] is not None)
    text, rich = _part(mail, "plain"), _part(mail, "html")
    frame = (f'<h3>HTML part</h3><iframe sandbox title="HTML part" '
             f'srcdoc="{html.escape(rich)}"></iframe>' if rich else "")
    body = (f'<p><a href="/">← all mail</a></p><dl>{heads}</dl>'
            f"<h3>Text part</h3><pre>{_linked(text)}</pre>{frame}")
    return _PAGE.format(title=html.escape(str(mail["Subject"] or "")), body=body)


def web_app(catcher: Catcher) -> Starlette:
    async def index(_: Request) -> Response:
        return HTMLResponse(_list_page(catcher))

    async def one(request: Request) -> Response:
        number = request.path_params["number"]
        caught = catcher.find(number)
        if caught is None:
            return HTMLResponse(_PAGE.format(title="Gone", body="<p>No such mail.</p>"), 404)
        return HTMLResponse(_mail_page(caught))

    async def as_json(_: Request) -> Response:
        return JSONResponse([c.summary() for c in catcher.mails])

    return Starlette(routes=[Route("/", index), Route("/mail/{number:int}", one),
                             Route("/api/mails", as_json)])


async def serve(settings: Settings, smtp_port: int, http_port: int,
                stop: asyncio.Event | None = None) -> None:
    """Until SIGINT/SIGTERM, or until ``stop`` is set."""
    catcher = Catcher()
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(
        lambda: SMTP(catcher, data_size_limit=MAIL_MAX_BYTES, hostname="mailcatcher.local"),
        "127.0.0.1", smtp_port)
    server = uvicorn.Server(uvicorn.Config(web_app(catcher), host="127.0.0.1", port=http_port,
                                           log_config=None, access_log=False,
                                           log_level=settings.log_level))

    async def stop_on_event() -> None:
        if stop is not None:
            await stop.wait()
            server.should_exit = True

    stopper = asyncio.create_task(stop_on_event())
    try:
        await server.serve()
    finally:
        stopper.cancel()
        smtp.close()
        await smtp.wait_closed()


def run(settings: Settings) -> None:
    if settings.production:
        raise SystemExit("the mail catcher is for development and the demo only")
    # aiosmtpd logs every SMTP command at INFO: noise beside the desk's own lines.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    asyncio.run(serve(settings, settings.smtp_port, settings.port + 1))

"""Mail the hub asks for, through the real RQ worker into an aiosmtpd sink.

The web process enqueues the ingest jobs by name (realtime never imports ingest); the worker
(``ingest.worker.run`` in burst mode) runs them and sends.
"""

from __future__ import annotations

import asyncio
import sys
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from desk.conversations import create_conversation
from desk.db import SessionMaker
from desk.models import Contact, Department
from desk.settings import Settings
from tests.realtime.conftest import (
    Clients,
    Org,
    WebFactory,
    accepted_chat,
    api,
    update_row,
)
from tests.support.processes import ROOT, child_env, web_env
from tests.support.smtp_sink import Sink


def _mails(sink: Sink) -> list[EmailMessage]:
    out = []
    for e in sink.messages:
        content = e.content or b""
        assert isinstance(content, bytes)
        mail = message_from_bytes(content, policy=default)
        assert isinstance(mail, EmailMessage)
        out.append(mail)
    return out


def _body(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


WORKER = ("import os; from desk.settings import Settings; from ingest import worker; "
          "worker.run(Settings.from_env(os.environ), burst=True)")


async def _work(settings: Settings, sink: Sink, tmp_path: Path) -> None:
    """One burst of the real worker (RQ wants a main thread: a process of its own)."""
    env = {**web_env(tmp_path / "worker", settings.database_url, settings.redis_url),
           "SWITCHBOARD_SMTP_HOST": "127.0.0.1", "SWITCHBOARD_SMTP_PORT": str(sink.port)}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", WORKER,
                                                env=child_env(env), cwd=ROOT)
    assert await asyncio.wait_for(proc.wait(), 60) == 0


async def test_reply_and_closed_notices_on_an_email_ticket(
        web: WebFactory, org: Org, sm: SessionMaker, settings: Settings,
        smtp_sink: Sink, tmp_path: Path) -> None:
    await update_row(sm, Department, org.dept, email_address="support@desk.test")
    async with sm() as s:
        customer = Contact(email="cust@example.org", name="Cust")
        s.add(customer)
        await s.commit()
    ticket = await create_conversation(sm, channel="email", contact_id=customer.id,
                                       department_id=org.dept, group_id=org.group,
                                       subject="Broken widget")
    [w] = await web(1)
    path = f"/api/conversations/{ticket.id}"
    r = await api(w, "POST", path + "/messages", "ana@x.test", {"body": "Fixed it for you."})
    assert r.status_code == 201, r.text
    r = await api(w, "POST", path + "/messages", "ana@x.test",
                  {"body": "INTERNAL-ONLY", "visibility": "internal"})
    assert r.status_code == 201, r.text
    r = await api(w, "PATCH", path, "ana@x.test", {"status": "resolved"})
    assert r.status_code == 200, r.text

    await _work(settings, smtp_sink, tmp_path)
    reply, closed = _mails(smtp_sink)
    assert reply["To"] == "cust@example.org" and "support@desk.test" in reply["From"]
    assert ticket.number in reply["Subject"] and reply["Subject"].startswith("Re:")
    assert "Fixed it for you." in _body(reply)
    assert "has been resolved" in _body(closed) and closed["Auto-Submitted"] == "auto-generated"
    assert "INTERNAL-ONLY" not in str(smtp_sink.messages)

    # A retried notification (same job run again) sends nothing twice.
    await _work(settings, smtp_sink, tmp_path)
    assert len(smtp_sink.messages) == 2


async def test_visitor_transcript_is_mailed_without_notes(
        web: WebFactory, clients: Clients, org: Org, settings: Settings,
        smtp_sink: Sink, tmp_path: Path) -> None:
    [w] = await web(1)
    v, ana, cid = await accepted_chat(clients, org, w, w, "Where is my parcel?")
    await ana.send(type="message", conversation_id=cid, client_id="n", text="NOTE-1",
                   internal=True)
    await ana.send(type="message", conversation_id=cid, client_id="p", text="On its way.")
    await v.expect("message", client_id="p")
    await v.send(type="transcript", conversation_id=cid, email="visitor@example.org")
    await v.expect("done", op="transcript")

    await _work(settings, smtp_sink, tmp_path)
    [mail] = _mails(smtp_sink)
    assert mail["To"] == "visitor@example.org" and "Transcript" in mail["Subject"]
    body = _body(mail)
    assert "Where is my parcel?" in body and "On its way." in body and "NOTE-1" not in body

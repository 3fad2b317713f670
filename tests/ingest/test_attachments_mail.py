"""Files by mail, both ways: a customer's mail with attachments through Dovecot and the poller
shows them in the ticket's thread (typed by content: a disguised .exe is neither a PDF nor
previewable), and an agent's file uploaded into the ticket goes out with the reply, through a
real worker process, to the SMTP sink."""

from __future__ import annotations

import asyncio
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import httpx
import redis.asyncio as aioredis
from sqlalchemy import select

from desk.models import Agent, Conversation, OutboundMail
from tests.ingest import procs
from tests.ingest.conftest import Records, staff_hash, staff_login
from tests.ingest.harness import eventually, running
from tests.ingest.procs import Processes
from tests.support.dovecot import Dovecot
from tests.support.smtp_sink import Sink

PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde" + b"\0" * 32
EXE = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff" + b"\0" * 64
PDF = b"%PDF-1.4\n% the return label\n%%EOF\n"


def customer_mail() -> bytes:
    mail = EmailMessage()
    mail["From"] = "Alice <alice@example.org>"
    mail["To"] = "support@desk.example"
    mail["Subject"] = "Broken on arrival"
    mail["Message-ID"] = "<files-1@example.org>"
    mail.set_content("Photo attached, and the invoice.")
    mail.add_attachment(PNG, maintype="image", subtype="png", filename="photo.png")
    mail.add_attachment(EXE, maintype="application", subtype="pdf",
                        filename="../invoice\u202efdp.exe")
    return mail.as_bytes()


async def test_mail_attachments_both_ways(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis, smtp_sink: Sink,
    processes: Processes, web: httpx.AsyncClient
) -> None:
    async with records.sm() as s:
        s.add(Agent(email="adm@x.test", display_name="Ada", role="admin",
                    password_hash=staff_hash()))
        await s.commit()
    box = await records.mailbox(dovecot)
    dovecot.deliver(customer_mail())
    async with running(records, redis, box) as run:
        await eventually(lambda: _tickets(records))
        await run.poller.synced.wait()
    async with records.sm() as s:
        conv = (await s.execute(select(Conversation))).scalar_one()

    csrf = await staff_login(web, "adm@x.test")
    thread = (await web.get(f"/api/conversations/{conv.id}")).json()
    (first,) = thread["messages"]
    photo, invoice = first["files"]
    assert (photo["name"], photo["type"], photo["preview"]) == ("photo.png", "image/png", True)
    # Declared application/pdf, named .exe behind an RTL override: the bytes say what it is.
    assert invoice["type"] == "application/octet-stream" and invoice["preview"] is False
    assert invoice["name"] == "invoice_fdp.exe"  # ingest.mime.safe_filename: "_" for it
    assert (await web.get(f"/api/attachments/{invoice['id']}/preview")).status_code == 404
    got = await web.get(f"/api/attachments/{photo['id']}/preview")
    assert got.content == PNG and got.headers["content-type"] == "image/png"
    got = await web.get(f"/api/attachments/{invoice['id']}")
    assert got.content == EXE and got.headers["content-disposition"].startswith("attachment;")

    r = await web.post(f"/api/conversations/{conv.id}/attachments?name=Return%20label.pdf",
                       content=PDF, headers=csrf)
    assert r.status_code == 201, r.text
    assert r.json()["mailed"] is True
    settings = records.settings.with_(smtp_host="127.0.0.1", smtp_port=smtp_sink.port)
    worker = processes.spawn("worker", settings=settings)
    assert await asyncio.to_thread(worker.wait, 60) == 0, procs.log_tail(settings)

    (env,) = [e for e in smtp_sink.messages if e.rcpt_tos == ["alice@example.org"]
              and b"Return label" in _bytes(e)]
    mail = message_from_bytes(_bytes(env), policy=default)
    assert f"[{conv.number}]" in mail["Subject"]
    (part,) = list(mail.iter_attachments())
    assert part.get_filename() == "Return label.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == PDF
    async with records.sm() as s:
        row = (await s.execute(select(OutboundMail).where(OutboundMail.kind == "reply"))
               ).scalar_one()
    assert row.status == "sent" and row.attachment_ids == [r.json()["files"][0]["id"]]


def _bytes(envelope: object) -> bytes:
    content = getattr(envelope, "content", b"") or b""
    return content if isinstance(content, bytes) else content.encode()


async def _tickets(records: Records) -> bool:
    async with records.sm() as s:
        return (await s.execute(select(Conversation))).first() is not None

"""Customer mail in the customer's language: through the real RQ worker into the aiosmtpd
sink, a French chat's transcript and a Spanish ticket's closing notice, and the sign-in link
in the contact's last language."""

from __future__ import annotations

import asyncio
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from redis import Redis

from desk.models import Contact, Conversation, Department, Message
from desk.settings import Settings
from ingest import jobs
from tests.ingest import procs
from tests.ingest.conftest import Records
from tests.ingest.procs import Processes
from tests.support.smtp_sink import Sink


async def _case(records: Records, *, number: str, channel: str, status: str,
                language: str | None, contact_language: str | None = None) -> tuple[int, int]:
    async with records.sm() as s:
        dept = await s.get(Department, 1) or Department(
            id=1, name="Ventas", email_address="ventas@desk.example")
        contact = Contact(email=f"{number.lower()}@example.org", name="Client",
                          language=contact_language)
        s.add_all([dept, contact])
        await s.flush()
        conv = Conversation(number=number, channel=channel, status=status, department_id=1,
                            contact_id=contact.id, subject="Commande", language=language,
                            last_seq=2, closed_at=None)
        s.add(conv)
        await s.flush()
        s.add_all([
            Message(conversation_id=conv.id, seq=1, author_kind="contact", body="Bonjour"),
            Message(conversation_id=conv.id, seq=2, author_kind="agent", author_name=None,
                    body="Bonjour, comment puis-je vous aider ?"),
        ])
        await s.commit()
        return conv.id, contact.id


def _enqueue(settings: Settings, *calls: tuple[Any, tuple[Any, ...]]) -> None:
    assert settings.redis_url
    conn = Redis.from_url(settings.redis_url)
    conn.flushdb()
    queue = jobs.mail_queue(conn)
    for func, args in calls:
        queue.enqueue_call(func, args=args)
    conn.close()


def _mails(sink: Sink) -> dict[str, EmailMessage]:
    out: dict[str, EmailMessage] = {}
    for env in sink.messages:
        content: Any = env.content or b""
        msg = message_from_bytes(bytes(content), policy=default)
        assert isinstance(msg, EmailMessage)
        out[env.rcpt_tos[0]] = msg
    return out


def _text(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def test_transcript_in_french_closing_in_spanish_signin_in_german(
        records: Records, smtp_sink: Sink, processes: Processes) -> None:
    settings = records.settings.with_(smtp_host="127.0.0.1", smtp_port=smtp_sink.port)
    chat, _ = await _case(records, number="SB-1000001", channel="chat", status="closed",
                          language="fr")
    ticket, _ = await _case(records, number="SB-1000002", channel="email", status="resolved",
                            language="es")
    _, contact = await _case(records, number="SB-1000003", channel="email", status="active",
                             language=None, contact_language="de")
    _enqueue(settings, (jobs.transcript_job, (chat, "req-1")), (jobs.notify_closed_job, (ticket,)),
             (jobs.signin_job, (contact, "req-2")))
    worker = processes.spawn("worker", settings=settings)  # a burst: the queue, then exit
    assert await asyncio.to_thread(worker.wait, 60) == 0, procs.log_tail(settings)
    mails = _mails(smtp_sink)

    fr = mails["sb-1000001@example.org"]
    assert fr["Subject"] == "Transcription de votre discussion [SB-1000001]"
    body = _text(fr)
    assert body.startswith("La transcription de votre discussion SB-1000001 :")
    assert "Vous: Bonjour" in body and "Conseiller: Bonjour, comment puis-je" in body
    assert "Vos échanges : http" in body

    es = mails["sb-1000002@example.org"]
    assert es["Subject"] == "Re: Commande [SB-1000002]"
    body = _text(es)
    assert body.startswith("Su caso SB-1000002 se ha resuelto.")
    assert "¿Qué tal lo hemos hecho? Valórenos con un clic:" in body and "#survey" in body

    de = mails["sb-1000003@example.org"]
    assert de["Subject"] == "Ihr Anmeldelink"
    assert _text(de).startswith("Hier ist Ihr Link, um sich anzumelden")

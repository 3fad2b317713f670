"""Outbound mail through a real RQ worker (SimpleWorker) into an aiosmtpd sink."""

from __future__ import annotations

import asyncio
import signal
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from redis import Redis
from sqlalchemy import select

from desk import smtp_relay
from desk.db import make_engine, make_sessionmaker
from desk.embedded import free_port
from desk.models import Contact, Conversation, Department, Message, OutboundMail
from desk.schema import create_all
from desk.settings import Settings
from ingest import jobs, outbound, worker
from ingest.compose import is_own_message_id
from tests.support.smtp_sink import Sink


def _setup(settings: Settings, subject: str = "Hi\r\nBcc: victim@example.com",
           smtp: dict[str, object] | None = None) -> int:
    async def go() -> int:
        engine = make_engine(settings)
        await create_all(engine)
        sm = make_sessionmaker(engine)
        async with sm() as s:
            dept = Department(name="Sales", email_address="sales@desk.example", smtp=smtp)
            contact = Contact(email="alice@example.org", name="Alice")
            s.add_all([dept, contact])
            await s.flush()
            conv = Conversation(number="SB-7654321", channel="email", department_id=dept.id,
                                contact_id=contact.id, subject=subject, last_seq=1)
            s.add(conv)
            await s.flush()
            s.add(Message(conversation_id=conv.id, seq=1, author_kind="contact", body="x",
                          email_message_id="<cust@example.org>"))
            await s.commit()
            conv_id = conv.id
        queued = await outbound.queue_mail(sm, settings, conversation_id=conv_id, kind="reply",
                                           key="msg-9", body=lambda _, __: "Here you go.",
                                           reply=True)
        again = await outbound.queue_mail(sm, settings, conversation_id=conv_id, kind="reply",
                                          key="msg-9", body=lambda _, __: "Here you go.",
                                          reply=True)
        assert queued is not None and again is not None
        assert again.outbound_id == queued.outbound_id and not again.created
        await engine.dispose()
        return queued.outbound_id
    return asyncio.run(go())


def _rows(settings: Settings) -> tuple[list[OutboundMail], list[Message]]:
    async def go() -> tuple[list[OutboundMail], list[Message]]:
        engine = make_engine(settings)
        async with make_sessionmaker(engine)() as s:
            out = list((await s.execute(select(OutboundMail))).scalars())
            notes = list((await s.execute(select(Message).where(
                Message.author_kind == "system"))).scalars())
        await engine.dispose()
        return out, notes
    return asyncio.run(go())


def _settings(settings: Settings, tmp_path: Path, sink: Sink) -> Settings:
    return settings.with_(database_url=f"sqlite+aiosqlite:///{tmp_path / 'out.db'}",
                          smtp_host="127.0.0.1", smtp_port=sink.port)


def _burst(settings: Settings, requeue_after_s: float = 60) -> None:
    """One burst of the real worker in this process. RQ installs its SIGINT/SIGTERM handlers
    (finish the job, then stop) and leaves them: put pytest's back, or a later Ctrl-C or a
    fixture relying on SIGINT hangs in a handler meant for a worker that is gone."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker.run(settings, burst=True, requeue_after_s=requeue_after_s)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _run_worker(settings: Settings, outbound_id: int, intervals: tuple[int, ...]) -> None:
    assert settings.redis_url
    conn = Redis.from_url(settings.redis_url)
    conn.flushdb()
    jobs.enqueue_send(jobs.mail_queue(conn), outbound_id, intervals)
    conn.close()
    _burst(settings)


def test_reply_sent_once_with_threading_headers(
    settings: Settings, tmp_path: Path, smtp_sink: Sink
) -> None:
    settings = _settings(settings, tmp_path, smtp_sink)
    outbound_id = _setup(settings)
    pytest_sigint = signal.getsignal(signal.SIGINT)
    _run_worker(settings, outbound_id, (0, 0))
    assert signal.getsignal(signal.SIGINT) is pytest_sigint  # not the gone worker's
    _run_worker(settings, outbound_id, (0, 0))  # a second run of the same job sends nothing
    (env,) = smtp_sink.messages
    content = env.content or b""
    msg = message_from_bytes(content if isinstance(content, bytes) else content.encode(),
                             policy=default)
    assert env.rcpt_tos == ["alice@example.org"]
    assert msg["From"].addresses[0].addr_spec == "sales@desk.example"
    assert msg["In-Reply-To"] == "<cust@example.org>"
    assert msg["Subject"] == "Re: Hi Bcc: victim@example.com [SB-7654321]"
    assert msg["Bcc"] is None and "victim" not in " ".join(env.rcpt_tos)
    assert is_own_message_id(msg["Message-ID"], settings.secret_key)
    (row,), _ = _rows(settings)
    assert (row.status, row.attempts) == ("sent", 1)


def test_a_department_with_its_own_relay_sends_through_it(
    settings: Settings, tmp_path: Path, smtp_sink: Sink
) -> None:
    """The deployment's relay is a closed port here: the mail still goes, through the
    department's (desk.smtp_relay, set on the admin page)."""
    own = smtp_relay.check({"host": "127.0.0.1", "port": smtp_sink.port, "security": "none"},
                           None)
    settings = _settings(settings, tmp_path, smtp_sink).with_(smtp_port=free_port())
    outbound_id = _setup(settings, smtp=own)
    _run_worker(settings, outbound_id, (0, 0))
    (env,) = smtp_sink.messages
    assert env.rcpt_tos == ["alice@example.org"]
    (row,), _ = _rows(settings)
    assert row.status == "sent"


def test_temporary_failures_retried_then_sent_once(
    settings: Settings, tmp_path: Path, smtp_sink: Sink
) -> None:
    settings = _settings(settings, tmp_path, smtp_sink)
    outbound_id = _setup(settings)
    smtp_sink.fail_next = 2
    _run_worker(settings, outbound_id, (0, 0, 0))
    assert len(smtp_sink.messages) == 1
    (row,), notes = _rows(settings)
    assert (row.status, row.attempts, notes) == ("sent", 3, [])


def test_exhausted_retries_and_permanent_failure_visible_on_ticket(
    settings: Settings, tmp_path: Path, smtp_sink: Sink
) -> None:
    settings = _settings(settings, tmp_path, smtp_sink)
    outbound_id = _setup(settings)
    smtp_sink.fail_next = 10
    _run_worker(settings, outbound_id, (0,))
    (row,), notes = _rows(settings)
    assert row.status == "failed" and row.attempts == 2 and "451" in (row.last_error or "")
    assert len(notes) == 1 and notes[0].visibility == "internal"
    assert smtp_sink.messages == []


def test_permanent_failure_not_retried(
    settings: Settings, tmp_path: Path, smtp_sink: Sink
) -> None:
    settings = _settings(settings, tmp_path, smtp_sink)
    outbound_id = _setup(settings)
    smtp_sink.fail_next, smtp_sink.fail_code = 10, "550 5.1.1 no such user"
    _run_worker(settings, outbound_id, (0, 0, 0))
    (row,), notes = _rows(settings)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "550" in notes[0].body


def test_worker_restart_requeues_mail_left_sending(
    settings: Settings, tmp_path: Path, smtp_sink: Sink
) -> None:
    """A worker SIGKILLed mid-send leaves the row 'sending'; the next worker sends it once."""
    settings = _settings(settings, tmp_path, smtp_sink)
    outbound_id = _setup(settings)

    async def mark_sending() -> None:
        engine = make_engine(settings)
        async with make_sessionmaker(engine)() as s:
            row = await s.get(OutboundMail, outbound_id)
            assert row is not None
            row.status, row.attempts = "sending", 1
            await s.commit()
        await engine.dispose()

    asyncio.run(mark_sending())
    assert settings.redis_url
    Redis.from_url(settings.redis_url).flushdb()
    _burst(settings, requeue_after_s=0)
    assert len(smtp_sink.messages) == 1
    (row,), _ = _rows(settings)
    assert (row.status, row.attempts) == ("sent", 2)

"""Mail the hub asks for, through the real RQ worker into an aiosmtpd sink.

The web process enqueues the ingest jobs by name (realtime never imports ingest); the worker
(``ingest.worker.run`` in burst mode) composes, runs them and sends. What a stranger can cause
(transcripts, acknowledgements of "leave a message") stays within the mail guard's budget;
every public staff reply on an email ticket is mailed, whichever path stored it.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
from redis import Redis
from rq import Queue
from sqlalchemy import select, update

from desk.conversations import create_conversation
from desk.db import SessionMaker
from desk.models import Contact, Conversation, Department, Message, Site, utcnow
from desk.settings import Settings
from ingest.compose import is_own_message_id
from ingest.jobs import UNMAILED_GRACE_S
from routing import keys
from tests.realtime.conftest import (
    SITE_KEY,
    Client,
    Clients,
    Org,
    Web,
    WebFactory,
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


async def _email_ticket(sm: SessionMaker, org: Org) -> Conversation:
    """An email ticket from cust@example.org in a department that mails as support@desk.test."""
    await update_row(sm, Department, org.dept, email_address="support@desk.test")
    async with sm() as s:
        customer = Contact(email="cust@example.org", name="Cust")
        s.add(customer)
        await s.commit()
    return await create_conversation(sm, channel="email", contact_id=customer.id,
                                     department_id=org.dept, group_id=org.group,
                                     subject="Broken widget")


async def test_reply_and_closed_notices_on_an_email_ticket(
        web: WebFactory, org: Org, sm: SessionMaker, settings: Settings,
        smtp_sink: Sink, tmp_path: Path) -> None:
    ticket = await _email_ticket(sm, org)
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


async def test_notices_whose_jobs_were_lost_are_mailed_once_by_the_sweep(
        web: WebFactory, org: Org, sm: SessionMaker, settings: Settings,
        smtp_sink: Sink, tmp_path: Path) -> None:
    """Redis took the web process's jobs and lost them (an eviction, a failover): the stored
    reply and closing still reach the customer, once, when the worker's sweep finds them."""
    ticket = await _email_ticket(sm, org)
    [w] = await web(1)
    path = f"/api/conversations/{ticket.id}"
    r = await api(w, "POST", path + "/messages", "ana@x.test", {"body": "Lost then found."})
    assert r.status_code == 201, r.text
    r = await api(w, "PATCH", path, "ana@x.test", {"status": "resolved"})
    assert r.status_code == 200, r.text
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    try:
        queue = Queue(keys.mail_queue(), connection=redis)
        assert len(queue) == 2  # the reply's and the closing's jobs ...
        queue.empty()  # ... gone before any worker took them
    finally:
        redis.close()
    await _work(settings, smtp_sink, tmp_path)
    assert smtp_sink.messages == []  # within the grace period the web's own job may come

    past = utcnow() - timedelta(seconds=UNMAILED_GRACE_S + 5)
    async with sm() as s:
        await s.execute(update(Message).where(Message.conversation_id == ticket.id)
                        .values(created_at=past))
        await s.execute(update(Conversation).where(Conversation.id == ticket.id)
                        .values(closed_at=past))
        await s.commit()
    await _work(settings, smtp_sink, tmp_path)
    reply, closed = sorted(_mails(smtp_sink), key=lambda m: "resolved" in _body(m))
    assert "Lost then found." in _body(reply) and "has been resolved" in _body(closed)
    await _work(settings, smtp_sink, tmp_path)  # the sweep again: both have their rows
    assert len(smtp_sink.messages) == 2


async def _chat_with_email(clients: Clients, org: Org, w: Web, email: str | None,
                           text: str = "Where is my parcel?") -> tuple[Client, int]:
    """A visitor's chat started with ``email`` in the pre-chat form: (visitor, its id)."""
    v = await clients.visitor(w)
    await v.send(type="start_chat", client_id="v1", text=text, department_id=org.dept,
                 email=email)
    cid: int = (await v.expect("started"))["conversation_id"]
    await v.expect("ack", client_id="v1")
    return v, cid


async def _answers(v: Client, op: str, n: int) -> list[dict[str, Any]]:
    """The next ``n`` answers (``done`` or ``error``) to ``op`` frames (a frame refused by the
    socket's token bucket, before it is read, is answered by an error without ``ref``)."""
    out: list[dict[str, Any]] = []
    while len(out) < n:
        f = await v.next()
        if (f["type"] == "done" and f.get("op") == op) or \
                (f["type"] == "error" and f.get("ref") in (op, None)):
            out.append(f)
    return out


async def test_visitor_transcript_is_mailed_without_notes_or_whispers(
        web: WebFactory, clients: Clients, org: Org, settings: Settings,
        smtp_sink: Sink, tmp_path: Path) -> None:
    [w] = await web(1)
    v, cid = await _chat_with_email(clients, org, w, "Visitor@Example.org")
    ana = await clients.staff(w, "ana@x.test")
    await ana.send(type="accept", conversation_id=cid)
    await v.expect("assigned")
    await ana.send(type="message", conversation_id=cid, client_id="n", text="NOTE-1",
                   internal=True)
    sam = await clients.staff(w, "sam@x.test", "supervisor")
    await sam.send(type="monitor", conversation_id=cid)
    await sam.expect("done", op="monitor")
    await sam.send(type="whisper", conversation_id=cid, client_id="w", text="WHISPER-1")
    await sam.expect("ack", client_id="w")
    await ana.send(type="message", conversation_id=cid, client_id="p", text="On its way.")
    await v.expect("message", client_id="p")
    # The address of the pre-chat form, given again (any case) or left out: the same.
    await v.send(type="transcript", conversation_id=cid, email="visitor@example.ORG")
    await v.expect("done", op="transcript")

    await _work(settings, smtp_sink, tmp_path)
    [mail] = _mails(smtp_sink)
    assert mail["To"] == "visitor@example.org" and "Transcript" in mail["Subject"]
    assert mail["Auto-Submitted"] == "auto-generated"
    worker_secret = web_env(tmp_path, "", None)["SWITCHBOARD_SECRET_KEY"]
    assert is_own_message_id(mail["Message-ID"], worker_secret)  # composed by ingest
    body = _body(mail)
    assert "Where is my parcel?" in body and "On its way." in body
    assert "NOTE-1" not in body and "WHISPER-1" not in body


TRANSCRIPT_FLOOD = 150


async def _answers_ping(v: Client) -> None:
    """The socket is alive: a ping gets its pong once the flood's token bucket has refilled
    (until then the ping itself is refused, with an error frame)."""
    for _ in range(100):
        await v.send(type="ping")
        answer = await v.next()
        while answer["type"] not in ("pong", "error"):
            answer = await v.next()
        if answer["type"] == "pong":
            return
        assert answer["code"] == "rate_limited", answer
        await asyncio.sleep(0.05)
    raise AssertionError("no pong")


async def test_a_transcript_flood_mails_within_the_budget_and_the_socket_still_answers(
        web: WebFactory, clients: Clients, org: Org, settings: Settings,
        smtp_sink: Sink, tmp_path: Path) -> None:
    [w] = await web(1)
    v, cid = await _chat_with_email(clients, org, w, "vera@example.org")
    for _ in range(TRANSCRIPT_FLOOD):
        await v.send(type="transcript", conversation_id=cid)
    answers = await _answers(v, "transcript", TRANSCRIPT_FLOOD)
    assert [a["type"] for a in answers].count("done") == 1
    errors = [a for a in answers if a["type"] == "error"]
    assert {e["code"] for e in errors} == {"rate_limited"}
    assert any("transcript of this chat was sent recently" in e["message"] for e in errors)
    await _answers_ping(v)

    # Other chats to the same address (new visitors, one request each) share its hourly budget.
    budget = settings.mail_per_recipient_per_hour
    for _ in range(budget + 2):
        other, other_cid = await _chat_with_email(clients, org, w, "vera@example.org")
        await other.send(type="transcript", conversation_id=other_cid)
        await _answers(other, "transcript", 1)
        await other.close()

    # A typed address that is not the pre-chat one, or no address at all: refused, never mailed.
    typed, typed_cid = await _chat_with_email(clients, org, w, "mallory@example.net")
    await typed.send(type="transcript", conversation_id=typed_cid, email="victim@example.com")
    [refused] = await _answers(typed, "transcript", 1)
    assert refused["code"] == "forbidden" and "given when the chat started" in refused["message"]
    bare, bare_cid = await _chat_with_email(clients, org, w, None)
    await bare.send(type="transcript", conversation_id=bare_cid, email="victim@example.com")
    [none] = await _answers(bare, "transcript", 1)
    assert none["code"] == "conflict" and "no email address" in none["message"]
    await _answers_ping(typed)

    await _work(settings, smtp_sink, tmp_path)
    assert [tuple(e.rcpt_tos) for e in smtp_sink.messages] == [("vera@example.org",)] * budget


async def test_a_leave_a_message_flood_gets_429_and_bounded_acknowledgements(
        web: WebFactory, org: Org, sm: SessionMaker, settings: Settings,
        smtp_sink: Sink, tmp_path: Path) -> None:
    await update_row(sm, Site, org.site, config={"departments": [{"id": org.dept,
                                                                   "name": "Support"}]})
    [w] = await web(1, SWITCHBOARD_MAIL_PER_CLIENT_HOUR="9")
    url = f"{w.http}/api/public/sites/{SITE_KEY}/messages"
    form = {"department_id": org.dept, "name": "X", "text": "Call me", "email": "v@example.org"}
    async with httpx.AsyncClient() as http:
        same = [await http.post(url, json=form) for _ in range(8)]
        spread = [await http.post(url, json={**form, "email": f"r{i}@example.org"})
                  for i in range(8)]
    budget = settings.mail_per_recipient_per_hour
    assert [r.status_code for r in same] == [201] * budget + [429] * (8 - budget)
    assert same[-1].json()["error"]["code"] == "rate_limited"
    assert "too many mails to this address" in same[-1].json()["error"]["message"]
    # Retry-After: when the recipient's hourly budget has room again (the Lua counter's TTL).
    assert all(0 < int(r.headers["Retry-After"]) <= 3600 for r in same + spread
               if r.status_code == 429)
    assert [r.status_code for r in spread] == [201] * (9 - budget) + [429] * (budget - 1)
    assert "from your network" in spread[-1].json()["error"]["message"]
    async with sm() as s:  # a refused post stored nothing
        assert len((await s.execute(select(Conversation))).scalars().all()) == 9

    await _work(settings, smtp_sink, tmp_path)
    mails = _mails(smtp_sink)
    assert len(mails) == 9 and sum(m["To"] == "v@example.org" for m in mails) == budget
    numbers = {r.json()["number"] for r in same + spread if r.status_code == 201}
    assert {m["Subject"].rsplit("[", 1)[1].rstrip("]") for m in mails} == numbers


async def test_a_reply_over_the_agent_socket_on_an_accepted_email_ticket_is_mailed(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker, settings: Settings,
        smtp_sink: Sink, tmp_path: Path) -> None:
    await update_row(sm, Site, org.site, config={"departments": [{"id": org.dept,
                                                                   "name": "Support"}]})
    await update_row(sm, Department, org.dept, email_address="support@desk.test")
    [w] = await web(1)
    ana = await clients.staff(w, "ana@x.test")
    other_console = await clients.staff(w, "ana@x.test")
    await ana.send(type="active_groups", group_ids=[org.group])
    await ana.expect("done", op="active_groups")
    async with httpx.AsyncClient() as http:  # an email ticket from the widget's form
        r = await http.post(f"{w.http}/api/public/sites/{SITE_KEY}/messages", json={
            "department_id": org.dept, "name": "Cust", "text": "My parcel is late",
            "email": "cust@example.org"})
    assert r.status_code == 201, r.text
    offer = await ana.expect("offer")
    assert offer["channel"] == "email" and offer["number"] == r.json()["number"]
    cid = offer["conversation_id"]
    await ana.send(type="accept", conversation_id=cid)
    await ana.expect("done", op="accept")
    await ana.send(type="message", conversation_id=cid, client_id="r1",
                   text="It left the warehouse today.")
    await ana.expect("ack", client_id="r1")
    await ana.send(type="message", conversation_id=cid, client_id="n1", text="NOTE-2",
                   internal=True)
    await ana.expect("ack", client_id="n1")
    # The agent's other console is not made to follow the ticket as a live chat.
    assert not [f for f in await other_console.quiet(0.3)
                if f["type"] == "message" and f["conversation_id"] == cid]

    await _work(settings, smtp_sink, tmp_path)
    mails = {m["Subject"].startswith("Re:") and "It left" in _body(m): m for m in _mails(smtp_sink)}
    reply = mails[True]
    assert reply["To"] == "cust@example.org" and "support@desk.test" in reply["From"]
    assert r.json()["number"] in reply["Subject"]
    assert len(smtp_sink.messages) == 2  # the acknowledgement and the reply; never the note
    assert "NOTE-2" not in str(smtp_sink.messages)

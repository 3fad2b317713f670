"""Ticket work over the real app (both databases): tags and the tag search, custom fields and
their required-before-close rule, copies on replies, forwarding to an outsider and their mail
answer, merge, split, resolution notes."""

from __future__ import annotations

import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import httpx
from aiosmtpd.smtp import Envelope
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from sqlalchemy import select, update

from desk import portal
from desk.case_links import Kind
from desk.contacts import new_visitor
from desk.conversations import append_message, create_conversation
from desk.db import SessionMaker
from desk.models import (
    AuditEvent,
    Contact,
    Conversation,
    Department,
    EmailParticipant,
    Mailbox,
    Message,
    OutboundMail,
)
from desk.settings import Settings
from ingest import jobs, mime, outbound
from ingest.tickets import Imported, MailboxInfo, TicketImporter
from tests.desk.conftest import login
from tests.support.smtp_sink import Sink, running_sink

FIELDS = [
    {"name": "order", "label": "Order number", "type": "text", "required": True},
    {"name": "units", "type": "number"},
    {"name": "plan", "type": "select", "options": ["basic", "pro"]},
    {"name": "since", "type": "date"},
    {"name": "onsite", "type": "checkbox"},
]


async def _ticket(sm: SessionMaker, org: dict[str, int], email: str = "eve@acme.test",
                  group: str = "ga", contact_id: int | None = None,
                  texts: tuple[str, ...] = ("first", "second", "third"),
                  subject: str = "Printer") -> Conversation:
    if contact_id is None:
        contact_id = (await new_visitor(sm, name="Eve", email=email)).id
    conv = await create_conversation(sm, channel="email", group_id=org[group],
                                     department_id=org["d1"], contact_id=contact_id,
                                     subject=subject)
    for i, text in enumerate(texts):
        await append_message(sm, conv.id, author_kind="contact" if i % 2 == 0 else "agent",
                             body=text)
    async with sm() as s:
        row = await s.get(Conversation, conv.id)
        assert row is not None
        return row


async def _mail_in(sm: SessionMaker, org: dict[str, int], settings: Settings, tmp_path: Path,
                   text: str) -> Imported:
    """Import one mail into department 1's mailbox, as the poller would."""
    async with sm() as s:
        box = Mailbox(department_id=org["d1"], host="imap.test", username="u", password="p")
        s.add(box)
        await s.commit()
    raw = text.encode()
    return await TicketImporter(sm, settings.secret_key, tmp_path).import_mail(
        MailboxInfo(box.id, org["d1"], org["ga"]), uidvalidity=1, uid=1, raw=raw,
        mail=mime.parse(raw))


def _content(envelope: Envelope) -> bytes:
    content = envelope.content or b""
    return content.encode() if isinstance(content, str) else bytes(content)


async def _agent(client: httpx.AsyncClient, who: str = "agent@x.test") -> dict[str, str]:
    return {"x-csrf-token": await login(client, who)}


async def test_tags_and_the_tag_search(client: httpx.AsyncClient, sm: SessionMaker,
                                       org: dict[str, int]) -> None:
    conv = await _ticket(sm, org)
    other = await _ticket(sm, org, email="bob@acme.test")
    h = await _agent(client)
    url = f"/api/conversations/{conv.id}/tags"
    r = await client.patch(url, headers=h, json={"add": ["Billing", "urgent", "billing"]})
    assert r.status_code == 200, r.text
    assert r.json() == {"tags": ["billing", "urgent"]}
    for bad in [{}, {"add": "x"}, {"add": ["a,b"]}, {"add": ["x" * 65]},
                {"add": [f"t{i}" for i in range(21)]}]:
        r = await client.patch(url, headers=h, json=bad)
        assert r.status_code == 422, bad
        assert r.json()["error"]["message"]
    assert (await client.get(f"/api/conversations/{conv.id}")).json()["tags"] == [
        "billing", "urgent"]
    found = (await client.get("/api/conversations/search?tag=Billing")).json()
    assert [c["id"] for c in found["items"]] == [conv.id]
    both = await client.get("/api/conversations/search?tag=billing&tag=nope")
    assert both.json()["items"] == []
    r = await client.patch(url, headers=h, json={"remove": ["urgent"]})
    assert r.json() == {"tags": ["billing"]}
    assert other.id not in [c["id"] for c in (await client.get(
        "/api/conversations/search?tag=billing")).json()["items"]]
    async with sm() as s:
        actions = (await s.scalars(select(AuditEvent.action).where(
            AuditEvent.target == f"conversation:{conv.id}"))).all()
    assert actions.count("conversation.tags") == 2
    # Another group's ticket: 403, nothing written.
    theirs = await _ticket(sm, org, email="carl@acme.test", group="gb")
    r = await client.patch(f"/api/conversations/{theirs.id}/tags", headers=h,
                           json={"add": ["x"]})
    assert r.status_code == 403


async def test_custom_fields_and_required_before_resolving(
        client: httpx.AsyncClient, sm: SessionMaker, org: dict[str, int]) -> None:
    conv = await _ticket(sm, org)
    admin = await _agent(client, "admin@x.test")
    bad = await client.put(f"/api/departments/{org['d1']}/fields", headers=admin,
                           json={"fields": [{"name": "plan", "type": "select"}]})
    assert bad.status_code == 422 and "options" in bad.json()["error"]["message"]
    r = await client.put(f"/api/departments/{org['d1']}/fields", headers=admin,
                         json={"fields": FIELDS})
    assert r.status_code == 200, r.text
    h = await _agent(client)
    url = f"/api/conversations/{conv.id}/fields"
    for body, field in [({"fields": {"units": "five"}}, "units"),
                        ({"fields": {"plan": "gold"}}, "plan"),
                        ({"fields": {"since": "2026-02-30"}}, "since"),
                        ({"fields": {"onsite": "yes"}}, "onsite"),
                        ({"fields": {"nope": 1}}, "nope"),
                        ({"fields": {"units": 3, "plan": "gold"}}, "plan")]:
        r = await client.patch(url, headers=h, json=body)
        assert r.status_code == 400, body
        assert r.json()["error"]["field"] == f"fields.{field}", r.text
    async with sm() as s:  # no partial write: units stayed unset
        row = await s.get(Conversation, conv.id)
        assert row is not None and "units" not in row.custom_fields
    # Resolving waits for the required field.
    r = await client.patch(f"/api/conversations/{conv.id}", headers=h,
                           json={"status": "resolved"})
    assert r.status_code == 409 and "Order number" in r.json()["error"]["message"]
    r = await client.patch(url, headers=h, json={"fields": {
        "order": "A-17", "units": 3, "plan": "pro", "since": "2026-01-31", "onsite": True}})
    assert r.status_code == 200, r.text
    view = (await client.get(f"/api/conversations/{conv.id}")).json()
    assert {f["name"]: f["value"] for f in view["fields"]} == {
        "order": "A-17", "units": 3, "plan": "pro", "since": "2026-01-31", "onsite": True}
    found = (await client.get("/api/conversations/search?field=order:A-17")).json()
    assert [c["id"] for c in found["items"]] == [conv.id]
    # A resolution note only with resolving; then it is kept.
    r = await client.patch(f"/api/conversations/{conv.id}", headers=h,
                           json={"resolution_note": "Replaced the toner"})
    assert r.status_code == 422
    r = await client.patch(f"/api/conversations/{conv.id}", headers=h,
                           json={"status": "resolved", "resolution_note": "Replaced the toner"})
    assert r.status_code == 200, r.text
    assert r.json()["resolution_note"] == "Replaced the toner"
    # Clearing a field with null.
    r = await client.patch(url, headers=h, json={"fields": {"units": None}})
    assert "units" not in r.json()["custom_fields"]


async def test_copies_on_replies(client: httpx.AsyncClient, sm: SessionMaker,
                                 org: dict[str, int], settings: Settings,
                                 tmp_path: Path) -> None:
    conv = await _ticket(sm, org)
    h = await _agent(client)
    url = f"/api/conversations/{conv.id}/cc"
    for bad in [{"cc": "a@b.test"}, {"cc": ["not an address"]}, {"cc": ["eve@acme.test"]},
                {"cc": [f"p{i}@b.test" for i in range(11)]}]:
        r = await client.put(url, headers=h, json=bad)
        assert r.status_code == 422, bad
    r = await client.put(url, headers=h, json={"cc": ["Boss@Acme.test", "it@acme.test"]})
    assert r.json() == {"cc": ["boss@acme.test", "it@acme.test"]}
    assert (await client.get(f"/api/conversations/{conv.id}")).json()["cc"] == [
        "boss@acme.test", "it@acme.test"]
    r = await client.put(url, headers=h, json={"cc": ["boss@acme.test"]})
    assert r.json() == {"cc": ["boss@acme.test"]}
    async with sm() as s:  # the address dropped stays a participant: its replies thread
        roles = dict((await s.execute(select(EmailParticipant.email, EmailParticipant.role)
                                      .where(EmailParticipant.conversation_id == conv.id))).all())
    assert roles == {"boss@acme.test": "cc", "it@acme.test": "mail"}
    chat = await create_conversation(sm, channel="chat", group_id=org["ga"])
    r = await client.put(f"/api/conversations/{chat.id}/cc", headers=h, json={"cc": []})
    assert r.status_code == 409

    # The reply mail: the customer To, the copy Cc, and no signed case link in it.
    reply = await client.post(f"/api/conversations/{conv.id}/messages", headers=h,
                              json={"body": "The toner is on its way."})
    assert reply.json()["mailed"] is True
    sink = Sink()
    mailing = settings.with_(smtp_host="127.0.0.1", smtp_port=sink.port)
    queued = await jobs.queue_reply(sm, mailing, conv.id, reply.json()["seq"])
    assert queued is not None
    with running_sink(sink):
        assert await outbound.send(sm, mailing, queued.outbound_id) == "sent"
    envelope = sink.messages[0]
    assert sorted(envelope.rcpt_tos) == ["boss@acme.test", "eve@acme.test"]
    mail = message_from_bytes(_content(envelope), policy=default)
    assert mail["Cc"] == "boss@acme.test" and mail["To"] == "eve@acme.test"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "The toner is on its way." in text and "/c/" not in text


async def test_forward_and_the_outsiders_answer(client: httpx.AsyncClient, sm: SessionMaker,
                                                org: dict[str, int], settings: Settings,
                                                tmp_path: Path, redis: Redis) -> None:
    conv = await _ticket(sm, org)
    h = await _agent(client)
    url = f"/api/conversations/{conv.id}/forward"
    for bad in [{}, {"to": "nope"}, {"to": "eve@acme.test"}, {"to": "x@y.test", "seq": 99},
                {"to": "x@y.test", "note": "n" * 2001}]:
        r = await client.post(url, headers=h, json=bad)
        assert r.status_code == 422, bad
    r = await client.post(url, headers=h, json={"to": "Vendor@Parts.test",
                                                "note": "Can you ship a toner?"})
    assert r.status_code == 202, r.text
    async with sm() as s:
        event = (await s.scalars(select(AuditEvent).where(
            AuditEvent.action == "conversation.forwarded"))).one()
        note = (await s.scalars(select(Message).where(
            Message.conversation_id == conv.id, Message.seq == r.json()["note_seq"]))).one()
    assert event.data["to"] == "vendor@parts.test" and note.visibility == "internal"
    sink = Sink()
    mailing = settings.with_(smtp_host="127.0.0.1", smtp_port=sink.port)
    queued = await jobs.queue_forward(sm, mailing, event.id)
    assert queued is not None
    again = await jobs.queue_forward(sm, mailing, event.id)
    assert again is not None and again.outbound_id == queued.outbound_id
    with running_sink(sink):
        assert await outbound.send(sm, mailing, queued.outbound_id) == "sent"
    sent = message_from_bytes(_content(sink.messages[0]), policy=default)
    assert sink.messages[0].rcpt_tos == ["vendor@parts.test"]
    assert conv.number in str(sent["Subject"])
    body = sent.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Can you ship a toner?" in body and "first" in body and "/c/" not in body

    # The vendor answers by mail: it joins the ticket, for staff only.
    done = await _mail_in(sm, org, mailing, tmp_path,
                          f"From: Vendor <vendor@parts.test>\r\nTo: support@desk.test\r\n"
                          f"Subject: Re: {sent['Subject']}\r\n"
                          f"Message-ID: <answer@parts.test>\r\n"
                          f"In-Reply-To: {sent['Message-ID']}\r\n\r\nShipped today.\r\n")
    assert done.status == "reply" and done.conversation_id == conv.id
    async with sm() as s:
        answer = (await s.scalars(select(Message).where(
            Message.email_message_id == "<answer@parts.test>"))).one()
    assert answer.conversation_id == conv.id and answer.visibility == "internal"


async def test_forward_is_budgeted(client: httpx.AsyncClient, sm: SessionMaker,
                                   org: dict[str, int], settings: Settings,
                                   redis: Redis) -> None:
    conv = await _ticket(sm, org)
    h = await _agent(client)
    # Per recipient, and per agent (the requester) across recipients.
    budget = min(settings.mail_per_recipient_per_hour, settings.mail_per_client_per_hour)
    answers = [(await client.post(f"/api/conversations/{conv.id}/forward", headers=h,
                                  json={"to": "vendor@parts.test"})).status_code
               for _ in range(budget + 1)]
    assert answers == [202] * budget + [429]
    async with sm() as s:
        forwards = (await s.scalars(select(AuditEvent.id).where(
            AuditEvent.action == "conversation.forwarded"))).all()
    assert len(forwards) == budget  # the refused one wrote nothing


async def test_merge(client: httpx.AsyncClient, sm: SessionMaker, org: dict[str, int],
                     tmp_path: Path, settings: Settings) -> None:
    survivor = await _ticket(sm, org, texts=("s1", "s2"))
    merged = await _ticket(sm, org, contact_id=survivor.contact_id, texts=("m1", "m2", "m3"))
    stranger = await _ticket(sm, org, email="mallory@else.test")
    theirs = await _ticket(sm, org, contact_id=survivor.contact_id, group="gb")
    h = await _agent(client)
    url = f"/api/conversations/{merged.id}/merge"
    assert (await client.post(url, headers=h, json={})).status_code == 422
    assert (await client.post(url, headers=h, json={"into": merged.id})).status_code == 422
    assert (await client.post(url, headers=h, json={"into": "SB-0000000"})).status_code == 404
    r = await client.post(url, headers=h, json={"into": stranger.id})
    assert r.status_code == 403 and "same customer" in r.json()["error"]["message"]
    assert (await client.post(url, headers=h, json={"into": theirs.id})).status_code == 403
    await client.patch(f"/api/conversations/{merged.id}/tags", headers=h, json={"add": ["vip"]})
    r = await client.post(url, headers=h, json={"into": survivor.number})
    assert r.status_code == 200, r.text
    assert r.json()["moved"] == 3 and r.json()["id"] == survivor.id
    view = (await client.get(f"/api/conversations/{survivor.id}")).json()
    assert [m["body"] for m in view["messages"]] == ["s1", "s2", "m1", "m2", "m3"]
    assert [m["seq"] for m in view["messages"]] == [1, 2, 3, 4, 5]
    assert view["tags"] == ["vip"]
    old = (await client.get(f"/api/conversations/{merged.id}")).json()
    assert old["status"] == "closed" and old["merged_into"] == survivor.number
    assert old["messages"] == []
    # Both numbers find the survivor.
    for number in (merged.number, survivor.number):
        found = (await client.get(f"/api/conversations/search?number={number}")).json()
        assert survivor.id in [c["id"] for c in found["items"]], number
    again = await client.post(url, headers=h, json={"into": survivor.id})
    assert again.status_code == 409
    timeline = (await client.get(f"/api/conversations/{survivor.id}/timeline")).json()
    assert "conversation.merged_in" in [e["action"] for e in timeline]
    # A reply by mail naming the merged number continues the survivor.
    done = await _mail_in(sm, org, settings, tmp_path,
                          f"From: Eve <eve@acme.test>\r\nTo: support@desk.test\r\n"
                          f"Subject: Re: Printer [{merged.number}]\r\n"
                          f"Message-ID: <late@acme.test>\r\n\r\nStill broken.\r\n")
    assert done.status == "reply" and done.conversation_id == survivor.id
    # The customer's link to the merged case opens the survivor.
    async with sm() as s:
        eve = await s.get(Contact, survivor.contact_id)
    assert eve is not None
    token = portal.issue(settings, Kind.CASE, eve, 600, time.time(), number=merged.number)
    case = await client.get(f"/api/portal/cases/{merged.number}",
                            headers={"authorization": f"Bearer {token}"})
    assert case.status_code == 200, case.text
    assert case.json()["number"] == survivor.number
    assert [m["text"] for m in case.json()["messages"]][-1] == "Still broken."


async def test_required_fields_hold_the_survivors_resolve_not_the_merge(
        client: httpx.AsyncClient, sm: SessionMaker, org: dict[str, int]) -> None:
    """A merge closes its source only because its messages moved: the survivor, not the
    duplicate, answers to the required-before-close rule (``ticket_work.require_fields``)."""
    survivor = await _ticket(sm, org, texts=("s1",))
    merged = await _ticket(sm, org, contact_id=survivor.contact_id, texts=("m1",))
    admin = await _agent(client, "admin@x.test")
    r = await client.put(f"/api/departments/{org['d1']}/fields", headers=admin,
                         json={"fields": FIELDS})
    assert r.status_code == 200, r.text
    h = await _agent(client)
    url = f"/api/conversations/{merged.id}/merge"
    r = await client.post(url, headers=h, json={"into": survivor.id})
    assert r.status_code == 200, r.text
    old = (await client.get(f"/api/conversations/{merged.id}")).json()
    assert old["status"] == "closed" and old["merged_into"] == survivor.number
    done = f"/api/conversations/{survivor.id}"
    r = await client.patch(done, headers=h, json={"status": "resolved"})
    assert r.status_code == 409 and "Order number" in r.json()["error"]["message"]
    await client.patch(f"{done}/fields", headers=h, json={"fields": {"order": "A-1"}})
    assert (await client.patch(done, headers=h, json={"status": "resolved"})).status_code == 200


async def test_split(client: httpx.AsyncClient, sm: SessionMaker, org: dict[str, int]) -> None:
    conv = await _ticket(sm, org, texts=("a", "b", "c", "d"))
    h = await _agent(client)
    url = f"/api/conversations/{conv.id}/split"
    for bad in [{}, {"seq": 1}, {"seq": 9}, {"seq": "3"}]:
        r = await client.post(url, headers=h, json=bad)
        assert r.status_code == 422, bad
    r = await client.post(url, headers=h, json={"seq": 3})
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["parent_id"] == conv.id and new["moved"] == 2 and new["status"] == "queued"
    child = (await client.get(f"/api/conversations/{new['id']}")).json()
    assert [(m["seq"], m["body"]) for m in child["messages"]] == [(1, "c"), (2, "d")]
    left = (await client.get(f"/api/conversations/{conv.id}")).json()
    assert [m["body"] for m in left["messages"]] == ["a", "b"]
    # A reply on the original follows its last seq (no seq is ever handed out twice).
    r = await client.post(f"/api/conversations/{conv.id}/messages", headers=h,
                          json={"body": "more", "visibility": "internal"})
    assert r.json()["seq"] == 5
    r = await client.post(f"/api/conversations/{new['id']}/messages", headers=h,
                          json={"body": "child reply", "visibility": "internal"})
    assert r.json()["seq"] == 3
    linked = (await client.get(f"/api/conversations/{conv.id}/customer")).json()["linked"]
    assert [(k["id"], k["relation"]) for k in linked] == [(new["id"], "child")]
    async with sm() as s:
        await s.execute(update(Department).where(Department.id == org["d1"]).values(fields=[]))
        await s.commit()
        assert (await s.scalars(select(OutboundMail))).all() == []


async def test_previous_resolutions(client: httpx.AsyncClient, sm: SessionMaker,
                                    org: dict[str, int]) -> None:
    h = await _agent(client)
    toner = await _ticket(sm, org, texts=("The printer shows a toner error",))
    wifi = await _ticket(sm, org, email="bob@acme.test", texts=("Wifi drops every hour",),
                         subject="Wifi")
    unrelated = await _ticket(sm, org, email="dan@acme.test", texts=("Invoice address",),
                              subject="Invoice")
    theirs = await _ticket(sm, org, email="carl@acme.test", group="gb",
                           texts=("Printer toner error again",))
    for conv, note in [(toner, "Reset the toner counter"), (wifi, "New router firmware"),
                       (unrelated, "Changed the address"), (theirs, "Not for group A")]:
        async with sm() as s:
            await s.execute(update(Conversation).where(Conversation.id == conv.id)
                            .values(status="resolved", resolution_note=note))
            await s.commit()
    current = await _ticket(sm, org, email="fay@acme.test", subject="Help",
                            texts=("Our printer has a toner error since Monday",))
    view = (await client.get(f"/api/conversations/{current.id}/customer")).json()
    found = [(r["number"], r["note"]) for r in view["resolutions"]]
    assert found[0] == (toner.number, "Reset the toner counter")
    assert theirs.number not in [n for n, _ in found]  # another group's: never shown
    assert unrelated.number not in [n for n, _ in found]
    # Resolving with a note puts it among them.
    r = await client.patch(f"/api/conversations/{current.id}", headers=h,
                           json={"status": "resolved", "resolution_note": "Toner swapped"})
    assert r.status_code == 200, r.text
    view = (await client.get(f"/api/conversations/{toner.id}/customer")).json()
    assert (current.number, "Toner swapped") in [(x["number"], x["note"])
                                                 for x in view["resolutions"]]


async def test_a_forward_whose_job_was_lost_is_enqueued_by_the_sweep(
        client: httpx.AsyncClient, sm: SessionMaker, org: dict[str, int], settings: Settings,
        redis: Redis) -> None:
    conv = await _ticket(sm, org, texts=("the customer's only mail",))
    h = await _agent(client)
    r = await client.post(f"/api/conversations/{conv.id}/forward", headers=h,
                          json={"to": "vendor@parts.test"})
    assert r.status_code == 202
    await redis.flushdb()  # the job is lost with Redis
    async with sm() as s:
        event_id = (await s.scalars(select(AuditEvent.id).where(
            AuditEvent.action == "conversation.forwarded"))).one()
    queue = jobs.mail_queue(SyncRedis.from_url(settings.redis_url or ""))
    assert await jobs.requeue_unmailed(sm, queue, grace_s=0) == 1
    assert f"forward-{event_id}" in queue.job_ids
    queued = await jobs.queue_forward(sm, settings, event_id)  # what the job does
    assert queued is not None
    assert await jobs.requeue_unmailed(sm, queue, grace_s=0) == 0  # stored now: nothing to do
    queue.connection.close()

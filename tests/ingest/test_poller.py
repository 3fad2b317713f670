"""The poller against a real Dovecot, real Redis and the records."""

from __future__ import annotations

import time
from collections.abc import Sequence

import redis.asyncio as aioredis
from sqlalchemy import select, update

from desk.models import (
    AuditEvent,
    Contact,
    Conversation,
    InboundMail,
    Mailbox,
    Message,
    OutboundMail,
)
from ingest.imap import ImapConfig, ImapSession
from ingest.mime import Limits
from ingest.poller import PollerConfig
from tests.ingest import corpus
from tests.ingest.conftest import Records
from tests.ingest.harness import conversations, count, eventually, inbound, messages, running
from tests.support.dovecot import Dovecot


async def test_new_mail_becomes_routed_ticket_and_is_seen(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis
) -> None:
    box = await records.mailbox(dovecot, rules=[{"keyword": "fire", "priority": 1,
                                                 "skills": {"hardware": 2}}])
    dovecot.deliver(corpus.simple(subject="Printer on fire", body="Help!\nNow."))
    async with running(records, redis, box) as run:
        await eventually(lambda: run.routed)
        await run.poller.synced.wait()
    (conv,) = await conversations(records)
    assert run.routed == [conv.id]
    assert (conv.channel, conv.status, conv.priority) == ("email", "queued", 1)
    assert conv.required_skills == {"hardware": 2} and conv.number.startswith("SB-")
    (msg,) = await messages(records, conv.id)
    assert (msg.author_kind, msg.visibility, msg.body) == ("contact", "public", "Help!\nNow.")
    assert msg.email_message_id == "<m1@example.org>"
    assert [a.conversation_id for a in run.acked] == [conv.id]
    flags = await _flags(dovecot)
    assert all("\\Seen" in f for f in flags.values())


async def test_reply_threading_and_spoofed_reply(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis
) -> None:
    box = await records.mailbox(dovecot)
    dovecot.deliver(corpus.simple())
    async with running(records, redis, box) as run:
        await eventually(lambda: len(run.routed) == 1)
        (conv,) = await conversations(records)
        # By number in the subject, from the customer: joins.
        dovecot.deliver(corpus.simple(subject=f"Re: Printer [{conv.number}]",
                                      message_id="<m2@example.org>", body="by number"))
        # By In-Reply-To only, from the customer: joins.
        dovecot.deliver(corpus.simple(subject="Re: whatever", message_id="<m3@example.org>",
                                      extra="In-Reply-To: <m1@example.org>", body="by ref"))
        # Same number, but a stranger: a new ticket linked to the first, never a reply on it.
        dovecot.deliver(corpus.simple(sender="Mallory <mallory@evil.example>",
                                      subject=f"Re: [{conv.number}]",
                                      message_id="<m4@evil.example>", body="spoof"))
        # Claims to be an agent: still only a contact message.
        dovecot.deliver(corpus.simple(sender="Agent <support@desk.example>",
                                      subject="Re: x", message_id="<m5@evil.example>",
                                      extra="In-Reply-To: <m1@example.org>", body="fake agent"))
        await eventually(lambda: _n(records, 5))
    convs = await conversations(records)
    assert len(convs) == 3
    bodies = [m.body for m in await messages(records, conv.id)]
    assert bodies == ["It is really on fire.", "by number", "by ref"]
    children = [c for c in convs if c.parent_id == conv.id]
    firsts = {(await messages(records, c.id))[0].body for c in children}
    assert firsts == {"spoof", "fake agent"}
    async with records.sm() as s:
        kinds = set((await s.execute(select(Message.author_kind))).scalars())
    assert kinds == {"contact"}


async def test_auto_replies_stored_not_acknowledged_and_bounce_marks_recipient(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis
) -> None:
    box = await records.mailbox(dovecot)
    files = corpus.files()
    dovecot.deliver(corpus.simple(sender="gone@example.net", message_id="<first@example.net>"))
    async with running(records, redis, box) as run:
        await eventually(lambda: len(run.routed) == 1)
        (conv,) = await conversations(records)
        async with records.sm() as s:
            s.add(OutboundMail(message_id="<original-notification@desk.example>",
                               conversation_id=conv.id, kind="created",
                               to_address="gone@example.net", subject="x", body="x",
                               status="sent"))
            await s.commit()
        for name in ("auto_reply_ooo.eml", "bulk_newsletter.eml", "bounce_dsn.eml"):
            dovecot.deliver(files[name])
        await eventually(lambda: _n(records, 4))
    assert len(run.acked) == 1  # only the first, human mail
    statuses = sorted(i.status for i in await inbound(records))
    assert statuses == ["bounce", "ticket", "ticket", "ticket"]
    async with records.sm() as s:
        contact = (await s.execute(select(Contact).where(Contact.email == "gone@example.net"))
                   ).scalar_one()
        out = (await s.execute(select(OutboundMail))).scalar_one()
    assert contact.undeliverable and out.status == "bounced"
    notes = [m for m in await messages(records, conv.id) if m.author_kind == "system"]
    assert len(notes) == 1 and "5.1.1" in notes[0].body and notes[0].visibility == "internal"


async def _n(records: Records, n: int) -> bool:
    return await count(records, InboundMail) == n


async def test_duplicates_and_crash_before_seen_give_one_ticket_each(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis
) -> None:
    box = await records.mailbox(dovecot)
    dovecot.deliver(corpus.simple())
    dovecot.deliver(corpus.simple())  # same Message-ID again
    anon = corpus.simple(message_id=None, subject="anonymous")
    dovecot.deliver(anon)
    dovecot.deliver(anon)  # same bytes, no Message-ID: content hash
    async with running(records, redis, box) as run:
        await run.poller.synced.wait()
    assert len(await conversations(records)) == 2
    # Crash between the commit and \Seen, and the cursor lost too: everything is re-read.
    async with records.sm() as s:
        await s.execute(update(Mailbox).values(last_uid=0))
        await s.commit()
    await _unseen_all(dovecot)
    async with running(records, redis, box) as run:
        await run.poller.synced.wait()
    assert len(await conversations(records)) == 2
    assert await count(records, InboundMail) == 2


async def test_uidvalidity_change_rescans_without_duplicates(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis
) -> None:
    box = await records.mailbox(dovecot)
    for i in range(3):
        dovecot.deliver(corpus.simple(message_id=f"<u{i}@example.org>"))
    async with running(records, redis, box) as run:
        await run.poller.synced.wait()
    async with records.sm() as s:
        before = (await s.get(Mailbox, box)).uidvalidity  # type: ignore[union-attr]
    dovecot.reset_uidvalidity()
    dovecot.deliver(corpus.simple(message_id="<after@example.org>"))
    async with running(records, redis, box) as run:
        await eventually(lambda: _n(records, 4))
    async with records.sm() as s:
        row = await s.get(Mailbox, box)
    assert row is not None and row.uidvalidity != before and row.last_uid == 4
    assert len(await conversations(records)) == 4


async def test_oversize_and_poison_quarantined_mailbox_keeps_moving(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis
) -> None:
    box = await records.mailbox(dovecot)
    dovecot.deliver(corpus.simple(message_id="<big@example.org>", body="x" * 900_000))
    dovecot.deliver(corpus.nested_multiparts(2000))
    dovecot.deliver(corpus.empty_parts(100_000))
    dovecot.deliver(corpus.simple(message_id="<fine@example.org>"))
    config = PollerConfig(limits=Limits(max_bytes=800_000), backoff_max_s=1.0)
    async with running(records, redis, box, config) as run:
        await eventually(lambda: _n(records, 4))
        await run.poller.synced.wait()
    rows = {i.message_key: i for i in await inbound(records)}
    assert rows["<big@example.org>"].status == "quarantined"
    assert rows["<big@example.org>"].raw is None  # never downloaded
    assert "exceeds" in (rows["<big@example.org>"].error or "")
    for key in ("<deep@example.org>", "<many@example.org>"):
        assert rows[key].status == "quarantined" and rows[key].raw
    assert rows["<fine@example.org>"].status == "ticket"
    assert await count(records, AuditEvent, AuditEvent.action == "mail.quarantined") == 3
    assert len(await conversations(records)) == 1


async def test_server_killed_during_idle_reconnects(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis
) -> None:
    box = await records.mailbox(dovecot)
    async with running(records, redis, box) as run:
        await run.poller.synced.wait()
        dovecot.kill()  # SIGKILL while the poller sits in IDLE
        dovecot.start()
        dovecot.deliver(corpus.simple(message_id="<after-kill@example.org>"))
        await eventually(lambda: run.routed, within_s=20)
    async with records.sm() as s:
        assert (await s.execute(select(Conversation))).scalar_one()


async def test_one_poller_per_mailbox_with_takeover(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis
) -> None:
    box = await records.mailbox(dovecot)
    dovecot.deliver(corpus.simple())
    config = PollerConfig(lease_ttl_ms=600, backoff_max_s=0.5)
    async with running(records, redis, box, config) as first:
        await first.poller.synced.wait()
        async with running(records, redis, box, config) as second:
            await eventually(lambda: True)
            assert not second.poller.synced.is_set()
            first_done = first  # leaving the outer block stops the first poller
        assert first_done.routed
    async with running(records, redis, box, config) as third:
        await third.poller.synced.wait()
    assert len(await conversations(records)) == 1


async def _flags(server: Dovecot) -> dict[int, frozenset[str]]:
    session = ImapSession(ImapConfig("127.0.0.1", server.port, server.user, server.password,
                                     security="none", timeout_s=5))
    await session.connect()
    items = await session.fetch_headers(1, 1000)
    await session.close()
    return {i.uid: i.flags for i in items}


async def _unseen_all(server: Dovecot) -> None:
    session = ImapSession(ImapConfig("127.0.0.1", server.port, server.user, server.password,
                                     security="none", timeout_s=5))
    await session.connect()
    await session.client.uid("store", "1:*", "-FLAGS.SILENT", r"(\Seen)")
    await session.close()


async def test_new_ticket_handed_to_the_real_router(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis
) -> None:
    from routing.router import Router

    box = await records.mailbox(dovecot)
    dovecot.deliver(corpus.simple())
    router = Router(records.settings, redis, records.sm)
    async with running(records, redis, box) as run:
        run.poller.route = router.enqueue_many
        await eventually(lambda: _decided(records))
    (conv,) = await conversations(records)
    assert conv.status == "queued" and conv.group_id is not None


async def test_ticket_committed_but_not_routed_is_swept_into_its_queue(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis
) -> None:
    # The poller dies between committing a ticket and routing it: the routing timers' sweep
    # queues it from the records (routing.router.Router._sweep).
    from routing.router import SWEEP_S, Router

    now = [time.time()]
    router = Router(records.settings, redis, records.sm, clock=lambda: now[0])
    await router.rebuild()  # live routing state exists before the ticket does
    box = await records.mailbox(dovecot)
    dovecot.deliver(corpus.simple())

    async def die(_: Sequence[int]) -> None:
        raise ConnectionError("the poller died before routing")

    async with running(records, redis, box) as run:
        run.poller.route = die
        await eventually(lambda: _n(records, 1))
    (conv,) = await conversations(records)
    assert conv.status == "queued" and await router.store.conv(conv.id) is None
    for _ in range(3):
        now[0] += SWEEP_S + 1
        await router.tick()
    held = await router.store.conv(conv.id)
    assert held is not None and held.state == "queued"  # nobody online: waits in its queue
    assert [d["action"] for d in await router.explain(conv.id)] == ["queued"]


async def _decided(records: Records) -> bool:
    from desk.models import RoutingDecision
    return await count(records, RoutingDecision) >= 1


async def test_batch_of_senderless_mails_becomes_unanswered_tickets(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis
) -> None:
    box = await records.mailbox(dovecot)
    dovecot.deliver(corpus.files()["no_headers_at_all.eml"])
    dovecot.deliver(corpus.files()["ambiguous_from.eml"])
    async with running(records, redis, box) as run:
        await eventually(lambda: _n(records, 2))
        await run.poller.synced.wait()
    convs = await conversations(records)
    assert len(convs) == 2 and all(c.contact_id is None for c in convs)
    assert run.acked == []
    assert {(await messages(records, c.id))[0].visibility for c in convs} == {"internal"}

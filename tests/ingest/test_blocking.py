"""No mail can block a mailbox (issue 10, item 10): against a real Dovecot, on the database of
the run (``SWITCHBOARD_TEST_DB=postgres`` is where VARCHAR lengths and NUL are enforced).

A mail the database refuses is simulated with a real trigger that rejects one body, so the
failure comes from the database itself, inside a chunk of good mails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select, text

from desk.limits import EMAIL_MAX
from desk.models import AuditEvent, Contact, EmailParticipant, InboundMail, Mailbox
from tests.ingest import corpus
from tests.ingest.conftest import Records
from tests.ingest.harness import conversations, count, eventually, inbound, messages, running
from tests.support.dovecot import Dovecot

LONG = "x" * (262 - len("@example.org")) + "@example.org"  # 262 characters
PILL = "POISON-PILL"


async def _imported(records: Records, n: int) -> bool:
    return await count(records, InboundMail) == n


async def _mailbox(records: Records, box: int) -> Mailbox:
    async with records.sm() as s:
        row = await s.get(Mailbox, box)
    assert row is not None
    return row


async def test_long_addresses_nul_and_surrogates_import(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis
) -> None:
    assert len(LONG) == 262 and len(LONG) > EMAIL_MAX
    box = await records.mailbox(dovecot)
    dovecot.deliver(corpus.simple(sender=f"Long <{LONG}>", message_id="<long@example.org>",
                                  extra=f"Cc: {LONG}"))
    dovecot.deliver(corpus.simple(
        message_id="<nul@example.org>", subject="=?utf-7?q?+2D0-?= nul=?utf-8?q?=00?=end",
        # Dovecot turns a raw NUL byte into 0x80; an encoded one reaches the parser as NUL.
        extra=f"Cc: {LONG}, Bob <bob@example.org>\nContent-Transfer-Encoding: quoted-printable",
        body="before=00after"))
    dovecot.deliver(corpus.simple(message_id="<good@example.org>", subject="fine"))
    async with running(records, redis, box) as run:
        await eventually(lambda: _imported(records, 3))
        await run.poller.synced.wait()
    rows = {i.message_key: i for i in await inbound(records)}
    assert {r.status for r in rows.values()} == {"ticket"}
    long_conv, nul_conv, good = await conversations(records)
    # An address longer than any path is nobody's: no contact, never answered, noise.
    assert long_conv.contact_id is None and long_conv.status == "noise"
    assert nul_conv.subject == "\ufffd nul\ufffdend" and nul_conv.status == "queued"
    (msg,) = await messages(records, nul_conv.id)
    assert msg.body == "before\ufffdafter"
    async with records.sm() as s:
        people = set((await s.execute(select(EmailParticipant.email))).scalars())
        emails = set((await s.execute(select(Contact.email))).scalars())
    assert LONG not in people and {"alice@example.org", "bob@example.org"} <= people
    assert emails == {"alice@example.org"}
    assert (await _mailbox(records, box)).last_uid == 3
    assert sorted(run.routed) == [nul_conv.id, good.id]


@pytest.fixture
async def refusing_db(records: Records) -> AsyncIterator[None]:
    """The database refuses to store any message whose body holds ``PILL``."""
    sqlite = records.settings.database_url.startswith("sqlite")
    async with records.sm() as s:
        if sqlite:
            await s.execute(text(
                "CREATE TRIGGER sb_test_refuse BEFORE INSERT ON messages "
                f"WHEN NEW.body LIKE '%{PILL}%' BEGIN SELECT RAISE(ABORT, 'refused'); END"))
        else:
            await s.execute(text(
                "CREATE FUNCTION sb_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.body LIKE '%{PILL}%' THEN RAISE EXCEPTION 'refused'; END IF; "
                "RETURN NEW; END $$"))
            await s.execute(text(
                "CREATE TRIGGER sb_test_refuse BEFORE INSERT ON messages FOR EACH ROW "
                "EXECUTE FUNCTION sb_test_refuse()"))
        await s.commit()
    try:
        yield
    finally:
        async with records.sm() as s:
            if sqlite:
                await s.execute(text("DROP TRIGGER sb_test_refuse"))
            else:
                await s.execute(text("DROP TRIGGER sb_test_refuse ON messages"))
                await s.execute(text("DROP FUNCTION sb_test_refuse()"))
            await s.commit()


async def test_refused_mail_between_good_ones_is_quarantined_and_the_cursor_moves(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis, refusing_db: None
) -> None:
    box = await records.mailbox(dovecot)
    dovecot.deliver(corpus.simple(message_id="<g1@example.org>", subject="one"))
    bad = corpus.simple(message_id="<bad@example.org>", body=f"take the {PILL}")
    dovecot.deliver(bad)
    dovecot.deliver(corpus.simple(message_id="<g2@example.org>", subject="two"))
    async with running(records, redis, box) as run:
        await eventually(lambda: _imported(records, 3))
        await run.poller.synced.wait()
        row = await _mailbox(records, box)
        assert row.last_uid == 3
        assert row.last_error and "UID 2 quarantined" in row.last_error
        # The mailbox goes on: a later mail is imported by the same poller.
        dovecot.deliver(corpus.simple(message_id="<g3@example.org>", subject="three"))
        await eventually(lambda: _imported(records, 4))
    rows = {i.message_key: i for i in await inbound(records)}
    assert rows["<bad@example.org>"].status == "quarantined"
    assert rows["<bad@example.org>"].raw == bad
    assert "import failed" in (rows["<bad@example.org>"].error or "")
    assert [rows[k].status for k in ("<g1@example.org>", "<g2@example.org>",
                                     "<g3@example.org>")] == ["ticket"] * 3
    assert [c.subject for c in await conversations(records)] == ["one", "two", "three"]
    assert len(run.routed) == 3
    assert await count(records, AuditEvent, AuditEvent.action == "mail.quarantined") == 1
    assert (await _mailbox(records, box)).last_uid == 4

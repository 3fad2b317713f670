"""Which contact a widget request joins (``desk.contacts.find_visitor`` / ``join_visitor``),
on the records: identity first, then an anonymous token, then the browser's visitor id."""

from __future__ import annotations

import hashlib

from desk.contacts import (
    VisitorClaim,
    contact_for_email,
    find_visitor,
    is_verified,
    join_visitor,
    new_visitor,
    note_typed,
    priority_for,
    reply_address,
)
from desk.db import SessionMaker
from desk.identity import HostIdentity
from desk.models import Contact, Organisation, Site


async def _sites(sm: SessionMaker) -> tuple[int, int]:
    async with sm() as s:
        a, b = Site(key="a", name="A"), Site(key="b", name="B")
        s.add_all([a, b, Organisation(name="Acme", domains=["acme.example"], priority=0)])
        await s.commit()
        return a.id, b.id


async def join(sm: SessionMaker, claim: VisitorClaim) -> tuple[Contact, str | None]:
    return await join_visitor(sm, claim, await find_visitor(sm, claim))


def key(visitor_id: str) -> str:
    return hashlib.sha256(visitor_id.encode()).hexdigest()


async def test_a_verified_identity_finds_or_makes_one_contact_per_site(sm: SessionMaker) -> None:
    a, b = await _sites(sm)
    al = HostIdentity("42", "al@acme.example", "Al")
    first, vid = await join(sm, VisitorClaim(a, identity=al))
    assert vid is None and is_verified(first) and first.email_verified
    assert (first.site_id, first.external_id, first.name) == (a, "42", "Al")
    assert await priority_for(sm, first.id) == 0  # the organisation's tier comes with it
    again, _ = await join(sm, VisitorClaim(a, identity=HostIdentity("42", None)))
    assert again.id == first.id and again.email == "al@acme.example"
    # The same user id on another site is another site's user.
    other, _ = await join(sm, VisitorClaim(b, identity=HostIdentity("42", None)))
    assert other.id != first.id
    # The site vouches for its user's current address.
    moved, _ = await join(sm, VisitorClaim(a, identity=HostIdentity("42", "al@new.example")))
    assert moved.id == first.id and moved.email == "al@new.example" and moved.email_verified


async def test_an_identity_joins_the_verified_contact_its_email_already_has(
        sm: SessionMaker) -> None:
    a, _ = await _sites(sm)
    by_mail = await contact_for_email(sm, "boss@acme.example")
    typed = await new_visitor(sm, name="M", email="boss2@acme.example")
    joined, _ = await join(sm, VisitorClaim(a, identity=HostIdentity("7", "boss@acme.example")))
    assert joined.id == by_mail.id and joined.external_id == "7"
    # A typed (unverified) address is never joined, even by a signed identity.
    other, _ = await join(sm, VisitorClaim(a, identity=HostIdentity("8", "boss2@acme.example")))
    assert other.id != typed.id
    # A contact that already is another user of the site is not taken over by email.
    third, _ = await join(sm, VisitorClaim(a, identity=HostIdentity("9", "boss@acme.example")))
    assert third.id != by_mail.id


async def test_a_browser_comes_back_by_its_visitor_id_to_its_anonymous_contact(
        sm: SessionMaker) -> None:
    a, b = await _sites(sm)
    anon, vid = await join(sm, VisitorClaim(a))
    assert vid is not None and not is_verified(anon) and anon.visitor_key == key(vid)
    back, none = await join(sm, VisitorClaim(a, visitor_key=key(vid)))
    assert (back.id, none) == (anon.id, None)
    # Bound to its site, and an id the server never gave is a new contact with a new id.
    elsewhere, vid_b = await join(sm, VisitorClaim(b, visitor_key=key(vid)))
    assert elsewhere.id != anon.id and vid_b not in (None, vid)
    stranger, vid_s = await join(sm, VisitorClaim(a, visitor_key=key("Z" * 43)))
    assert stranger.id != anon.id and vid_s is not None


async def test_a_visitor_id_or_token_never_leads_to_a_verified_contact(sm: SessionMaker) -> None:
    a, _ = await _sites(sm)
    anon, vid = await join(sm, VisitorClaim(a))
    assert vid is not None
    user, _ = await join(sm, VisitorClaim(a, identity=HostIdentity("42", "al@acme.example"),
                                          visitor_key=key(vid)))
    assert user.id != anon.id
    # The browser signed out: its visitor id leads back to its anonymous contact only,
    # and the verified contact's own token is not taken back without the identity.
    back, _ = await join(sm, VisitorClaim(a, visitor_key=key(vid),
                                          token=(user.id, user.token_nonce)))
    assert back.id == anon.id
    fresh, new_vid = await join(sm, VisitorClaim(a, token=(user.id, user.token_nonce)))
    assert fresh.id not in (anon.id, user.id) and new_vid is not None


async def test_an_anonymous_token_is_kept_a_revoked_one_is_not(sm: SessionMaker) -> None:
    a, _ = await _sites(sm)
    anon, _ = await join(sm, VisitorClaim(a))
    assert (await join(sm, VisitorClaim(a, token=(anon.id, anon.token_nonce))))[0].id == anon.id
    assert (await join(sm, VisitorClaim(a, token=(anon.id, "revoked"))))[0].id != anon.id
    # A contact from before visitor ids (none kept) gets one the first time it comes back.
    old = await new_visitor(sm, name=None, email=None)
    again, vid = await join(sm, VisitorClaim(a, token=(old.id, old.token_nonce)))
    assert again.id == old.id and vid is not None and again.visitor_key == key(vid)


async def test_typed_details_never_replace_a_verified_address(sm: SessionMaker) -> None:
    a, _ = await _sites(sm)
    user, _ = await join(sm, VisitorClaim(a, identity=HostIdentity("42", "al@acme.example")))
    anon, _ = await join(sm, VisitorClaim(a))
    await note_typed(sm, user.id, name="Al", email="mallory@evil.example")
    await note_typed(sm, anon.id, name="Eve", email="Boss@Acme.example")
    async with sm() as s:
        u, v = await s.get(Contact, user.id), await s.get(Contact, anon.id)
        assert u is not None and v is not None
        assert (u.name, u.email, u.email_verified) == ("Al", "al@acme.example", True)
        assert (v.name, v.email, v.email_verified) == ("Eve", "boss@acme.example", False)
    # A typed address of a customer's domain joins its organisation, but gives no tier.
    assert v.organisation_id is not None and await priority_for(sm, anon.id) == 2


async def test_the_acknowledgement_goes_to_the_verified_address_else_the_typed_one(
        sm: SessionMaker) -> None:
    a, _ = await _sites(sm)
    who = HostIdentity("42", "al@acme.example")
    assert reply_address(VisitorClaim(a, identity=who), None, "t@x.example") == who.email
    user, _ = await join(sm, VisitorClaim(a, identity=who))
    assert reply_address(VisitorClaim(a), user, "t@x.example") == "al@acme.example"
    anon, _ = await join(sm, VisitorClaim(a))
    assert reply_address(VisitorClaim(a), anon, "t@x.example") == "t@x.example"
    no_mail = HostIdentity("43", None)
    assert reply_address(VisitorClaim(a, identity=no_mail), None, "t@x.example") == "t@x.example"

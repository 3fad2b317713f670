from __future__ import annotations

from desk.contacts import contact_for_email, new_visitor, priority_for
from desk.db import SessionMaker
from desk.models import Organisation


async def test_typed_email_never_reuses_a_customer(sm: SessionMaker) -> None:
    customer = await contact_for_email(sm, "Boss@Acme.example", "Boss")
    assert customer.email_verified and customer.email == "boss@acme.example"
    assert (await contact_for_email(sm, "boss@acme.example")).id == customer.id
    visitor = await new_visitor(sm, name="Mallory", email="boss@acme.example")
    assert visitor.id != customer.id and not visitor.email_verified
    assert visitor.token_nonce and visitor.token_nonce != customer.token_nonce


async def test_organisation_by_domain_or_phone(sm: SessionMaker) -> None:
    async with sm() as s:
        s.add(Organisation(name="Acme", domains=["acme.example"], phones=["+1 555 0100"],
                           priority=0))
        await s.commit()
    by_mail = await contact_for_email(sm, "x@ACME.example")
    by_phone = await new_visitor(sm, name="P", email=None, phone="+1-555-0100")
    stranger = await new_visitor(sm, name="S", email="s@other.example")
    typed = await new_visitor(sm, name="T", email="t@acme.example")
    assert by_mail.organisation_id is not None
    assert by_phone.organisation_id == by_mail.organisation_id
    assert stranger.organisation_id is None
    assert await priority_for(sm, by_mail.id) == 0
    assert await priority_for(sm, stranger.id) == 2
    # A typed address or phone proves nothing: the organisation, but never its tier.
    assert typed.organisation_id == by_mail.organisation_id
    assert await priority_for(sm, typed.id) == 2 and await priority_for(sm, by_phone.id) == 2

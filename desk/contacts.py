"""Contacts and the organisations they belong to.

A typed email address is never proof of identity: ``contact_for_email`` only reuses a contact whose
address was verified (e.g. it came from the envelope of a mail we received); a visitor who types a
customer's address gets a new, unverified contact and sees none of that customer's history, and
never the organisation's priority tier (``priority_for``). It does join the organisation of its
domain: what that opens (the organisation's shared cases, ``desk.portal``) needs a sign-in that
proves the address first.

Which contact a widget request joins (a visitor session, a leave-a-message) is ONE rule,
``find_visitor`` then ``join_visitor``:

1. an identity the site signed (``desk.identity``): the contact with that (site, user id),
   else the verified contact with that email (the site vouches for it; it takes the user id),
   else a new verified contact. Its history and organisation tier come with it;
2. else a visitor token still good for an anonymous contact (a verified contact's token is
   not taken back without the identity: the host's user may have logged out);
3. else the anonymous contact the browser's visitor id was given with (same site);
4. else a new anonymous contact, with a new visitor id for the browser to keep.

A visitor id therefore only ever leads to the anonymous contact made for that browser, never
to a verified contact: once the host's user is known, the browser's anonymous sessions stay
where they were.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from desk.db import SessionMaker
from desk.identity import HostIdentity
from desk.models import Contact, Organisation

_DIGITS = re.compile(r"\D+")


def normalise_phone(phone: str) -> str:
    digits = _DIGITS.sub("", phone)
    return ("+" if phone.strip().startswith("+") else "") + digits


async def match_organisation(s: AsyncSession, email: str | None,
                             phone: str | None) -> Organisation | None:
    """The organisation whose domain list holds the email's domain, or whose phones hold phone."""
    orgs = (await s.execute(select(Organisation).order_by(Organisation.id))).scalars().all()
    domain = email.rsplit("@", 1)[1].lower() if email and "@" in email else None
    wanted_phone = normalise_phone(phone) if phone else None
    for org in orgs:
        if domain and any(domain == d.lower() for d in org.domains):
            return org
        if wanted_phone and any(wanted_phone == normalise_phone(p) for p in org.phones):
            return org
    return None


def is_verified(contact: Contact) -> bool:
    """Do we know who this is: an address proven by mail, or an identity a site signed."""
    return bool(contact.email_verified or contact.external_id)


async def new_visitor(sm: SessionMaker, *, name: str | None, email: str | None,
                      phone: str | None = None) -> Contact:
    """A fresh, unverified contact (never merged by typed email)."""
    async with sm() as s:
        org = await match_organisation(s, email, phone)
        contact = Contact(name=name, email=email.lower() if email else None, phone=phone,
                          email_verified=False, token_nonce=secrets.token_hex(16),
                          organisation_id=org.id if org else None)
        s.add(contact)
        await s.commit()
        return contact


# --- which contact a widget request joins ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class VisitorClaim:
    """What a widget request says about who it is, each part already checked: ``identity``
    verified by the site's secret, ``token`` a good signature's (contact id, nonce),
    ``visitor_key`` the hash of a well-formed visitor id (desk.identity.visitor_key)."""

    site_id: int
    identity: HostIdentity | None = None
    token: tuple[int, str] | None = None
    visitor_key: str | None = None


def new_visitor_id() -> tuple[str, str]:
    """(visitor id for the browser, the key the records keep: its SHA-256)."""
    visitor_id = secrets.token_urlsafe(32)
    return visitor_id, hashlib.sha256(visitor_id.encode()).hexdigest()


async def _by_identity(s: AsyncSession, site_id: int, who: HostIdentity) -> Contact | None:
    found = (await s.execute(select(Contact).where(
        Contact.site_id == site_id, Contact.external_id == who.user_id))).scalar_one_or_none()
    if found is None and who.email:
        found = (await s.execute(
            select(Contact).where(Contact.email == who.email, Contact.email_verified.is_(True),
                                  Contact.external_id.is_(None))
            .order_by(Contact.id).limit(1))).scalar_one_or_none()
    return found


def _anonymous(contact: Contact | None) -> Contact | None:
    return contact if contact is not None and not is_verified(contact) else None


async def find_visitor(sm: SessionMaker, claim: VisitorClaim) -> Contact | None:
    """The existing contact the request joins (rules 1 to 3 of the module doc), or None."""
    async with sm() as s:
        if claim.identity is not None:
            return await _by_identity(s, claim.site_id, claim.identity)
        if claim.token is not None:
            by_token = await s.get(Contact, claim.token[0])
            if by_token is not None and hmac.compare_digest(by_token.token_nonce or "",
                                                            claim.token[1]):
                if (found := _anonymous(by_token)) is not None:
                    return found
        if claim.visitor_key is not None:
            return _anonymous((await s.execute(select(Contact).where(
                Contact.site_id == claim.site_id, Contact.visitor_key == claim.visitor_key))
            ).scalar_one_or_none())
    return None


async def join_visitor(sm: SessionMaker, claim: VisitorClaim, found: Contact | None
                       ) -> tuple[Contact, str | None]:
    """``found`` (from ``find_visitor``) brought up to date, or a new contact (rule 1 or 4):
    (contact, a new visitor id for the browser, else None)."""
    who = claim.identity
    async with sm() as s:
        contact = await s.get(Contact, found.id) if found is not None else None
        visitor_id = None
        if who is not None and contact is None:
            org = await match_organisation(s, who.email, None)
            contact = Contact(name=who.name, organisation_id=org.id if org else None,
                              token_nonce=secrets.token_hex(16))
            s.add(contact)
        if who is not None:
            assert contact is not None
            contact.site_id, contact.external_id = claim.site_id, who.user_id
            if who.email:  # the site vouches for its user's current address
                contact.email, contact.email_verified = who.email, True
        elif contact is None or contact.visitor_key is None:
            visitor_id, key = new_visitor_id()
            contact = contact or Contact(token_nonce=secrets.token_hex(16))
            contact.site_id, contact.visitor_key = claim.site_id, key
            s.add(contact)
        try:
            await s.commit()
        except IntegrityError:  # the same identity, joined at the same time: take that one
            await s.rollback()
            again = await find_visitor(sm, claim) if who is not None else None
            if again is None:
                raise
            return again, None
        return contact, visitor_id


async def contact_for_email(sm: SessionMaker, email: str, name: str | None = None) -> Contact:
    """The verified contact for a sender address seen on received mail, created if new."""
    email = email.lower()
    async with sm() as s:
        found = (
            await s.execute(
                select(Contact)
                .where(Contact.email == email, Contact.email_verified.is_(True))
                .order_by(Contact.id)
                .limit(1)
            )
        ).scalar_one_or_none()
        if found is not None:
            return found
        org = await match_organisation(s, email, None)
        contact = Contact(name=name, email=email, email_verified=True,
                          token_nonce=secrets.token_hex(16),
                          organisation_id=org.id if org else None)
        s.add(contact)
        await s.commit()
        return contact


def reply_address(claim: VisitorClaim, found: Contact | None, typed: str) -> str:
    """Where a mail to the contact the claim joins goes: its verified address (the one the
    site vouches for, for a new verified contact), else the address typed in the form."""
    if found is not None and found.email_verified and found.email:
        return found.email
    if found is None and claim.identity is not None and claim.identity.email:
        return claim.identity.email
    return typed


async def note_typed(sm: SessionMaker, contact_id: int, *, name: str | None,
                     email: str | None, language: str | None = None) -> None:
    """What a visitor typed in a form: the name, and the email unless a verified one is kept
    (a typed address never replaces a proven one; it stays unverified); the language the form
    was in (mail to the contact outside a conversation, the sign-in link, uses it)."""
    if not (name or email or language):
        return
    async with sm() as s:
        contact = await s.get(Contact, contact_id)
        if contact is None:
            return
        contact.name = name or contact.name
        contact.language = language or contact.language
        if email and not contact.email_verified:
            contact.email = email.strip().lower()
            if contact.organisation_id is None:
                org = await match_organisation(s, contact.email, None)
                contact.organisation_id = org.id if org else None
        await s.commit()


async def priority_for(sm: SessionMaker, contact_id: int | None, default: int = 2) -> int:
    """The contact's organisation tier (lower is more urgent), or ``default``; only a verified
    contact has one (a typed address proves nothing)."""
    if contact_id is None:
        return default
    async with sm() as s:
        contact = await s.get(Contact, contact_id)
        if contact is None or contact.organisation_id is None or not is_verified(contact):
            return default
        org = await s.get(Organisation, contact.organisation_id)
        return org.priority if org else default

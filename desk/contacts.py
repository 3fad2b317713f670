"""Contacts and the organisations they belong to.

A typed email address is never proof of identity: ``contact_for_email`` only reuses a contact whose
address was verified (e.g. it came from the envelope of a mail we received); a visitor who types a
customer's address gets a new, unverified contact and sees none of that customer's history.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.db import SessionMaker
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


async def new_visitor(sm: SessionMaker, *, name: str | None, email: str | None,
                      phone: str | None = None) -> Contact:
    """A fresh, unverified contact for a widget visitor (never merged by typed email)."""
    async with sm() as s:
        org = await match_organisation(s, email, phone)
        contact = Contact(name=name, email=email.lower() if email else None, phone=phone,
                          email_verified=False, token_nonce=secrets.token_hex(16),
                          organisation_id=org.id if org else None)
        s.add(contact)
        await s.commit()
        return contact


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


async def priority_for(sm: SessionMaker, contact_id: int | None, default: int = 2) -> int:
    """The contact's organisation tier (lower is more urgent), or ``default``."""
    if contact_id is None:
        return default
    async with sm() as s:
        contact = await s.get(Contact, contact_id)
        if contact is None or contact.organisation_id is None:
            return default
        org = await s.get(Organisation, contact.organisation_id)
        return org.priority if org else default

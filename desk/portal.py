"""The customer's side of the records: the link to a case for a mail, and which cases a
customer's grant (``desk.case_links``) opens.

``case_link`` is what every mail to a customer carries (acknowledgement, new activity, closing,
reminders): the one place a link is issued from the records. The grant checks are the pure
``desk.case_links``; this module only reads what they need. ``reopen`` is the page's status
change (through ``desk.sla_store.status_changed``, like every status change).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from desk import case_links, sla_store
from desk.case_links import Grant, Kind
from desk.db import SessionMaker
from desk.models import Contact, Conversation, Organisation
from desk.settings import Settings
from desk.status_rules import ENDED, customer_wrote


def case_link(settings: Settings, contact: Contact, number: str, now: datetime) -> str:
    """The address of case ``number`` for ``contact`` (its own case), valid for
    ``Settings.case_link_ttl_s`` and until the contact's nonce is rotated."""
    grant = Grant(Kind.CASE, contact.id, contact.token_nonce or "",
                  int(now.timestamp()) + settings.case_link_ttl_s, number)
    return case_links.case_url(settings.public_url, number,
                               case_links.issue(settings.secret_key, grant))


def issue(settings: Settings, kind: Kind, contact: Contact, ttl_s: int, now: float, *,
          number: str | None = None) -> str:
    """A token of ``kind`` for ``contact`` (a sign-in token gets a fresh ``jti``)."""
    jti = secrets.token_urlsafe(16) if kind is Kind.SIGNIN else ""
    return case_links.issue(settings.secret_key, Grant(
        kind, contact.id, contact.token_nonce or "", int(now) + ttl_s, number, jti))


@dataclass(frozen=True, slots=True)
class Customer:
    """Who a verified grant speaks for, read from the records."""

    contact: Contact
    email: str | None  # lower-cased; the address the sign-in was mailed to
    organisation: Organisation | None  # set only when it shares its cases with its members


async def customer(s: AsyncSession, grant: Grant) -> Customer | None:
    """The grant's contact, if it still exists and its nonce is the grant's (not revoked).
    A session the host site's identity opened (``Kind.HOST``) speaks for that contact alone:
    no proven address, no organisation, so ``cases_of`` is its own cases."""
    contact = await s.get(Contact, grant.contact_id)
    if contact is None or not case_links.nonce_ok(grant, contact.token_nonce or ""):
        return None
    if grant.kind is Kind.HOST:
        return Customer(contact, None, None)
    org = await s.get(Organisation, contact.organisation_id) \
        if contact.organisation_id is not None else None
    email = contact.email.strip().lower() if contact.email else None
    return Customer(contact, email, org if org is not None and org.share_cases else None)


def cases_of(who: Customer) -> ColumnElement[bool]:
    """THE rule for a signed-in customer's cases, as a condition on conversations: those of
    every contact with their address (the sign-in proved they read it: chats, mail and web
    cases alike), and where their organisation shares cases, those of its members. Noise
    (auto-replies, bulk mail) is nobody's case."""
    contacts = select(Contact.id).where(
        or_(Contact.id == who.contact.id,
            func.lower(Contact.email) == who.email if who.email else false(),
            Contact.organisation_id == who.organisation.id if who.organisation else false()))
    return Conversation.contact_id.in_(contacts) & (Conversation.status != "noise")


async def may_open(s: AsyncSession, grant: Grant, number: str) -> Conversation | None:
    """The case ``number`` if ``grant`` opens it: a one-case grant issued to its own contact,
    or a session grant whose cases (``cases_of``) hold it. None for anything else. A case
    merged into another opens that one: a merge joins one customer's cases only
    (``desk.ticket_work.merge``), and the survivor is checked to be theirs."""
    conv = await _may_open(s, grant, number)
    if conv is not None and conv.merged_into_id is not None:
        survivor = await s.get(Conversation, conv.merged_into_id)
        if survivor is not None and survivor.contact_id == conv.contact_id:
            return survivor
    return conv


async def _may_open(s: AsyncSession, grant: Grant, number: str) -> Conversation | None:
    conv = (await s.execute(select(Conversation).where(Conversation.number == number))
            ).scalar_one_or_none()
    if conv is None or conv.status == "noise":
        return None
    if grant.kind in case_links.ONE_CASE:
        contact = await s.get(Contact, grant.contact_id)
        current = (contact.token_nonce or "") if contact is not None else None
        ok = case_links.allows(grant, current_nonce=current, case_contact_id=conv.contact_id,
                               number=number)
        return conv if ok else None
    who = await customer(s, grant)
    if who is None:
        return None
    found = (await s.execute(select(Conversation.id).where(
        Conversation.id == conv.id, cases_of(who)))).scalar_one_or_none()
    return conv if found is not None else None


async def reopen(sm: SessionMaker, conversation_id: int, now: datetime, *, wrote: bool) -> bool:
    """The customer reopened the case on its page: by writing into it (``wrote``: the move
    ``desk.status_rules.customer_wrote`` makes, as for a mailed-in reply — an ended or a
    pending case goes back to the queue) or with the page's reopen button (an ended case
    only). True if it moved; the caller routes it."""
    async with sm() as s:
        # Locked, so a reply and a button press at once reopen it once (SQLite: IMMEDIATE).
        conv = (await s.execute(select(Conversation).where(Conversation.id == conversation_id)
                                .with_for_update())).scalar_one_or_none()
        if conv is None:
            return False
        move = customer_wrote(conv.status) if wrote else None
        target = move.status if move is not None else \
            ("queued" if not wrote and conv.status in ENDED else None)
        if target is None:
            return False
        await sla_store.status_changed(
            s, conv, conv.status, target, now,
            why="the customer wrote on the case page" if wrote else
            "the customer reopened it on the case page")
        conv.status, conv.closed_at, conv.closed_by, conv.updated_at = target, None, None, now
        await s.commit()
    return True

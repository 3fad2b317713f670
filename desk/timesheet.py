"""Time logged on a conversation, counted against the contract in force: the one path every
writer of a ``time_entries`` row takes (an agent's "Log time", a field visit's completion).

The contract is the contact's organisation's that ``desk.contracts.charged_to`` picks for the
day (none without an organisation or a contract in force); the entry, its ``time_logged``
fact (the reports) and its ``time.logged`` audit event are written in the caller's
transaction, so they land together or not at all.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk import audit, contracts, facts
from desk.models import Contact, Contract, Conversation, TimeEntry


def terms(k: Contract) -> contracts.Terms:
    return contracts.Terms(k.id, k.kind, k.starts_on, k.ends_on, k.minutes_contracted)


async def charged_contract(s: AsyncSession, conv: Conversation, now: datetime) -> int | None:
    contact = await s.get(Contact, conv.contact_id) if conv.contact_id else None
    if contact is None or contact.organisation_id is None:
        return None
    rows = (await s.execute(select(Contract).where(
        Contract.organisation_id == contact.organisation_id))).scalars().all()
    return contracts.charged_to([terms(k) for k in rows], now.date())


async def log(s: AsyncSession, conv: Conversation, agent_id: int, minutes: int,
              note: str | None, now: datetime) -> TimeEntry:
    """Add the entry (``minutes`` and ``note`` checked by ``contracts.check_entry``)."""
    charged = await charged_contract(s, conv, now)
    entry = TimeEntry(conversation_id=conv.id, agent_id=agent_id, contract_id=charged,
                      minutes=minutes, note=note, created_at=now)
    s.add(entry)
    facts.time_logged(s, conv, now, agent_id, minutes, charged)
    audit.record(s, "time.logged", conv.id, actor_id=agent_id, at=now, minutes=minutes,
                 contract_id=charged)
    await s.flush()
    return entry

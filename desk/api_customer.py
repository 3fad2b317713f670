"""The customer 360 beside a conversation, and the time agents log on it.

``GET /api/conversations/{id}/customer``: the contact (verified or not), their organisation
(domains, phones, members by email), their other conversations on every channel (status, and
the rating for those who may read ratings), the tickets linked through ``parent_id`` both ways,
the organisation's contracts and warranties with hours used, previous resolutions of
conversations like this one (``desk.resolutions``) and the contact's field visits. Every
conversation listed is one the viewer may open (``Principal.scope``).
``POST /api/conversations/{id}/time``: minutes and an optional note, counted against the
contract in force (``desk.timesheet.log``).
``POST /api/organisations/{id}/contracts`` (admins) records a contract or warranty.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import contracts, field_visits, resolutions, timesheet, validate
from desk.api_conversations import load_conversation, survey_visible
from desk.contacts import is_verified
from desk.errors import NotFound
from desk.http import JSONResponse, api, deps, path_int, read_json, require_admin
from desk.models import (
    Agent,
    Contact,
    Contract,
    Conversation,
    Organisation,
    TimeEntry,
    utcnow,
)

HISTORY_MAX = 50
MEMBERS_MAX = 20


def _brief(c: Conversation, survey: bool) -> dict[str, Any]:
    return {"id": c.id, "number": c.number, "channel": c.channel, "status": c.status,
            "subject": c.subject, "created_at": c.created_at.isoformat(),
            "updated_at": c.updated_at.isoformat(), "rating": c.rating if survey else None}


async def _contracts(s: AsyncSession, organisation_id: int | None,
                     today: date) -> list[dict[str, Any]]:
    if organisation_id is None:
        return []
    return await contract_rows(s, Contract.organisation_id == organisation_id, today)


async def contract_rows(s: AsyncSession, where: ColumnElement[bool],
                        today: date) -> list[dict[str, Any]]:
    """Contracts matching ``where`` with their hours used (the 360 view, the contracts
    report), newest first."""
    rows = (await s.execute(select(Contract).where(where)
                            .order_by(Contract.starts_on.desc(), Contract.id))).scalars().all()
    used = dict((await s.execute(
        select(TimeEntry.contract_id, func.sum(TimeEntry.minutes))
        .where(TimeEntry.contract_id.in_([k.id for k in rows]))
        .group_by(TimeEntry.contract_id))).all()) if rows else {}
    out = []
    for k in rows:
        u = contracts.usage(timesheet.terms(k), int(used.get(k.id) or 0), today)
        out.append({"id": k.id, "organisation_id": k.organisation_id, "kind": k.kind,
                    "name": k.name,
                    "starts_on": k.starts_on.isoformat(),
                    "ends_on": k.ends_on.isoformat() if k.ends_on else None,
                    "hours_contracted": u.hours_contracted, "hours_used": u.hours_used,
                    "hours_left": u.hours_left, "expired": u.expired, "in_force": u.in_force})
    return out


@api
async def customer(request: Request) -> Response:
    """The customer 360: contact, organisation, history, linked tickets, contracts, time."""
    p, c = await load_conversation(request)
    survey = survey_visible(p)
    today = utcnow().date()
    async with deps(request).sm() as s:
        contact = await s.get(Contact, c.contact_id) if c.contact_id else None
        org = (await s.get(Organisation, contact.organisation_id)
               if contact and contact.organisation_id else None)
        history: Sequence[Conversation] = []
        if contact is not None:
            history = (await s.execute(
                select(Conversation).where(Conversation.contact_id == contact.id,
                                           Conversation.id != c.id,
                                           p.scope(Conversation.group_id))
                .order_by(Conversation.updated_at.desc()).limit(HISTORY_MAX))).scalars().all()
        linked = (await s.execute(
            select(Conversation).where(
                or_(Conversation.parent_id == c.id, Conversation.id == c.parent_id),
                p.scope(Conversation.group_id)).order_by(Conversation.id))).scalars().all()
        members = (await s.execute(
            select(Contact).where(Contact.organisation_id == org.id).order_by(Contact.id)
            .limit(MEMBERS_MAX))).scalars().all() if org else []
        entries = (await s.execute(
            select(TimeEntry, Agent.display_name).join(Agent, Agent.id == TimeEntry.agent_id,
                                                       isouter=True)
            .where(TimeEntry.conversation_id == c.id).order_by(TimeEntry.id))).all()
        deals = await _contracts(s, org.id if org else None, today)
        resolved = await resolutions.similar(s, p, c)
        visits = await field_visits.of_contact(s, p, contact.id) if contact else []
    return JSONResponse({
        "contact": None if contact is None else {
            "id": contact.id, "name": contact.name, "email": contact.email,
            "email_verified": contact.email_verified, "verified": is_verified(contact),
            "phone": contact.phone},
        "organisation": None if org is None else {
            "id": org.id, "name": org.name, "domains": org.domains, "phones": org.phones,
            "members": [{"id": m.id, "name": m.name, "email": m.email} for m in members]},
        "history": [_brief(h, survey) for h in history],
        "linked": [{**_brief(k, survey), "relation": "parent" if k.id == c.parent_id else "child"}
                   for k in linked],
        "contracts": deals,
        "resolutions": resolved,
        "visits": visits,
        "time": {"total_minutes": sum(e.minutes for e, _ in entries), "entries": [
            {"id": e.id, "minutes": e.minutes, "note": e.note, "agent": name,
             "contract_id": e.contract_id, "created_at": e.created_at.isoformat()}
            for e, name in entries]},
    })


@validate.described(contracts.ENTRY, status=201)
@api
async def log_time(request: Request) -> Response:
    """Log minutes spent on a conversation (counted against the contract in force)."""
    p, c = await load_conversation(request)
    data = await read_json(request)
    minutes, note = contracts.check_entry(*(contracts.ENTRY.read(data, k)
                                            for k in ("minutes", "note")))
    async with deps(request).sm() as s:
        entry = await timesheet.log(s, c, p.agent_id, minutes, note, utcnow())
        await s.commit()
    return JSONResponse({"id": entry.id, "minutes": minutes, "note": note,
                         "contract_id": entry.contract_id}, status_code=201)


@validate.described(contracts.TERMS, status=201)
@api
async def create_contract(request: Request) -> Response:
    """Record a contract or warranty of an organisation (admins)."""
    await require_admin(request)
    data = await read_json(request)
    kind, start, end, minutes = contracts.check_terms(*(
        contracts.TERMS.read(data, k) for k in ("kind", "starts_on", "ends_on", "hours")))
    name = contracts.TERMS.read(data, "name")
    async with deps(request).sm() as s:
        org = await s.get(Organisation, path_int(request, "id"))
        if org is None:
            raise NotFound("organisation not found")
        k = Contract(organisation_id=org.id, kind=kind, name=name, starts_on=start,
                     ends_on=end, minutes_contracted=minutes)
        s.add(k)
        await s.commit()
        return JSONResponse({"id": k.id, "kind": kind, "name": name}, status_code=201)


@api
async def list_organisations(request: Request) -> Response:
    """Every organisation by name (admins: the contracts page picks from them)."""
    await require_admin(request)
    async with deps(request).sm() as s:
        rows = (await s.execute(select(Organisation).order_by(Organisation.name))).scalars()
        return JSONResponse([{"id": o.id, "name": o.name, "domains": o.domains} for o in rows])


@api
async def list_contracts(request: Request) -> Response:
    """Every contract and warranty with its hours used and whether it is in force (admins)."""
    await require_admin(request)
    async with deps(request).sm() as s:
        return JSONResponse(await contract_rows(s, true(), utcnow().date()))


routes = [
    Route("/api/organisations", list_organisations, methods=["GET"]),
    Route("/api/contracts", list_contracts, methods=["GET"]),
    Route("/api/conversations/{id:int}/customer", customer, methods=["GET"]),
    Route("/api/conversations/{id:int}/time", log_time, methods=["POST"]),
    Route("/api/organisations/{id:int}/contracts", create_contract, methods=["POST"]),
]

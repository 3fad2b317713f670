"""The conversation-level CSV export (``GET /api/reports/conversations.csv``): one row per
conversation created in the range, in id order, streamed in constant memory.

Two readers, one format (``_csv_row``): on PostgreSQL one server-side cursor whose rows carry
their facts already folded per conversation (a LATERAL aggregate over the conversation's facts);
on SQLite id-keyset batches whose facts are folded in Python. Both fold the same way: the first
``first_response``, the last ``resolved`` (instant and resolution time) and ``rating`` in (at, id)
order, ``sla`` "breached" when any target was breached, else "met" when any was met in time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    Select,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    null,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, array_agg

from desk import reports
from desk.api_conversations import survey_visible
from desk.auth import Principal
from desk.db import SessionMaker
from desk.models import Agent, Contact, Conversation, Department, Group, Organisation, ReportFact

EXPORT_COLUMNS = ("number", "link", "contact", "email", "organisation", "channel", "department",
                  "group", "agent", "status", "custom_fields", "created", "first_response",
                  "resolved", "resolution_s", "csat", "sla")
EXPORT_BATCH = 2000
# Rows per fetch of the PostgreSQL cursor, and per chunk of the response.
STREAM_ROWS = 5000
FOLDED_KINDS = ("first_response", "resolved", "rating", "sla_met", "sla_breached")


def _columns(custom_fields: Any) -> tuple[Any, ...]:
    return (Conversation.id, Conversation.number, Conversation.channel, Conversation.status,
            custom_fields, Conversation.created_at, Contact.name, Contact.email,
            Organisation.name, Department.name, Group.name, Agent.display_name)


def _conversations(p: Principal, r: reports.Range) -> Select[Any]:
    """The conversation columns of the export, in the range and the principal's scope."""
    return (select(*_columns(Conversation.custom_fields))
            .outerjoin(Contact, Contact.id == Conversation.contact_id)
            .outerjoin(Organisation, Organisation.id == Contact.organisation_id)
            .outerjoin(Department, Department.id == Conversation.department_id)
            .outerjoin(Group, Group.id == Conversation.group_id)
            .outerjoin(Agent, Agent.id == Conversation.assignee_id)
            .where(reports.conversation_scope(p),
                   Conversation.created_at >= r.start.astimezone(UTC),
                   Conversation.created_at < r.end.astimezone(UTC))
            .order_by(Conversation.id))


def _iso(at: datetime | None) -> str:
    return "" if at is None else reports.aware(at).isoformat()


def _csv_row(row: Sequence[Any], base: str, survey: bool) -> list[Any]:
    """THE export row: conversation columns, then the folded facts (first response instant,
    last resolve instant and seconds, last rating, sla outcome)."""
    (cid, number, channel, status, fields, created, cname, email, org, dept, group, agent,
     first, resolved, resolution_s, rating, sla) = row
    return [number, f"{base}/api/conversations/{cid}", cname or "", email or "", org or "",
            channel, dept or "", group or "", agent or "", status,
            "" if not fields else orjson.dumps(fields).decode(), _iso(created), _iso(first),
            _iso(resolved), "" if resolution_s is None else resolution_s,
            int(rating or 0) if survey and rating is not None else "", sla or ""]


def _folded() -> Any:
    """PostgreSQL: one row of a conversation's folded facts (LATERAL, by the conversation index)."""
    f = ReportFact
    last = (f.at.desc(), f.id.desc())
    in_time = func.coalesce(f.data["breached"].as_boolean(), false()).is_(false())
    return (select(
        func.min(case((f.kind == "first_response", f.at))).label("first"),
        func.max(case((f.kind == "resolved", f.at))).label("resolved"),
        array_agg(aggregate_order_by(f.value, *last)).filter(f.kind == "resolved")[1]
        .label("resolution_s"),
        array_agg(aggregate_order_by(f.value, *last)).filter(f.kind == "rating")[1]
        .label("rating"),
        case((func.bool_or(f.kind == "sla_breached"), "breached"),
             (func.bool_or(and_(f.kind == "sla_met", in_time)), "met"),
             else_=null()).label("sla"))
        .where(f.conversation_id == Conversation.id, f.kind.in_(FOLDED_KINDS))
        .lateral("folded"))


async def _stream_pg(sm: SessionMaker, p: Principal, r: reports.Range,
                     base: str) -> AsyncIterator[list[list[Any]]]:
    folded = _folded()
    # custom_fields as text, decoded by orjson: the driver's stdlib json.loads cost more than
    # the rest of the row.
    q = (_conversations(p, r).with_only_columns(*_columns(cast(Conversation.custom_fields, Text)))
         .add_columns(*folded.c).outerjoin(folded, true())
         .execution_options(yield_per=STREAM_ROWS))
    survey = survey_visible(p)
    async with sm() as s:
        conn = await s.connection()
        result = await conn.stream(q)
        async for rows in result.partitions(STREAM_ROWS):
            yield [_csv_row((*row[:4], orjson.loads(row[4]) if row[4] else None, *row[5:]),
                            base, survey) for row in rows]


async def _export_batch(sm: SessionMaker, p: Principal, r: reports.Range, after: int,
                        base: str) -> list[list[Any]]:
    async with sm() as s:
        # Columns through the connection: the ORM's row handling costs more than the query.
        conn = await s.connection()
        rows = (await conn.execute(_conversations(p, r).where(Conversation.id > after)
                                   .limit(EXPORT_BATCH))).all()
        ids = [c[0] for c in rows]
        # The batch's facts by the id span (a range of the conversation index, no list of
        # 2000 ids to send); only sla_met's data is read.
        facts = (await conn.execute(select(
            ReportFact.conversation_id, ReportFact.kind, ReportFact.at, ReportFact.value,
            type_coerce(case((ReportFact.kind == "sla_met", ReportFact.data), else_=null()),
                        ReportFact.data.type))
            .where(ReportFact.conversation_id > after, ReportFact.conversation_id <= ids[-1],
                   ReportFact.kind.in_(FOLDED_KINDS))
            .order_by(ReportFact.at, ReportFact.id))).all() if ids else []
    per: dict[int, dict[str, Any]] = {i: {} for i in ids}
    for cid, kind, at, value, data in facts:
        got = per.get(cid)
        if got is None:  # a conversation of the span outside the range or the scope
            continue
        match kind:
            case "first_response":
                got.setdefault("first", at)
            case "resolved":
                got["resolved"], got["resolution_s"] = at, value
            case "rating":
                got["rating"] = value
            case "sla_breached":
                got["sla"] = "breached"
            case "sla_met" if not (data or {}).get("breached"):
                got.setdefault("sla", "met")
    survey = survey_visible(p)
    return [_csv_row((*row, *(per[row[0]].get(k) for k in (
        "first", "resolved", "resolution_s", "rating", "sla"))), base, survey) for row in rows]


async def _batches(sm: SessionMaker, p: Principal, r: reports.Range,
                   base: str) -> AsyncIterator[list[list[Any]]]:
    after = 0
    while True:
        batch = await _export_batch(sm, p, r, after, base)
        yield batch
        if len(batch) < EXPORT_BATCH:
            return
        after = int(str(batch[-1][1]).rsplit("/", 1)[1])


async def export_lines(sm: SessionMaker, p: Principal, r: reports.Range, base: str, *,
                       batched: bool = False) -> AsyncIterator[bytes]:
    """The CSV, header first, one chunk per fetch; ``batched`` forces the keyset reader (the
    only one on SQLite)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(EXPORT_COLUMNS)
    pg = sm.kw["bind"].dialect.name == "postgresql" and not batched
    chunks = _stream_pg(sm, p, r, base) if pg else _batches(sm, p, r, base)
    yield buf.getvalue().encode()
    async for rows in chunks:
        buf.seek(0)
        buf.truncate()
        w.writerows(rows)
        yield buf.getvalue().encode()

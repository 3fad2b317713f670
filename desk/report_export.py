"""The conversation-level CSV export (``GET /api/reports/conversations.csv``): one row per
conversation created in the range, in id order, streamed in constant memory.

Two readers, one format: on PostgreSQL ``COPY (SELECT ...) TO STDOUT (FORMAT csv)`` of one
query whose rows carry their facts already folded per conversation (a LATERAL aggregate over
the conversation's facts) and every column already text (``_pg_columns``), so no row passes
through Python; on SQLite id-keyset batches whose facts are folded in Python and written by
``_csv_row``. Both fold the same way: the first ``first_response``, the last ``resolved``
(instant and resolution time) and ``rating`` in (at, id) order, ``sla`` "breached" when any
target was breached, else "met" when any was met in time. Both write PostgreSQL's CSV: LF line
ends, a field quoted when it holds a comma, a quote, CR or LF, instants in UTC to the second
(``2026-03-02T10:00:00+00:00``), seconds as the shortest decimal that reads back (``600``,
``80.5``), custom fields as their stored JSON text (empty when there are none).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, array_agg
from sqlalchemy.ext.asyncio import AsyncConnection

from desk import reports
from desk.api_conversations import survey_visible
from desk.auth import Principal
from desk.db import SessionMaker
from desk.models import Agent, Contact, Conversation, Department, Group, Organisation, ReportFact

EXPORT_COLUMNS = ("number", "link", "contact", "email", "organisation", "channel", "department",
                  "group", "agent", "status", "custom_fields", "created", "first_response",
                  "resolved", "resolution_s", "csat", "sla")
EXPORT_BATCH = 2000
# Bytes of COPY output gathered before they are handed on (a response chunk), and chunks
# queued between PostgreSQL and the client: the memory the stream holds whatever the range.
CHUNK_BYTES = 1 << 16
QUEUED_CHUNKS = 4
FOLDED_KINDS = ("first_response", "resolved", "rating", "sla_met", "sla_breached")
NO_FIELDS = (None, "{}", "null")
ISO_SECONDS = 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'


def _columns(custom_fields: Any) -> tuple[Any, ...]:
    return (Conversation.id, Conversation.number, Conversation.channel, Conversation.status,
            custom_fields, Conversation.created_at, Contact.name, Contact.email,
            Organisation.name, Department.name, Group.name, Agent.display_name)


def _conversations(p: Principal, r: reports.Range, *columns: Any) -> Select[Any]:
    """The export's conversations (with ``columns``), in the range and the principal's scope."""
    return (select(*columns)
            .outerjoin(Contact, Contact.id == Conversation.contact_id)
            .outerjoin(Organisation, Organisation.id == Contact.organisation_id)
            .outerjoin(Department, Department.id == Conversation.department_id)
            .outerjoin(Group, Group.id == Conversation.group_id)
            .outerjoin(Agent, Agent.id == Conversation.assignee_id)
            .where(reports.conversation_scope(p), *_in_range(r))
            .order_by(Conversation.id))


def _iso(at: datetime | None) -> str:
    return "" if at is None else reports.aware(at).astimezone(UTC).isoformat(timespec="seconds")


def _seconds(value: float | None) -> str:
    """PostgreSQL's float8 text (shortest round trip, no ``.0``) for a duration."""
    if value is None:
        return ""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def _csv_row(row: Sequence[Any], base: str, survey: bool) -> list[Any]:
    """THE export row (SQLite's reader; _pg_columns is the same in SQL): conversation
    columns, then the folded facts (first response instant, last resolve instant and
    seconds, last rating, sla outcome)."""
    (cid, number, channel, status, fields, created, cname, email, org, dept, group, agent,
     first, resolved, resolution_s, rating, sla) = row
    return [number, f"{base}/api/conversations/{cid}", cname or "", email or "", org or "",
            channel, dept or "", group or "", agent or "", status,
            "" if fields in NO_FIELDS else fields, _iso(created), _iso(first),
            _iso(resolved), _seconds(resolution_s),
            int(rating) if survey and rating is not None else "", sla or ""]


def _folded(r: reports.Range) -> Any:
    """PostgreSQL: the range's conversations' facts folded, one row per conversation (one
    grouped pass over the facts: a LATERAL probe per conversation cost more than all else)."""
    f = ReportFact
    last = (f.at.desc(), f.id.desc())
    in_time = func.coalesce(f.data["breached"].as_boolean(), false()).is_(false())
    return (select(
        f.conversation_id,
        func.min(case((f.kind == "first_response", f.at))).label("first"),
        func.max(case((f.kind == "resolved", f.at))).label("resolved"),
        array_agg(aggregate_order_by(f.value, *last)).filter(f.kind == "resolved")[1]
        .label("resolution_s"),
        array_agg(aggregate_order_by(f.value, *last)).filter(f.kind == "rating")[1]
        .label("rating"),
        case((func.bool_or(f.kind == "sla_breached"), "breached"),
             (func.bool_or(and_(f.kind == "sla_met", in_time)), "met"),
             else_=null()).label("sla"))
        .join(Conversation, Conversation.id == f.conversation_id)
        .where(f.kind.in_(FOLDED_KINDS), *_in_range(r))
        .group_by(f.conversation_id).subquery("folded"))


def _in_range(r: reports.Range) -> list[Any]:
    return [Conversation.created_at >= r.start.astimezone(UTC),
            Conversation.created_at < r.end.astimezone(UTC)]


def _pg_iso(at: Any) -> Any:
    return func.to_char(func.timezone("UTC", at), ISO_SECONDS)


def _pg_text(column: Any) -> Any:
    # COPY writes NULL as an empty field but '' as "": the Python writer has only the former.
    return func.nullif(column, "")


def _pg_columns(folded: Any, base: str, survey: bool) -> list[Any]:
    """_csv_row in SQL: every column text as the Python writer spells it."""
    fields = cast(Conversation.custom_fields, Text)
    rating = cast(func.trunc(folded.c.rating), String) if survey else literal(None, String)
    return [c.label(n) for n, c in zip(EXPORT_COLUMNS, (
        Conversation.number,
        literal(f"{base}/api/conversations/", String) + cast(Conversation.id, String),
        _pg_text(Contact.name), _pg_text(Contact.email), _pg_text(Organisation.name),
        Conversation.channel, _pg_text(Department.name), _pg_text(Group.name),
        _pg_text(Agent.display_name), Conversation.status,
        case((fields.in_(NO_FIELDS[1:]), null()), else_=fields),
        _pg_iso(Conversation.created_at), _pg_iso(folded.c.first), _pg_iso(folded.c.resolved),
        cast(folded.c.resolution_s, String), rating, folded.c.sla), strict=True)]


def _compiled(conn: AsyncConnection, q: Select[Any]) -> tuple[str, list[Any]]:
    """The query as asyncpg's SQL ($n placeholders, the IN lists expanded) and its values."""
    compiled = q.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    return compiled.string, [params[name] for name in compiled.positiontup or ()]


async def _copy_pg(sm: SessionMaker, p: Principal, r: reports.Range,
                   base: str) -> AsyncIterator[bytes]:
    """PostgreSQL writes the CSV, header included; chunks pass through a short queue, so a
    slow client holds the COPY back instead of the process buffering the range."""
    folded = _folded(r)
    q = (_conversations(p, r, *_pg_columns(folded, base, survey_visible(p)))
         .outerjoin(folded, folded.c.conversation_id == Conversation.id))
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUED_CHUNKS)
    pending = bytearray()

    async def sink(data: bytes) -> None:
        pending.extend(data)
        if len(pending) >= CHUNK_BYTES:
            await queue.put(bytes(pending))
            pending.clear()

    async with sm() as s:
        conn = await s.connection()
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        # Compiling this one query costs more than it saves.
        await conn.execute(text("SET LOCAL jit = off"))
        sql, args = _compiled(conn, q)

        async def copy() -> None:
            try:
                await driver.copy_from_query(sql, *args, output=sink, format="csv",
                                             header=True)
                if pending:
                    await queue.put(bytes(pending))
            finally:
                await queue.put(None)

        task = asyncio.create_task(copy())
        try:
            while (chunk := await queue.get()) is not None:
                yield chunk
            await task  # its error, if any
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _export_batch(sm: SessionMaker, p: Principal, r: reports.Range, after: int,
                        base: str) -> list[list[Any]]:
    async with sm() as s:
        # Columns through the connection: the ORM's row handling costs more than the query.
        conn = await s.connection()
        rows = (await conn.execute(
            _conversations(p, r, *_columns(cast(Conversation.custom_fields, Text)))
            .where(Conversation.id > after).limit(EXPORT_BATCH))).all()
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


async def _written(sm: SessionMaker, p: Principal, r: reports.Range,
                   base: str) -> AsyncIterator[bytes]:
    buf = io.StringIO()
    # CRLF so that csv quotes a field holding CR as well as LF (as COPY does), then each
    # row's own terminator becomes COPY's LF.
    w = csv.writer(buf, lineterminator="\r\n")
    out: list[str] = []
    yield _lines(w, buf, out, [list(EXPORT_COLUMNS)])
    async for rows in _batches(sm, p, r, base):
        yield _lines(w, buf, out, rows)


def _lines(w: Any, buf: io.StringIO, out: list[str], rows: list[list[Any]]) -> bytes:
    out.clear()
    for row in rows:
        buf.seek(0)
        buf.truncate()
        w.writerow(row)
        out.append(buf.getvalue()[:-2])
    out.append("")
    return "\n".join(out).encode()


def export_lines(sm: SessionMaker, p: Principal, r: reports.Range, base: str, *,
                 batched: bool = False) -> AsyncIterator[bytes]:
    """The CSV, header first, in chunks; ``batched`` forces the keyset reader (the only one
    on SQLite)."""
    if sm.kw["bind"].dialect.name == "postgresql" and not batched:
        return _copy_pg(sm, p, r, base)
    return _written(sm, p, r, base)

"""Search conversations: full text over subjects and message bodies, filters, keyset pages.

One query interface over both databases: ``desk.search_query`` reads the request (pure), this
module turns it into one SELECT. The text part is the only one that differs: PostgreSQL
matches ``phraseto_tsquery`` terms against the GIN expression indexes, SQLite FTS5 ``MATCH``
expressions against its FTS tables (both kept current by the database, ``desk.fts``).

A conversation matches the text when its subject, or one message the viewer may read
(``desk.conversations.readable_clause``: internal notes for staff, whispers for supervisors and
the coached agent), holds every term. What conversations a viewer gets at all is
``Principal.scope`` — the SQL form of ``can_access`` — like every listing.

Pages are newest activity first, keyed by ``(updated_at, id)``: the cursor is the last row's
key and the next page is a range scan from it, never an OFFSET, so the thousandth page costs
what the first does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    bindparam,
    cast,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from desk.auth import Principal
from desk.conversations import Viewer, readable_clause, viewer_of
from desk.db import SessionMaker
from desk.errors import Forbidden
from desk.fts import PG_BODY_COLUMN, PG_CONFIG, SQLITE_MESSAGES, SQLITE_SUBJECTS
from desk.models import Contact, Conversation, Message, Organisation
from desk.search_query import Cursor, SearchRequest, Term, fts5_match, like_pattern
from desk.tags import tagged

_S = TypeVar("_S", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True, slots=True)
class Page:
    rows: Sequence[tuple[Conversation, Contact | None]]
    next_cursor: Cursor | None


async def search(sm: SessionMaker, p: Principal, req: SearchRequest) -> Page:
    if req.group_id is not None and not p.can_access(req.group_id):
        raise Forbidden("group_id: not one of your groups")
    dialect = sm.kw["bind"].dialect.name
    async with sm() as s:
        q = (await _pg_text_search(s, req, p) if dialect == "postgresql" and req.terms
             else build(req, p))
        found = list((await s.execute(q)).scalars().all())
        more = len(found) > req.limit
        found = found[:req.limit]
        ids = {c.contact_id for c in found if c.contact_id is not None}
        contacts = {c.id: c for c in (await s.execute(
            select(Contact).where(Contact.id.in_(ids)))).scalars()} if ids else {}
    last = found[-1] if more else None
    return Page([(c, contacts.get(c.contact_id) if c.contact_id else None) for c in found],
                Cursor.after(last.updated_at, last.id) if last is not None else None)


def _newest_first(q: _S, limit: int) -> _S:
    return q.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit + 1)


def build(req: SearchRequest, p: Principal) -> Select[Conversation]:
    """The SELECT for a search without text or on SQLite: the page's rows plus one, to know
    there is more. (PostgreSQL's text search is ``_pg_text_search``.)"""
    where = filters(req, p)
    if req.terms:
        where.append(Conversation.id.in_(_fts5_matches(req.terms, viewer_of(p))))
    return _newest_first(select(Conversation).where(*where), req.limit)


def filters(req: SearchRequest, p: Principal) -> list[ColumnElement[bool]]:
    """Everything but the text: the viewer's scope and each filter asked for."""
    c = Conversation
    where: list[ColumnElement[bool]] = [p.scope(c.group_id)]
    where.append(c.status.in_(req.statuses) if req.statuses else c.status != "noise")
    if req.channels:
        where.append(c.channel.in_(req.channels))
    if req.priorities:
        where.append(c.priority.in_(req.priorities))
    if req.number is not None:
        # A merged ticket's number finds the survivor too (desk.ticket_work.merge).
        merged = select(c.merged_into_id).where(c.number == req.number).scalar_subquery()
        where.append(or_(c.number == req.number, c.id == merged))
    if req.group_id is not None:
        where.append(c.group_id == req.group_id)
    match req.assignee:
        case "me":
            where.append(c.assignee_id == p.agent_id)
        case "none":
            where.append(c.assignee_id.is_(None))
        case int(agent_id):
            where.append(c.assignee_id == agent_id)
    where += _contact_conditions(req)
    where += [cast(c.custom_fields[name].as_string(), String) == value
              for name, value in req.fields]
    where += tagged(req.tags)
    if req.active_from is not None:
        where.append(c.updated_at >= req.active_from)
    if req.active_before is not None:
        where.append(c.updated_at < req.active_before)
    if req.cursor is not None:
        where.append(tuple_(c.updated_at, c.id) < tuple_(
            bindparam("cursor_at", req.cursor.updated_at, type_=c.updated_at.type),
            bindparam("cursor_id", req.cursor.id)))
    return where


def _contact_conditions(req: SearchRequest) -> list[ColumnElement[bool]]:
    contacts: list[ColumnElement[bool]] = []
    if req.email is not None:
        contacts.append(Contact.email == req.email)
    if req.contact is not None:
        pattern = like_pattern(req.contact)
        contacts.append(or_(func.lower(Contact.name).like(pattern, escape="\\"),
                            Contact.email.like(pattern, escape="\\")))
    if req.organisation_id is not None:
        contacts.append(Contact.organisation_id == req.organisation_id)
    if req.organisation is not None:
        contacts.append(Contact.organisation_id.in_(
            select(Organisation.id).where(func.lower(Organisation.name).like(
                like_pattern(req.organisation), escape="\\"))))
    if not contacts:
        return []
    return [Conversation.contact_id.in_(select(Contact.id).where(*contacts))]


# PostgreSQL text search takes one of two routes. Collecting every matching message through
# the GIN index costs a heap read per match: right for rare words. For common ones, walking
# the conversations that pass the filters newest first, checking each one's messages, finds a
# page after a few dozen; it costs a few index probes per conversation passed. The planner's
# estimate of the matches (ANALYZE keeps the frequencies of the commonest words) picks the
# route; a walk is bounded, and one that ends short of a page (the estimate was wrong: a
# phrase of common words can be rare) hands over to collecting.
COLLECT_MAX = 5000  # estimated matching messages up to which search collects
WALK_MAX = 1000  # conversations a walk passes at most


def _pg_query(terms: Sequence[Term]) -> ColumnElement[Any]:
    config: ColumnElement[Any] = literal_column(PG_CONFIG)
    parts: list[ColumnElement[Any]] = [
        func.phraseto_tsquery(config, bindparam(None, t.text, type_=String)) for t in terms]
    return reduce(lambda a, b: a.op("&&")(b), parts)


def _pg_subject(query: ColumnElement[Any]) -> ColumnElement[bool]:
    # Written as desk.fts indexes it, so the planner uses that index.
    config: ColumnElement[Any] = literal_column(PG_CONFIG)
    return func.to_tsvector(config, func.coalesce(Conversation.subject, "")).op("@@")(query)


def _pg_body(query: ColumnElement[Any]) -> ColumnElement[bool]:
    return literal_column(f"messages.{PG_BODY_COLUMN}").op("@@")(query)


async def _pg_estimate(s: AsyncSession, terms: Sequence[Term]) -> float:
    """The planner's estimate of the messages the terms match (from ANALYZE's statistics of
    the most common words): a planning round trip, no rows read."""
    # EXPLAIN takes no SQLAlchemy statement: the same query, written out (the words bound).
    query = " && ".join(f"phraseto_tsquery({PG_CONFIG}, :t{i})" for i in range(len(terms)))
    plan = (await s.execute(
        text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM messages WHERE {PG_BODY_COLUMN} @@ ({query})"),
        {f"t{i}": t.text for i, t in enumerate(terms)})).scalar_one()
    rows: float = (plan if isinstance(plan, list) else orjson.loads(plan))[0]["Plan"]["Plan Rows"]
    return rows


async def _pg_text_search(s: AsyncSession, req: SearchRequest,
                          p: Principal) -> Select[Conversation]:
    """The SELECT of a text search's page on PostgreSQL, by the route that suits its words."""
    c = Conversation
    query = _pg_query(req.terms)
    readable = readable_clause(viewer_of(p))
    in_body = select(Message.conversation_id).where(_pg_body(query), readable)
    if await _pg_estimate(s, req.terms) > COLLECT_MAX:
        # A subquery, not a CTE: the page's LIMIT stops the walk as soon as it is full.
        walk = _newest_first(select(c.id, c.updated_at, c.subject).where(*filters(req, p)),
                             WALK_MAX - 1).subquery("walk")
        w = walk.c
        config: ColumnElement[Any] = literal_column(PG_CONFIG)
        subject = func.to_tsvector(config, func.coalesce(w.subject, "")).op("@@")(query)
        found = list((await s.execute(
            select(w.id).where(or_(subject, exists(in_body.where(
                Message.conversation_id == w.id))))
            .order_by(w.updated_at.desc(), w.id.desc()).limit(req.limit + 1))).scalars())
        if len(found) > req.limit or (await s.execute(
                select(func.count()).select_from(walk))).scalar_one() < WALK_MAX:
            return _newest_first(select(c).where(c.id.in_(found)), req.limit)
    hits = union_all(select(c.id).where(_pg_subject(query)), in_body).cte(
        "hits").prefix_with("MATERIALIZED")
    return _newest_first(select(c).where(*filters(req, p), c.id.in_(select(hits.c.id))),
                         req.limit)


def _fts5_matches(terms: Sequence[Term], viewer: Viewer) -> Any:
    """SQLite: ids of conversations whose subject or one readable message holds every term."""
    readable = readable_clause(viewer)
    match = fts5_match(terms)
    subjects = table(SQLITE_SUBJECTS, column("rowid"))
    bodies = table(SQLITE_MESSAGES, column("rowid"))
    return union_all(
        select(subjects.c.rowid).where(
            literal_column(SQLITE_SUBJECTS).op("MATCH")(bindparam(None, match, type_=String))),
        select(Message.conversation_id).join(bodies, bodies.c.rowid == Message.id).where(
            literal_column(SQLITE_MESSAGES).op("MATCH")(bindparam(None, match, type_=String)),
            readable))

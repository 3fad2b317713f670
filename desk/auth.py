"""Agent authentication and visitor tokens.

Agents: argon2 password hashes; a login creates an ``AgentSession`` row whose random id travels
in a signed HttpOnly cookie. A session dies when revoked (logout), expired, or when the agent's
``session_version`` moves on (password change, deactivation). Visitors: a signed token naming
their contact and the contact's ``token_nonce``; rotating the nonce revokes every token at once.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import ColumnElement, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from desk.db import SessionMaker
from desk.errors import AuthError, InvalidInput, RateLimited
from desk.models import Agent, AgentSession, Group, LoginAttempt, utcnow
from desk.settings import Settings

COOKIE_NAME = "sb_session"
PASSWORD_MIN = 10
PASSWORD_MAX = 256
VISITOR_TOKEN_MAX_AGE_S = 30 * 86400

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))


def hash_password(password: str) -> str:
    check_password_strength(password)
    return _hasher.hash(password)


def check_password_strength(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput(f"password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated agent behind a request or socket."""

    agent_id: int
    role: str
    display_name: str
    session_id: str
    csrf_token: str
    group_ids: frozenset[int]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_supervisor(self) -> bool:
        return self.role in {"supervisor", "admin"}

    def can_access(self, group_id: int | None) -> bool:
        """May this principal see the group, and the conversations in it? (``can_access``)"""
        return can_access(self.role, self.group_ids, group_id)

    def scope(self, column: Any) -> ColumnElement[bool]:
        """``can_access`` as a SQL condition on a group id column, for listings."""
        return true() if self.is_admin else column.in_(sorted(self.group_ids))


def can_access(role: str, group_ids: Collection[int], group_id: int | None) -> bool:
    """THE rule for what staff may see: an admin every group and every conversation; anyone
    else the groups they belong to now and the conversations in those. Being a conversation's
    assignee (or having been invited to it) grants nothing by itself, so leaving its group
    ends access, on the HTTP API, in live delivery and on replay alike."""
    return role == "admin" or (group_id is not None and group_id in group_ids)


async def visible_departments(s: AsyncSession, p: Principal) -> set[int] | None:
    """Departments the principal may see: those of their groups (None: every one, admin)."""
    if p.is_admin:
        return None
    rows = await s.execute(select(Group.department_id).where(Group.id.in_(p.group_ids)))
    return set(rows.scalars())


def _session_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="switchboard.session")


def _visitor_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="switchboard.visitor")


async def login(
    sm: SessionMaker, settings: Settings, email: str, password: str, client: str
) -> tuple[str, Principal]:
    """Check credentials; returns ``(cookie_value, principal)``."""
    email = email.strip().lower()
    since = utcnow() - timedelta(minutes=1)
    async with sm() as s:
        recent = (
            await s.execute(
                select(func.count()).select_from(LoginAttempt).where(
                    LoginAttempt.created_at >= since,
                    (LoginAttempt.email == email) | (LoginAttempt.client == client),
                )
            )
        ).scalar_one()
        if recent >= settings.login_attempts_per_min:
            raise RateLimited("too many login attempts; wait a minute and try again")
        agent = (await s.execute(select(Agent).where(Agent.email == email))).scalar_one_or_none()
        # argon2 takes tens of milliseconds of CPU: keep it off the event loop.
        ok = await asyncio.to_thread(
            verify_password, agent.password_hash if agent else _DUMMY_HASH, password
        )
        if agent is None or not ok or not agent.is_active:
            s.add(LoginAttempt(email=email[:254], client=client[:64]))
            await s.commit()
            raise AuthError("invalid email or password")
        return await open_session(s, settings, agent)


async def open_session(s: AsyncSession, settings: Settings, agent: Agent
                       ) -> tuple[str, Principal]:
    """A new session for ``agent``, committed: ``(cookie_value, principal)``. The one way in,
    after a password (``login``) or an identity provider (desk.oidc)."""
    row = AgentSession(
        id=secrets.token_urlsafe(32),
        agent_id=agent.id,
        csrf_token=secrets.token_urlsafe(32),
        session_version=agent.session_version,
        expires_at=utcnow() + timedelta(seconds=settings.session_max_age_s),
    )
    s.add(row)
    await s.commit()
    return _session_serializer(settings).dumps(row.id), _principal(agent, row)


def standing_principal(agent: Agent) -> Principal:
    """The agent's rights without a session: what work done on their behalf later (a
    scheduled report) may see. Holds no session, so it can authenticate nothing."""
    return Principal(agent_id=agent.id, role=agent.role, display_name=agent.display_name,
                     session_id="", csrf_token="",
                     group_ids=frozenset(g.group_id for g in agent.groups))


def _principal(agent: Agent, row: AgentSession) -> Principal:
    return Principal(
        agent_id=agent.id,
        role=agent.role,
        display_name=agent.display_name,
        session_id=row.id,
        csrf_token=row.csrf_token,
        group_ids=frozenset(g.group_id for g in agent.groups),
    )


def session_id_from_cookie(settings: Settings, cookie: str | None) -> str | None:
    if not cookie or len(cookie) > 512:
        return None
    try:
        value = _session_serializer(settings).loads(cookie, max_age=settings.session_max_age_s)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


async def resolve_session(sm: SessionMaker, session_id: str) -> Principal | None:
    """The live principal for a session id, or None if it ended for any reason."""
    return (await resolve_sessions(sm, [session_id])).get(session_id)


RESOLVE_CHUNK = 500  # session ids per query (bound parameters stay far below every limit)


async def resolve_sessions(sm: SessionMaker, session_ids: Iterable[str]
                           ) -> dict[str, Principal | None]:
    """``resolve_session`` for many ids at once, one query per ``RESOLVE_CHUNK`` of them (the
    hub's periodic re-check of every staff socket): each id maps to its live principal or None."""
    ids = sorted(set(session_ids))
    out: dict[str, Principal | None] = dict.fromkeys(ids)
    async with sm() as s:
        for i in range(0, len(ids), RESOLVE_CHUNK):
            rows = (await s.execute(
                select(AgentSession, Agent).join(Agent, Agent.id == AgentSession.agent_id)
                .where(AgentSession.id.in_(ids[i: i + RESOLVE_CHUNK])))).all()
            for row, agent in rows:
                if row.revoked_at is None and not _expired(row.expires_at) \
                        and agent.is_active and agent.session_version == row.session_version:
                    out[row.id] = _principal(agent, row)
    return out


def _expired(when: datetime) -> bool:
    # SQLite hands back naive datetimes (stored as UTC).
    now = utcnow()
    return (when if when.tzinfo else when.replace(tzinfo=now.tzinfo)) <= now


def csrf_ok(principal: Principal, header_value: str | None) -> bool:
    return bool(header_value) and hmac.compare_digest(
        principal.csrf_token.encode(), (header_value or "").encode()
    )


async def logout(sm: SessionMaker, session_id: str) -> None:
    async with sm() as s:
        await s.execute(
            update(AgentSession)
            .where(AgentSession.id == session_id, AgentSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        await s.commit()


async def set_password(sm: SessionMaker, agent_id: int, new_password: str) -> None:
    """Set a new password and end every session of that agent."""
    new_hash = await asyncio.to_thread(hash_password, new_password)
    async with sm() as s:
        agent = await s.get(Agent, agent_id)
        if agent is None:
            raise AuthError("unknown agent")
        agent.password_hash = new_hash
        agent.session_version += 1
        await s.execute(
            update(AgentSession)
            .where(AgentSession.agent_id == agent_id, AgentSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        await s.commit()


async def change_password(sm: SessionMaker, agent_id: int, old: str, new: str) -> None:
    async with sm() as s:
        agent = await s.get(Agent, agent_id)
        if agent is None or not await asyncio.to_thread(verify_password, agent.password_hash,
                                                        old):
            raise AuthError("current password is wrong")
    await set_password(sm, agent_id, new)


def issue_visitor_token(settings: Settings, contact_id: int, nonce: str) -> str:
    return _visitor_serializer(settings).dumps({"c": contact_id, "n": nonce})


def verify_visitor_token(settings: Settings, token: str | None) -> tuple[int, str] | None:
    """``(contact_id, nonce)`` from a valid token; the caller compares the nonce to the record."""
    if not token or len(token) > 512:
        return None
    try:
        data = _visitor_serializer(settings).loads(token, max_age=VISITOR_TOKEN_MAX_AGE_S)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    contact, nonce = data.get("c"), data.get("n")
    if not isinstance(contact, int) or not isinstance(nonce, str):
        return None
    return contact, nonce

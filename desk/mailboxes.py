"""Department mailboxes as records: the one validation of a mailbox's settings and the one
public view of it, shared by the admin API and ``switchboard mailbox``.

The password is write-only: it is set here, read by the poller, and never part of a view, an
error message, an audit event or a log line.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from desk import validate
from desk.errors import InvalidInput, NotFound
from desk.limits import MAILBOX_TEXT_MAX
from desk.models import MAILBOX_SECURITY, Department, Mailbox
from desk.ticket_rules import parse_rules

RULES_MAX_BYTES = 64 * 1024
# Changing any of these points the mailbox at other mail: its UIDs mean nothing any more.
_WHERE = ("host", "port", "username", "folder")
_FIELDS = ("department_id", "host", "port", "security", "username", "password", "folder",
           "poll_interval_s", "enabled", "rules")


def _rules(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list) or len(orjson.dumps(value)) > RULES_MAX_BYTES:
        raise InvalidInput(f"rules must be a JSON list of at most {RULES_MAX_BYTES} bytes")
    parse_rules(value)  # raises InvalidInput naming the broken rule
    return value


_TEXT = {"type": "string", "minLength": 1, "maxLength": MAILBOX_TEXT_MAX}
MAILBOX = validate.Body({
    "department_id": validate.RecordId(),
    "host": validate.Custom(lambda d, k: validate.host(d, k, max_len=MAILBOX_TEXT_MAX), _TEXT),
    "port": validate.Integer(1, 65535), "poll_interval_s": validate.Integer(10, 86400),
    "security": validate.Choice(MAILBOX_SECURITY),
    "username": validate.Custom(lambda d, k: validate.line(d, k, max_len=MAILBOX_TEXT_MAX),
                                _TEXT),
    "password": validate.Secret(MAILBOX_TEXT_MAX),
    "folder": validate.Custom(lambda d, k: validate.line(d, k, max_len=MAILBOX_TEXT_MAX),
                              _TEXT),
    "enabled": validate.Boolean(),
    "rules": validate.Custom(_rules, {"type": "array", "items": {"type": "object"}})},
    required=("department_id", "host", "username", "password"))
MAILBOX_UPDATE = MAILBOX.but(required=())


def mailbox_json(m: Mailbox) -> dict[str, Any]:
    return {
        "id": m.id, "department_id": m.department_id, "host": m.host, "port": m.port,
        "security": m.security, "username": m.username, "folder": m.folder,
        "poll_interval_s": m.poll_interval_s, "enabled": m.enabled, "rules": m.rules or [],
        "has_password": bool(m.password), "uidvalidity": m.uidvalidity,
        "last_uid": m.last_uid, "last_error": m.last_error,
        "created_at": m.created_at.isoformat() if m.created_at else None,
    }


async def apply_mailbox(s: AsyncSession, m: Mailbox, data: dict[str, Any], *,
                        partial: bool) -> list[str]:
    """Validate ``data`` onto ``m`` (all of it, or with ``partial`` what it names); returns
    the names of the fields changed, for the audit trail."""
    before = {k: getattr(m, k, None) for k in _FIELDS}
    body = MAILBOX_UPDATE if partial else MAILBOX
    if not partial or "department_id" in data:
        dept = body.read(data, "department_id")
        if dept is None or await s.get(Department, dept) is None:
            raise NotFound(f"department {dept} not found")
        m.department_id = dept
    if not partial or "host" in data:
        m.host = body.read(data, "host")
    defaults = {"port": 993, "poll_interval_s": 60, "security": "tls", "folder": "INBOX",
                "enabled": True}
    for key, default in defaults.items():
        value = body.read(data, key) if key in data else None if partial else default
        if value is not None:
            setattr(m, key, value)
    if not partial or "username" in data:
        m.username = body.read(data, "username") or ""
    if not partial or "password" in data:
        m.password = body.read(data, "password") or ""
    if "rules" in data or not partial:
        m.rules = body.read(data, "rules")
    changed = [k for k, v in before.items() if getattr(m, k, None) != v]
    if m.id is not None and any(k in changed for k in _WHERE):
        m.uidvalidity, m.last_uid = None, 0  # re-scan; dedup keys keep imports exactly-once
    return changed

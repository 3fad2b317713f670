"""A department's own outbound SMTP relay (pure): the one check of what an admin sets, the one
view of it (never the password) and which relay a mail of the department goes through.

Stored on ``Department.smtp`` as ``{"host", "port", "security", "username", "password"}``;
None: the deployment's relay (``SWITCHBOARD_SMTP_*``). The password is write-only, as a
mailbox's: an update that leaves it out keeps the one stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from desk import validate
from desk.errors import InvalidInput
from desk.limits import MAILBOX_TEXT_MAX

SECURITY = ("none", "starttls", "tls")
_PORTS = {"none": 25, "starttls": 587, "tls": 465}


@dataclass(frozen=True, slots=True)
class Relay:
    host: str
    port: int
    security: str
    username: str
    password: str


def check(value: object, stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """What to store for ``value`` (null: back to the deployment's relay); InvalidInput
    naming the field (``smtp.host``...) otherwise."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput("smtp must be an object with host, port, security, username and "
                           "password, or null", "smtp")
    data = {f"smtp.{k}": v for k, v in value.items()}
    host = validate.host(data, "smtp.host", max_len=MAILBOX_TEXT_MAX)
    security = validate.choice(data, "smtp.security", SECURITY, "starttls")
    assert security is not None
    port = validate.integer(data, "smtp.port", lo=1, hi=65535, default=_PORTS[security])
    username = validate.line(data, "smtp.username", max_len=MAILBOX_TEXT_MAX, required=False,
                             default="")
    password = validate.secret(data, "smtp.password", max_len=MAILBOX_TEXT_MAX,
                               required=False)
    if password is None:
        password = (stored or {}).get("password") or ""
    if username and not password:
        raise InvalidInput("smtp.password is required with a username", "smtp.password")
    return {"host": host, "port": port, "security": security, "username": username,
            "password": password}


def view(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    if not stored:
        return None
    return {"host": stored.get("host"), "port": stored.get("port"),
            "security": stored.get("security"), "username": stored.get("username") or "",
            "has_password": bool(stored.get("password"))}


def relay_of(stored: dict[str, Any] | None, default: Relay) -> Relay:
    """The relay a department's mail goes through: its own when set, else ``default``."""
    if not stored or not stored.get("host"):
        return default
    return Relay(str(stored["host"]), int(stored.get("port") or 25),
                 str(stored.get("security") or "none"), str(stored.get("username") or ""),
                 str(stored.get("password") or ""))

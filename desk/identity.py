"""Identity a host site vouches for, and the visitor id a browser keeps (pure).

A host site that knows its user (they are logged in there) passes the widget its own user id
and email with ``hmac`` = HMAC-SHA256, under the site's identity secret, of the UTF-8 bytes of
``user_id + "\\n" + email`` (email exactly as passed, "" when there is none), as hex
(``signature``; docs/identity.md shows it in several languages). The signature is computed on
the host's server, never in the page, so only the site can say "this visitor is user 42".

An identity may carry ``ts``, the unix second the host signed it at; it is then signed too
(``user_id + "\n" + email + "\n" + ts``). The widget takes identities with or without it; the
case page's sign-in (``realtime.portal_http``) requires one no older than ``SIGNIN_MAX_AGE_S``,
so an identity copied out of a page does not open the customer's cases for ever.

``verify`` is the one check: a well-formed identity (else ``InvalidInput`` naming the field),
then, when the site has a secret, the signature compared in constant time (a wrong or missing
one is refused: ``Forbidden`` / ``InvalidInput``, nothing is created), then, when the caller
asks for it (``max_age_s``), the timestamp's freshness (``Forbidden`` when old or ahead of the
clock by more than ``CLOCK_SKEW_S``). A site without a secret has verification off: the
identity is treated as unverified, that is, ignored (None), so it never opens anyone's contact.

The visitor id is a random value the server hands a browser's widget with its first session
(``desk.contacts``); the records keep only ``visitor_key`` (its SHA-256), and it links nothing
but the anonymous contact that browser made.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from desk import validate
from desk.errors import Forbidden, InvalidInput
from desk.limits import EXTERNAL_ID_MAX, NAME_MAX

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SECRET_MIN = 32
SIGNIN_MAX_AGE_S = 600
CLOCK_SKEW_S = 60


@dataclass(frozen=True, slots=True)
class HostIdentity:
    """A user the host site vouches for. ``email`` lower-cased; ``name`` is not signed (it
    only labels a contact when it is made)."""

    user_id: str
    email: str | None
    name: str | None = None


def signature(secret: str, user_id: str, email: str | None, ts: int | None = None) -> str:
    message = f"{user_id}\n{email or ''}" + ("" if ts is None else f"\n{ts}")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _ts(data: dict[str, Any], required: bool) -> int | None:
    value = data.get("ts")
    if value is None and not required:
        return None
    if type(value) is not int or not 0 < value < 2**40:
        raise InvalidInput("identity.ts must be the unix time (seconds) the identity was "
                           "signed at", "identity.ts")
    return value


def _user_id(data: dict[str, Any]) -> str:
    value = data.get("user_id")
    if not isinstance(value, str) or not 1 <= len(value) <= EXTERNAL_ID_MAX \
            or value != value.strip() or _CONTROL.search(value):
        raise InvalidInput(f"identity.user_id must be 1 to {EXTERNAL_ID_MAX} characters, "
                           "without control characters or surrounding spaces",
                           "identity.user_id")
    return value


def _field(data: dict[str, Any], key: str, check: Any, **kw: Any) -> Any:
    try:
        return check(data, key, **kw)
    except InvalidInput as exc:
        raise InvalidInput(f"identity.{exc.message}", f"identity.{key}") from None


def verify(secret: str | None, data: object, *, max_age_s: int | None = None,
           now: float = 0.0) -> HostIdentity | None:
    """The identity in a request (``data``: its ``identity`` member; None when absent), if
    the site signed it (and, with ``max_age_s``, signed it within that many seconds before
    ``now``); see the module doc for None, ``InvalidInput`` and ``Forbidden``."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InvalidInput("identity must be an object {user_id, email, hmac}", "identity")
    user_id = _user_id(data)
    raw_email = data.get("email") or None  # "" is no email, as in the signed message
    email = _field({"email": raw_email}, "email", validate.email, required=False)
    name = _field(data, "name", validate.text, max_len=NAME_MAX, required=False)
    ts = _ts(data, max_age_s is not None)
    if not secret:
        return None
    given = data.get("hmac")
    if not isinstance(given, str) or not _HEX64.match(given):
        raise InvalidInput("identity.hmac must be 64 hex digits (HMAC-SHA256)", "identity.hmac")
    expected = signature(secret, user_id, raw_email, ts)
    if not hmac.compare_digest(expected, given.lower()):
        raise Forbidden("the identity's signature does not match: it is not from this site")
    if max_age_s is not None and ts is not None and not (
            now - max_age_s <= ts <= now + CLOCK_SKEW_S):
        raise Forbidden(f"the identity was signed more than {max_age_s // 60} minutes ago "
                        "(or ahead of the clock): sign it again when the link is made")
    return HostIdentity(user_id, email, name)


def visitor_key(visitor_id: object) -> str | None:
    """What the records keep of a visitor id (its SHA-256, hex); None when there is none;
    ``InvalidInput`` when it is not one the server could have issued."""
    if visitor_id is None:
        return None
    if not isinstance(visitor_id, str) or not _VISITOR_ID.match(visitor_id):
        raise InvalidInput("visitor_id must be the id this server gave the widget",
                           "visitor_id")
    return hashlib.sha256(visitor_id.encode()).hexdigest()


def check_secret(data: dict[str, Any], key: str) -> str | None:
    """An identity secret an admin sets: ``SECRET_MIN`` to 128 printable characters."""
    value = validate.secret(data, key, max_len=128, required=False)
    if value is not None and (len(value) < SECRET_MIN or value != value.strip()):
        raise InvalidInput(f"{key} must be {SECRET_MIN} to 128 characters without surrounding "
                           "spaces (e.g. 32 random bytes as hex)", key)
    return value

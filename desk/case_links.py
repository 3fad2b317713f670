"""Signed links to the customer's case page, and one-time sign-in tokens. Pure: the time and the
server secret are passed in, nothing is stored here.

A token names what it grants (``Grant``): its kind, the contact it was issued to, the contact's
``token_nonce`` at issue (rotating the nonce revokes every token of that contact at once), the
expiry (unix seconds) and, for one case, the case's number. It travels as
``v1.<payload>.<tag>``: base64url JSON, and an HMAC-SHA256 tag under a key derived from the
server secret, compared in constant time. A tampered, truncated, foreign-kind or expired token
verifies to None; whether the nonce still matches and whether the case is the contact's is the
caller's question to the records (``allows`` decides it once they are read).

Kinds:

- ``case``: one case, the link in every mail we send about it;
- ``all``: every case of the contact (the session a sign-in opens);
- ``host``: the session a sign-in through the host site's identity opens: that contact's own
  cases only (the host vouches for its user, not for every contact with the address);
- ``signin``: the one-time link of a passwordless sign-in; its ``jti`` is spent on redemption
  (the caller enforces single use, e.g. ``SET NX`` in Redis, for as long as the token lives);
- ``socket``: what the case page authenticates the visitor WebSocket with, for one case.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

import orjson

from desk.limits import is_id

VERSION = "v1"
TOKEN_MAX = 600
NUMBER_MAX = 16
NONCE_MAX = 64
JTI_MAX = 64
CASE_PATH = "/c"


class Kind(StrEnum):
    CASE = "case"
    ALL = "all"
    HOST = "host"
    SIGNIN = "signin"
    SOCKET = "socket"


# Kinds naming one case (their ``number`` is required); the others name none.
ONE_CASE = frozenset({Kind.CASE, Kind.SOCKET})
# The case page's sessions: a list of the customer's cases (``desk.portal.cases_of``).
SESSIONS = (Kind.ALL, Kind.HOST)


@dataclass(frozen=True, slots=True)
class Grant:
    kind: Kind
    contact_id: int
    nonce: str
    expires_at: int
    number: str | None = None
    jti: str = ""

    def __post_init__(self) -> None:
        if (self.number is not None) != (self.kind in ONE_CASE):
            raise ValueError(f"a {self.kind} grant names exactly one case"
                             if self.kind in ONE_CASE else f"a {self.kind} grant names no case")
        if self.kind is Kind.SIGNIN and not self.jti:
            raise ValueError("a sign-in grant needs a jti")


def _key(secret: str) -> bytes:
    # A key of its own, so a tag made here is worth nothing to any other signer of the secret.
    return hmac.new(secret.encode(), b"switchboard.case-links." + VERSION.encode(),
                    hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(secret: str, signed: str) -> str:
    return _b64(hmac.new(_key(secret), signed.encode("ascii"), hashlib.sha256).digest())


def issue(secret: str, grant: Grant) -> str:
    payload: dict[str, object] = {"k": grant.kind.value, "c": grant.contact_id,
                                  "n": grant.nonce, "e": grant.expires_at}
    if grant.number is not None:
        payload["u"] = grant.number
    if grant.jti:
        payload["j"] = grant.jti
    signed = f"{VERSION}.{_b64(orjson.dumps(payload))}"
    return f"{signed}.{_tag(secret, signed)}"


def verify_session(secret: str, token: str | None, now: float) -> Grant | None:
    """The grant of a genuine, unexpired session token of either kind (``SESSIONS``)."""
    for kind in SESSIONS:
        if (grant := verify(secret, token, now, kind)) is not None:
            return grant
    return None


def verify(secret: str, token: str | None, now: float, kind: Kind) -> Grant | None:
    """The grant of a genuine, unexpired token of ``kind``; None for anything else."""
    if not token or len(token) > TOKEN_MAX or not token.isascii():
        return None
    version, _, rest = token.partition(".")
    body, _, tag = rest.partition(".")
    if version != VERSION or not body or not tag:
        return None
    if not hmac.compare_digest(tag.encode("ascii"),
                               _tag(secret, f"{version}.{body}").encode("ascii")):
        return None
    try:
        data = orjson.loads(_unb64(body))
    except (binascii.Error, ValueError):
        return None
    grant = _grant(data)
    if grant is None or grant.kind is not kind or now >= grant.expires_at:
        return None
    return grant


def _grant(data: object) -> Grant | None:
    """The payload as a Grant, if it has exactly the shape ``issue`` writes."""
    if not isinstance(data, dict) or not {"k", "c", "n", "e"} <= data.keys() <= {
            "k", "c", "n", "e", "u", "j"}:
        return None
    kind, contact, nonce, expires = data["k"], data["c"], data["n"], data["e"]
    number, jti = data.get("u"), data.get("j", "")
    if (kind not in set(Kind) or not is_id(contact) or type(expires) is not int
            or not isinstance(nonce, str) or len(nonce) > NONCE_MAX
            or not isinstance(jti, str) or len(jti) > JTI_MAX
            or not (number is None or (isinstance(number, str) and len(number) <= NUMBER_MAX))):
        return None
    try:
        return Grant(Kind(kind), contact, nonce, expires, number, jti)
    except ValueError:
        return None


def allows(grant: Grant, *, current_nonce: str | None, case_contact_id: int | None,
           number: str) -> bool:
    """May a one-case ``grant`` open case ``number``, whose contact is ``case_contact_id``,
    now that the grant's contact holds ``current_nonce`` (None: the contact is gone)?

    The link must name this case AND have been issued to the case's own contact: a link of
    contact A never opens B's case, even with B's number written into it."""
    return (grant.kind in ONE_CASE and current_nonce is not None
            and hmac.compare_digest(grant.nonce.encode(), current_nonce.encode())
            and grant.number == number and case_contact_id == grant.contact_id)


def nonce_ok(grant: Grant, current_nonce: str | None) -> bool:
    """The grant's contact still exists and has not rotated its nonce since the issue."""
    return current_nonce is not None and hmac.compare_digest(grant.nonce.encode(),
                                                             current_nonce.encode())


def case_path(number: str | None, token: str) -> str:
    """The case page's path for ``number`` (None: the list of the customer's cases)."""
    where = f"{CASE_PATH}/{quote(number, safe='')}" if number else f"{CASE_PATH}/"
    return f"{where}?t={quote(token, safe='')}"


def case_url(public_url: str, number: str | None, token: str) -> str:
    """THE address of the case page in every mail we send (acknowledgement, reply, closing,
    reminders): the deployment's public URL and ``case_path``."""
    return public_url.rstrip("/") + case_path(number, token)


def signin_url(public_url: str, token: str) -> str:
    """The one-time sign-in link's address (the page redeems it by a POST, so a mail
    scanner fetching the link does not spend it)."""
    return f"{public_url.rstrip('/')}{CASE_PATH}/signin?t={quote(token, safe='')}"

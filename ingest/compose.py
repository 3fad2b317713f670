"""Outbound mail composition: pure, deterministic, and unable to carry injected headers.

``message_id_for(key, domain, secret)`` derives the Message-ID from the outbound record's key, so
the same outbound mail always has the same Message-ID: it is the idempotency key of the send job,
and an HMAC tag in it lets ``is_own_message_id`` tell our mail coming back from a forgery.

Every header value goes through ``clean_header_value`` (no CR/LF survives, CVE-2024-6923), and the
serialised result is parsed back: if it holds any header we did not set, ``HeaderInjection``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP, compat32
from email.utils import format_datetime

from ingest.addresses import Address, format_address
from ingest.errors import HeaderInjection
from ingest.headers import clean_header_value

_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|fw|fwd|wg)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_MSGID_SHAPE = re.compile(r"^<sb\.([0-9a-f]{24})\.([0-9a-f]{16})@([^<>@\s]+)>$")
_TOKEN = re.compile(r"^<[^<>\s]{1,250}>$")
MAX_REFERENCES = 20
_MIME_PART = re.compile(r"[a-z0-9][a-z0-9.+-]{0,100}")


def message_id_for(key: str, domain: str, secret: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f"<sb.{digest}.{_tag(digest, domain, secret)}@{domain}>"


def is_own_message_id(message_id: str | None, secret: str) -> bool:
    match = _MSGID_SHAPE.match(message_id or "")
    if match is None:
        return False
    digest, tag, domain = match.groups()
    return hmac.compare_digest(tag, _tag(digest, domain.lower(), secret))


def _tag(digest: str, domain: str, secret: str) -> str:
    mac = hmac.new(secret.encode(), f"{digest}@{domain.lower()}".encode(), hashlib.sha256)
    return mac.hexdigest()[:16]


def ticket_subject(subject: str, number: str, untitled: str, *, reply: bool = False) -> str:
    """``Re: <subject> [SB-1234567]`` with exactly one number tag and one reply prefix;
    ``untitled`` (the customer's language's "Your request") when there is no subject."""
    tag = f"[{number}]"
    base = clean_header_value(subject, 200).replace(tag, "").strip()
    base = _REPLY_PREFIX.sub("", base).strip() or clean_header_value(untitled, 200)
    return f"{'Re: ' if reply else ''}{base} {tag}"


@dataclass(frozen=True, slots=True)
class OutgoingFile:
    """An attachment: ``name`` already a display name (``desk.filetypes.display_name``),
    ``mime`` the type its content was found to be."""

    name: str
    mime: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Outgoing:
    sender: Address
    to: tuple[Address, ...]
    subject: str
    text: str
    message_id: str
    date: datetime
    html: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    auto_generated: bool = False
    loop_marker: str = ""  # X-Loop value: our address, so our own mail is recognised on return
    extra_headers: Sequence[tuple[str, str]] = field(default_factory=tuple)
    attachments: Sequence[OutgoingFile] = field(default_factory=tuple)
    cc: tuple[Address, ...] = ()


def _msgid(value: str | None) -> str | None:
    text = clean_header_value(value or "", 300)
    return text if _TOKEN.match(text) else None


def compose(mail: Outgoing) -> bytes:
    """Serialise ``mail`` to RFC 5322 bytes (CRLF), or raise ``HeaderInjection``."""
    if not mail.to:
        raise HeaderInjection("no recipient")
    msg = EmailMessage(policy=SMTP)
    headers: list[tuple[str, str]] = [
        ("From", format_address(mail.sender)),
        ("To", ", ".join(format_address(a) for a in mail.to)),
        *([("Cc", ", ".join(format_address(a) for a in mail.cc))] if mail.cc else []),
        ("Subject", clean_header_value(mail.subject, 250)),
        ("Date", format_datetime(mail.date)),
        ("Message-ID", _msgid(mail.message_id) or ""),
    ]
    if not headers[-1][1]:
        raise HeaderInjection("malformed Message-ID")
    parent = _msgid(mail.in_reply_to)
    if parent:
        headers.append(("In-Reply-To", parent))
    refs = [r for r in (_msgid(r) for r in mail.references) if r]
    if parent and parent not in refs:
        refs.append(parent)
    if refs:
        # Keep the thread root and the most recent ancestors (RFC 5322 3.6.4 trimming).
        kept = refs if len(refs) <= MAX_REFERENCES else [refs[0], *refs[-(MAX_REFERENCES - 1):]]
        headers.append(("References", " ".join(kept)))
    if mail.auto_generated:
        headers.append(("Auto-Submitted", "auto-generated"))
        headers.append(("X-Auto-Response-Suppress", "All"))
    if mail.loop_marker:
        headers.append(("X-Loop", clean_header_value(mail.loop_marker, 200)))
    for name, value in mail.extra_headers:
        if not re.fullmatch(r"X-[A-Za-z0-9-]{1,60}", name):
            raise HeaderInjection(f"refusing header name {name!r}")
        headers.append((name, clean_header_value(value, 500)))
    for name, value in headers:
        try:
            msg[name] = value
        except ValueError as exc:  # the policy's own CR/LF guard; unreachable after cleaning
            raise HeaderInjection(f"{name}: {exc}") from exc
    msg.set_content(mail.text)
    if mail.html:
        msg.add_alternative(mail.html, subtype="html")
    for f in mail.attachments:
        maintype, _, subtype = f.mime.partition("/")
        if not (_MIME_PART.fullmatch(maintype) and _MIME_PART.fullmatch(subtype)):
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(f.data, maintype=maintype, subtype=subtype,
                           filename=clean_header_value(f.name, 200) or "attachment")
    data = msg.as_bytes()
    _verify(data, [name for name, _ in headers])
    return data


def _verify(data: bytes, expected: list[str]) -> None:
    """Belt and braces: the serialised header block must hold exactly the headers we set."""
    parsed = BytesHeaderParser(policy=compat32).parsebytes(data)
    allowed = {n.lower() for n in expected} | {"mime-version", "content-type",
                                                 "content-transfer-encoding"}
    names = [n.lower() for n in parsed.keys()]
    unexpected = [n for n in names if n not in allowed]
    if unexpected or len(names) != len(set(names)):
        raise HeaderInjection(f"serialised mail carries unexpected headers: {unexpected}")

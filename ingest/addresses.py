"""Strict e-mail address parsing, shared by inbound parsing and outbound composition.

``email.utils.parseaddr`` on Python 3.11.7 reads ``alice@example.org(<bob@example.com>`` as
Bob's address (CVE-2023-27043). Here only five shapes are accepted — ``addr``, ``<addr>``,
``Name <addr>``, ``"Quoted Name" <addr>`` and the old ``addr (Plain Name)``, whose comment may
hold no address characters (``<>@,;:"[]()\\``) — and anything else raises ``UnsafeAddress``:
a mail whose sender cannot be read unambiguously is never treated as coming from anyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from desk.limits import EMAIL_MAX, NAME_MAX
from ingest.errors import UnsafeAddress
from ingest.headers import clean_header_value, decode_header_value

_LOCAL = r"[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*"
_DOMAIN = r"[^\W_](?:[\w-]{0,61}[^\W_])?(?:\.[^\W_](?:[\w-]{0,61}[^\W_])?)*"
_ADDR = rf"(?P<addr>{_LOCAL}@{_DOMAIN})"
_QUOTED = r'"(?:[^"\\\r\n]|\\.)*"'
# A phrase: atoms (encoded words included) separated by spaces; no specials, no comments.
_PHRASE = r"[^\s<>()@,;:\"\[\]\\]+(?:[ \t]+[^\s<>()@,;:\"\[\]\\]+)*"
_BARE = re.compile(rf"\s*(?:{_ADDR}|<{_ADDR.replace('addr', 'addr2')}>)\s*")
_NAMED = re.compile(rf"\s*(?P<name>{_QUOTED}|{_PHRASE})\s*<{_ADDR}>\s*")
_COMMENTED = re.compile(rf"\s*{_ADDR}[ \t]*\((?P<comment>[^()<>@,;:\"\[\]\\]*)\)\s*")
MAX_ADDRESS_CHARS = EMAIL_MAX  # longer never fits a path (RFC 5321), nor the records


@dataclass(frozen=True, slots=True)
class Address:
    """A parsed mailbox: ``email`` is lower-cased so comparisons are plain equality."""

    email: str
    name: str = ""

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]

    @property
    def local(self) -> str:
        return self.email.rpartition("@")[0]


def parse_address(value: str) -> Address:
    """Parse one address strictly; raise ``UnsafeAddress`` for any other form."""
    text = clean_header_value(value, 100_000)
    if not text or len(text) > MAX_ADDRESS_CHARS * 4:
        raise UnsafeAddress("empty or oversize address")
    if (bare := _BARE.fullmatch(text)) is not None:
        addr = bare.group("addr") or bare.group("addr2")
        return _checked(addr, "")
    if (named := _NAMED.fullmatch(text)) is not None:
        name = named.group("name")
        if name.startswith('"'):
            name = re.sub(r"\\(.)", r"\1", name[1:-1])
        return _checked(named.group("addr"), decode_header_value(name, NAME_MAX))
    if (commented := _COMMENTED.fullmatch(text)) is not None:
        return _checked(commented.group("addr"),
                        decode_header_value(commented.group("comment").strip(), NAME_MAX))
    raise UnsafeAddress(f"ambiguous or malformed address: {text[:100]!r}")


def _checked(addr: str, name: str) -> Address:
    if len(addr) > MAX_ADDRESS_CHARS:
        raise UnsafeAddress("address too long")
    if any("\udc80" <= ch <= "\udcff" for ch in addr):
        raise UnsafeAddress("raw 8-bit bytes in address")
    return Address(email=addr.lower(), name=name)


def parse_address_list(value: str, limit: int = 100) -> tuple[Address, ...]:
    """Parse a To/Cc list, keeping only the entries that parse strictly.

    Commas inside quoted names are honoured; an entry that is ambiguous is dropped rather than
    guessed at, so it can never make someone a participant of a ticket.
    """
    out: list[Address] = []
    for item in _split_list(value):
        if len(out) >= limit:
            break
        try:
            out.append(parse_address(item))
        except UnsafeAddress:
            continue
    return tuple(out)


def _split_list(value: str) -> list[str]:
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    depth = 0
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth = max(0, depth - 1)
        elif not quoted and depth == 0 and ch in ",;":
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    items.append("".join(current))
    return [item for item in (i.strip() for i in items) if item]


def format_address(address: Address) -> str:
    """Render for an outgoing header; the caller's header policy encodes non-ASCII names."""
    name = clean_header_value(address.name, NAME_MAX).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{name}" <{address.email}>' if name else address.email

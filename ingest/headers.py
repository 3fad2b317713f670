"""Header and charset decoding that never raises and never returns a line break.

Every decoded header value passes through ``clean_header_value``: CR, LF and every other control
character become spaces. That one rule is what keeps a Subject like ``=?utf-8?q?Hi=0ABcc:_x?=``
from ever becoming a second header when it is echoed into a reply (CVE-2024-6923).
"""

from __future__ import annotations

import codecs
import re
from email.errors import HeaderParseError
from email.header import Header, decode_header

from desk.limits import MESSAGE_ID_MAX

MAX_HEADER_CHARS = 4000

# Labels that mail clients write but Python does not know, or knows by a narrower table.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "shift-jis": "cp932",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
_SPACES = re.compile(r"[ \t]{2,}")
_MSGID = re.compile(rf"<[^<>\s]{{1,{MESSAGE_ID_MAX - 2}}}>")
_SURROGATE = re.compile(r"[\udc80-\udcff]")
# NUL, which PostgreSQL refuses in text, and surrogate code points, which UTF-8 cannot encode
# (a UTF-7 encoded word or a lying UTF-16 part decodes to lone ones).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


# Declared ASCII with 8-bit bytes in it is nearly always UTF-8: treat as undeclared.
_UNDECLARED = {"us-ascii", "ascii", "unknown-8bit", "x-unknown", "unknown", "default"}


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    label = charset.strip().strip("\"'").lower()
    if label in _UNDECLARED:
        return None
    label = _CHARSET_ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    # bytes.decode refuses non-text codecs anyway; checking here keeps the fallback uniform.
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def _byte_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Undecodable bytes inside UTF-8 are read one by one as cp1252 (latin-1 for its holes)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    chunk = exc.object[exc.start:exc.end]
    return "".join(_CP1252_OR_LATIN1[b] for b in chunk), exc.end


_CP1252_OR_LATIN1 = [
    bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256)
]
# Registering an error handler is process-global but idempotent and stateless.
codecs.register_error("switchboard-mixed", _byte_fallback)


def storable(text: str) -> str:
    """``text`` with every character that a database text column refuses replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode ``data`` declared as ``charset``; unknown or lying charsets fall back, never raise.

    The fallback is UTF-8 with stray bytes read as cp1252, which is right for the common mixes
    (UTF-8 text with a Latin-1 name pasted in) and linear in the input size. The result is
    always ``storable``.
    """
    codec = _codec(charset)
    if codec is not None:
        try:
            return storable(data.decode(codec))
        except (UnicodeError, LookupError, ValueError):
            pass
    return storable(data.decode("utf-8", errors="switchboard-mixed"))


def decode_8bit(text: str) -> str:
    """Raw 8-bit header bytes arrive as surrogate escapes; read them as UTF-8, else cp1252."""
    if not _SURROGATE.search(text):
        return text
    raw = text.encode("utf-8", errors="surrogateescape")
    return decode_bytes(raw, None)


def clean_header_value(value: str, limit: int = MAX_HEADER_CHARS) -> str:
    """One line of text: controls and line breaks become single spaces; length bounded."""
    text = _CONTROL.sub(" ", value)
    text = _SPACES.sub(" ", text).strip()
    return text[:limit]


def decode_header_value(value: str | Header | None, limit: int = MAX_HEADER_CHARS) -> str:
    """Decode encoded words and 8-bit bytes in a header value into one clean, storable line."""
    if value is None:
        return ""
    try:
        chunks = decode_header(value)
    except (HeaderParseError, ValueError, LookupError, UnicodeError):
        chunks = [(str(value), None)]
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            out.append(chunk)
        elif charset is None:
            # decode_header hands back unencoded runs as raw-unicode-escape bytes.
            out.append(chunk.decode("raw-unicode-escape", errors="replace"))
        else:
            out.append(decode_bytes(chunk, charset))
    return storable(clean_header_value(decode_8bit("".join(out)), limit))


def raw_header_text(value: str | Header | None) -> str:
    """The undecoded header as text (8-bit bytes kept as surrogates), for structured parsing."""
    if value is None:
        return ""
    if isinstance(value, Header):
        # compat32 wraps 8-bit headers in Header(charset=unknown-8bit); get the bytes back.
        parts = []
        for chunk, _charset in decode_header(value):
            parts.append(
                chunk if isinstance(chunk, str) else chunk.decode("ascii", "surrogateescape")
            )
        return "".join(parts)
    return value


def message_ids(value: str | Header | None, limit: int = 100) -> tuple[str, ...]:
    """Every ``<id>`` in a Message-ID / In-Reply-To / References value, in order, deduplicated."""
    text = clean_header_value(raw_header_text(value), 100_000)
    seen: dict[str, None] = {}
    for match in _MSGID.findall(text):
        if _SURROGATE.search(match):
            continue
        seen.setdefault(match, None)
        if len(seen) >= limit:
            break
    return tuple(seen)

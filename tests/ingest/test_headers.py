"""Header decoding and strict address parsing."""

from __future__ import annotations

import pytest

from ingest.addresses import Address, format_address, parse_address, parse_address_list
from ingest.errors import UnsafeAddress
from ingest.headers import clean_header_value, decode_bytes, decode_header_value, message_ids


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?utf-8?q?Hello=0D=0ABcc:_x@y?=", "Hello Bcc: x@y"),
        ("=?utf-8?b?SGkNCkJjYzogeEB5?=", "Hi Bcc: x@y"),
        ("plain\r\n folded", "plain folded"),
        ("=?iso-8859-1?q?caf=E9?= =?utf-8?q?_ok?=", "café ok"),
        ("=?nonsense-charset?q?caf=C3=A9?=", "café"),
        ("=?utf-8?q?broken", "=?utf-8?q?broken"),
        ("tab\there\x00nul\u2028ls", "tab here nul ls"),
        (None, ""),
    ],
)
def test_decode_header_value(raw: str | None, expected: str) -> None:
    assert decode_header_value(raw) == expected


def test_clean_header_value_limits_length() -> None:
    assert clean_header_value("a" * 50, 10) == "a" * 10


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        ("中文".encode("gb18030"), "gb2312", "中文"),
        ("€".encode("cp1252"), "iso-8859-1", "€"),
        (b"caf\xc3\xa9", "us-ascii", "café"),
        (b"caf\xe9", "utf-8", "café"),
        (b"x\x81y", "no-such", "x\x81y"),
        (b"abc", "zlib", "abc"),
        (b"abc", "rot13", "abc"),  # str-to-str codecs are not charsets
    ],
)
def test_decode_bytes(data: bytes, charset: str, expected: str) -> None:
    assert decode_bytes(data, charset) == expected


def test_message_ids_extracted_in_order_dedup_and_bounded() -> None:
    assert message_ids("<a@x> junk <b@y>\r\n <a@x>") == ("<a@x>", "<b@y>")
    assert len(message_ids(" ".join(f"<{i}@x>" for i in range(500)), 100)) == 100
    assert message_ids(None) == ()


@pytest.mark.parametrize(
    ("raw", "email", "name"),
    [
        ("alice@example.org", "alice@example.org", ""),
        ("<Alice@Example.ORG>", "alice@example.org", ""),
        ("Alice Smith <alice@example.org>", "alice@example.org", "Alice Smith"),
        ('"Smith, Alice" <alice@example.org>', "alice@example.org", "Smith, Alice"),
        ('"say \\"hi\\"" <a@b.c>', "a@b.c", 'say "hi"'),
        ("=?utf-8?q?J=C3=B6rg?= <j@x.de>", "j@x.de", "Jörg"),
        ("John Q. Public <jqp@x.org>", "jqp@x.org", "John Q. Public"),
        ("o'brien+tag@x.ie", "o'brien+tag@x.ie", ""),
        ("barry@python.org (Barry A. Warsaw)", "barry@python.org", "Barry A. Warsaw"),
        ("a@b.c (=?utf-8?q?J=C3=B6rg?=)", "a@b.c", "Jörg"),
    ],
)
def test_parse_address_accepts(raw: str, email: str, name: str) -> None:
    assert parse_address(raw) == Address(email, name)


@pytest.mark.parametrize(
    "raw",
    [
        "alice@example.org(<bob@example.com>",  # CVE-2023-27043
        "alice@example.org (bob@example.com)",
        "alice@example.org (Bob <bob@example.com>)",
        "alice@example.org (a (nested) comment)",
        "alice@example.org (unclosed",
        "(Bob) alice@example.org",
        "Alice <alice@example.org> (Bob)",
        "Evil <a@b.com> <c@d.com>",
        "a@b.com, c@d.com",
        "a@b@c.com",
        "<a@b.com",
        "name <>",
        "",
        "just a name",
        "a..b@c.com",
        ".a@c.com",
        "a@-c.com",
        "a@c.com\r\nBcc: x@y.z",  # cleaned to one line, then still two addresses
        "x" * 400 + "@example.org",
    ],
)
def test_parse_address_rejects(raw: str) -> None:
    with pytest.raises(UnsafeAddress):
        parse_address(raw)


def test_address_list_keeps_only_unambiguous_entries() -> None:
    got = parse_address_list('"Doe, J" <j@x.org>, bad(<c@d.org>; k@y.org, <>')
    assert [a.email for a in got] == ["j@x.org", "k@y.org"]


def test_format_address_quotes_names() -> None:
    assert format_address(Address("a@b.c", 'Evil "x"\r\nBcc: y')) == '"Evil \\"x\\" Bcc: y" <a@b.c>'
    assert format_address(Address("a@b.c")) == "a@b.c"

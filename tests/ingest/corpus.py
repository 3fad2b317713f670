"""The mail corpus: hand-written files in ``mails/`` plus generated hostile shapes.

The generated ones (thousands of nested multiparts, 100k empty parts) are built here rather
than committed because they are large and trivially regenerated.
"""

from __future__ import annotations

from pathlib import Path

MAILS = Path(__file__).parent / "mails"
# Test mails of the PyPI mail-parser 4.8.0 sdist (Apache-2.0; LICENSE.txt and NOTICE.txt beside
# them): real spam, phishing and malformed mail. Their attachments are never written anywhere.
MAIL_PARSER = MAILS / "mail-parser"
# CPython's own email test data, from Debian's libpython3.11-testsuite when it is installed.
CPYTHON_EMAIL_DATA = Path("/usr/lib/python3.11/test/test_email/data")


def nested_multiparts(depth: int) -> bytes:
    head = b"From: deep@example.org\r\nSubject: deep\r\nMessage-ID: <deep@example.org>\r\n"
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nbottom" + closing


def empty_parts(count: int) -> bytes:
    return (
        b"From: many@example.org\r\nSubject: many\r\nMessage-ID: <many@example.org>\r\n"
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n'
        + b"--x\r\n\r\n" * count
        + b"--x--\r\n"
    )


def files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(MAILS.glob("*.eml"))}


def mail_parser() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(MAIL_PARSER.glob("mail_*"))}


def cpython_email_data() -> dict[str, bytes]:
    """Empty when the Debian package is not installed."""
    return {p.name: p.read_bytes() for p in sorted(CPYTHON_EMAIL_DATA.glob("msg_*.txt"))}


def everything() -> dict[str, bytes]:
    return {
        **files(),
        **{f"mail-parser:{k}": v for k, v in mail_parser().items()},
        **{f"cpython:{k}": v for k, v in cpython_email_data().items()},
        "generated:nested_2000": nested_multiparts(2000),
        "generated:nested_30": nested_multiparts(30),
        "generated:empty_parts_100k": empty_parts(100_000),
        "generated:empty_parts_200": empty_parts(200),
    }


def simple(
    *,
    sender: str = "Alice <alice@example.org>",
    to: str = "support@desk.example",
    subject: str = "Printer on fire",
    body: str = "It is really on fire.",
    message_id: str | None = "<m1@example.org>",
    extra: str = "",
) -> bytes:
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}"]
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    if extra:
        lines.extend(extra.strip("\n").split("\n"))
    lines += ["Content-Type: text/plain; charset=utf-8", "", body, ""]
    return "\r\n".join(lines).encode()

"""Outbound composition: deterministic ids, threading headers, no header injection."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default

import pytest

from ingest.addresses import Address
from ingest.compose import (
    Outgoing,
    compose,
    is_own_message_id,
    message_id_for,
    ticket_subject,
)
from ingest.errors import HeaderInjection
from ingest.mime import parse
from tests.ingest import corpus

SECRET = "s3cret"
WHEN = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def outgoing(**changes: object) -> Outgoing:
    base: dict[str, object] = {
        "sender": Address("support@desk.example", "Support"),
        "to": (Address("alice@example.org", "Alice"),),
        "subject": "Re: Printer [SB-1234567]",
        "text": "We are on it.",
        "message_id": message_id_for("outbound:7", "desk.example", SECRET),
        "date": WHEN,
    }
    base.update(changes)
    return Outgoing(**base)  # type: ignore[arg-type]


def test_message_id_deterministic_and_verifiable() -> None:
    a = message_id_for("outbound:7", "desk.example", SECRET)
    assert a == message_id_for("outbound:7", "desk.example", SECRET)
    assert a != message_id_for("outbound:8", "desk.example", SECRET)
    assert a.startswith("<sb.") and a.endswith("@desk.example>")
    assert is_own_message_id(a, SECRET)
    assert not is_own_message_id(a, "other")
    assert not is_own_message_id(a.replace("desk.example", "evil.example"), SECRET)
    assert not is_own_message_id(None, SECRET)
    assert not is_own_message_id("<x@desk.example>", SECRET)


@pytest.mark.parametrize(
    ("subject", "reply", "expected"),
    [
        ("Printer", False, "Printer [SB-1234567]"),
        ("Re: RE: AW: Printer [SB-1234567]", True, "Re: Printer [SB-1234567]"),
        ("", False, "Your request [SB-1234567]"),
        ("Hi\r\nBcc: x@y", True, "Re: Hi Bcc: x@y [SB-1234567]"),
    ],
)
def test_ticket_subject(subject: str, reply: bool, expected: str) -> None:
    assert ticket_subject(subject, "SB-1234567", "Your request", reply=reply) == expected


def test_compose_headers_and_threading() -> None:
    raw = compose(
        outgoing(
            in_reply_to="<customer@example.org>",
            references=("<root@example.org>", "bogus", "<customer@example.org>"),
            auto_generated=True,
            loop_marker="support@desk.example",
            html="<p>We are on it.</p>",
        )
    )
    msg = message_from_bytes(raw, policy=default)
    assert msg["From"] == "Support <support@desk.example>"
    assert msg["Message-ID"] == message_id_for("outbound:7", "desk.example", SECRET)
    assert msg["In-Reply-To"] == "<customer@example.org>"
    assert msg["References"] == "<root@example.org> <customer@example.org>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Loop"] == "support@desk.example"
    assert b"\r\n" in raw and b"\n\n" not in raw.replace(b"\r\n", b"")
    assert "We are on it." in raw.decode()


def test_references_trimmed_keeping_root() -> None:
    refs = tuple(f"<r{i}@x>" for i in range(50))
    msg = message_from_bytes(compose(outgoing(references=refs)), policy=default)
    kept = str(msg["References"]).split()
    assert len(kept) == 20 and kept[0] == "<r0@x>" and kept[-1] == "<r49@x>"


def test_inbound_subject_with_encoded_newline_cannot_inject() -> None:
    """CVE-2024-6923: a Subject decoded from =?..?= with CRLF + Bcc echoed into a reply."""
    inbound = parse(corpus.files()["encoded_newline_subject.eml"])
    raw = compose(outgoing(subject=ticket_subject(inbound.subject, "SB-1234567", "Your request",
                                                    reply=True),
                           to=(Address("a@b.c", "x\r\nBcc: v@x.y"),)))
    msg = message_from_bytes(raw, policy=default)
    assert msg["Bcc"] is None
    assert "victim" in msg["Subject"]
    assert sorted(set(msg.keys())) == sorted(msg.keys())


def test_raw_newline_in_every_field_is_neutralised() -> None:
    evil = "x\r\nBcc: victim@example.com\r\n\r\nbody"
    raw = compose(outgoing(subject=evil, in_reply_to=evil, references=(evil,),
                           loop_marker=evil, extra_headers=(("X-Ticket", evil),)))
    msg = message_from_bytes(raw, policy=default)
    assert msg["Bcc"] is None and msg["In-Reply-To"] is None


@pytest.mark.parametrize(
    "changes",
    [
        {"to": ()},
        {"message_id": "not-an-id"},
        {"extra_headers": (("Bcc", "x@y.z"),)},
        {"extra_headers": (("X-Bad\r\nBcc", "x"),)},
    ],
)
def test_refusals(changes: dict[str, object]) -> None:
    with pytest.raises(HeaderInjection):
        compose(outgoing(**changes))

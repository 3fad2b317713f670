"""Auto-reply, bulk, bounce and own-mail classification."""

from __future__ import annotations

import pytest

from ingest.compose import message_id_for
from ingest.loops import Kind, classify
from ingest.mime import parse
from tests.ingest import corpus

SECRET = "test-secret"
FILES = corpus.files()


@pytest.mark.parametrize(
    ("extra", "kind"),
    [
        ("", Kind.PERSON),
        ("Auto-Submitted: no", Kind.PERSON),
        ("Auto-Submitted: auto-replied", Kind.AUTO_REPLY),
        ("Auto-Submitted: auto-generated; owner-email=x@y", Kind.AUTO_REPLY),
        ("X-Autoreply: yes", Kind.AUTO_REPLY),
        ("X-Autorespond: yes", Kind.AUTO_REPLY),
        ("X-Auto-Response-Suppress: OOF", Kind.AUTO_REPLY),
        ("X-Loop: support@desk.example", Kind.AUTO_REPLY),
        ("Precedence: bulk", Kind.BULK),
        ("Precedence: List", Kind.BULK),
        ("Precedence: junk", Kind.BULK),
        ("Precedence: first-class", Kind.PERSON),
        ("Return-Path: <>", Kind.AUTO_REPLY),
        ("Return-Path: < >", Kind.AUTO_REPLY),
        ("Return-Path: <alice@example.org>", Kind.PERSON),
    ],
)
def test_header_rules(extra: str, kind: Kind) -> None:
    verdict = classify(parse(corpus.simple(extra=extra)), SECRET)
    assert verdict.kind is kind
    assert verdict.may_auto_answer is (kind is Kind.PERSON)


def test_mailer_daemon_sender() -> None:
    raw = corpus.simple(sender="MAILER-DAEMON@mx.example.net")
    assert classify(parse(raw), SECRET).kind is Kind.AUTO_REPLY


def test_no_readable_sender_is_never_answered() -> None:
    assert not classify(parse(FILES["ambiguous_from.eml"]), SECRET).may_auto_answer


def test_bounce_names_recipient_and_original() -> None:
    verdict = classify(parse(FILES["bounce_dsn.eml"]), SECRET)
    assert verdict.kind is Kind.BOUNCE and verdict.bounce is not None
    assert verdict.bounce.recipients == ("gone@example.net",)
    assert verdict.bounce.original_message_id == "<original-notification@desk.example>"
    assert verdict.bounce.status == "5.1.1"


def test_delayed_dsn_is_not_a_bounce_but_never_answered() -> None:
    verdict = classify(parse(FILES["delayed_dsn.eml"]), SECRET)
    assert verdict.kind is Kind.AUTO_REPLY and verdict.bounce is None


def test_own_message_id_only_with_valid_tag() -> None:
    ours = message_id_for("outbound:1", "desk.example", SECRET)
    assert classify(parse(corpus.simple(message_id=ours)), SECRET).kind is Kind.OWN
    forged = ours[:-20] + "0" * 5 + ours[-15:]
    assert classify(parse(corpus.simple(message_id=forged)), SECRET).kind is Kind.PERSON
    other_secret = classify(parse(corpus.simple(message_id=ours)), "other")
    assert other_secret.kind is Kind.PERSON

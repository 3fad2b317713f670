"""Every mail of the corpus parses or is quarantined as PoisonMail: nothing else escapes."""

from __future__ import annotations

import pytest

from ingest.addresses import Address
from ingest.errors import PoisonMail
from ingest.loops import classify
from ingest.mime import Limits, parse
from tests.ingest import corpus

CORPUS = corpus.everything()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_parses_or_quarantines(name: str) -> None:
    try:
        mail = parse(CORPUS[name])
    except PoisonMail as exc:
        assert exc.reason
        return
    classify(mail, "secret")
    values = [v for vs in mail.headers.values() for v in vs]
    for value in (mail.subject, mail.from_display, *values):
        assert "\n" not in value and "\r" not in value
    for att in mail.attachments:
        assert att.filename and "/" not in att.filename and "\\" not in att.filename
        assert "\x00" not in att.filename
    assert "<script" not in mail.html.lower()
    assert "onerror" not in mail.html.lower()


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("generated:nested_2000", "multipart"),
        ("generated:empty_parts_100k", "parts"),
    ],
)
def test_hostile_shapes_are_poison(name: str, needle: str) -> None:
    with pytest.raises(PoisonMail, match=needle):
        parse(CORPUS[name])


def test_nesting_deeper_than_limit_without_prescan_still_poison() -> None:
    # Depth beyond max_depth but under the multipart pre-scan: caught by the bounded walk.
    with pytest.raises(PoisonMail, match="nesting"):
        parse(corpus.nested_multiparts(30), Limits(max_depth=10))


def test_recursion_error_becomes_poison() -> None:
    # With the pre-scan disabled the stdlib parser itself recurses too deep.
    limits = Limits(max_multiparts=10**9, max_parts=10**9, max_depth=10**9)
    with pytest.raises(PoisonMail, match="recursion"):
        parse(corpus.nested_multiparts(2000), limits)


def test_moderate_nesting_and_part_counts_parse() -> None:
    assert parse(corpus.nested_multiparts(15)).text == "bottom"
    assert parse(corpus.empty_parts(200)).text == ""


# What the parse records for the malformed mails of mail-parser's corpus (found by this test;
# each is a real-world breakage that must be visible on the parse, not silently eaten).
MALFORMED = {
    "mail_malformed_1": {"StartBoundaryNotFoundDefect"},
    "mail_malformed_2": {"StartBoundaryNotFoundDefect"},
    "mail_malformed_3": {"StartBoundaryNotFoundDefect", "MultipartInvariantViolationDefect"},
    "mail_outlook_1": {"MissingHeaderBodySeparatorDefect"},  # a binary .msg, not MIME
    "mail_test_1": {"CloseBoundaryNotFoundDefect"},
    "mail_test_11": {"CloseBoundaryNotFoundDefect"},
    "mail_test_15": {"UnparseableFromAddress"},  # From: a@x <b@y>, phishing style
    "mail_test_17": {"CloseBoundaryNotFoundDefect"},
    "mail_test_19": {"UnparseableFromAddress", "UnparseableReplyToAddress"},
    "mail_test_6": {"InvalidMultipartContentTransferEncodingDefect"},
}


@pytest.mark.parametrize("name", sorted(corpus.mail_parser()))
def test_mail_parser_corpus_parses_with_its_defects_recorded(name: str) -> None:
    # Real mail, however broken, becomes a ticket: none of it may be quarantined.
    mail = parse(corpus.mail_parser()[name])
    assert set(mail.defects) == MALFORMED.get(name, set())


def test_mail_parser_corpus_is_complete_and_licensed() -> None:
    assert len(corpus.mail_parser()) == 23
    assert "Apache License" in (corpus.MAIL_PARSER / "LICENSE.txt").read_text()
    assert (corpus.MAIL_PARSER / "NOTICE.txt").exists()


def test_raw_utf8_filename_and_old_style_sender() -> None:
    mail = parse(corpus.mail_parser()["mail_test_1"])
    assert [a.filename for a in mail.attachments] == ["ФНС_РФ558.zip"]
    py = corpus.CPYTHON_EMAIL_DATA / "msg_01.txt"
    if py.exists():  # From: bbb@ddd.com (John X. Doe)
        sender = parse(py.read_bytes()).sender
        assert sender == Address("bbb@ddd.com", "John X. Doe")


@pytest.mark.skipif(not corpus.cpython_email_data(),
                    reason="libpython3.11-testsuite not installed (scripts/setup-machine)")
def test_cpython_email_data_present() -> None:
    # The data mails themselves run through test_parses_or_quarantines above.
    assert len(corpus.cpython_email_data()) >= 40

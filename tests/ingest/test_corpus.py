"""Every mail of the corpus parses or is quarantined as PoisonMail: nothing else escapes."""

from __future__ import annotations

import pytest

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

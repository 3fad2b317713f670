"""desk.kb.rules: audiences, publishing, article and site input, languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from desk.errors import InvalidInput
from desk.kb import rules
from desk.kb.rules import (
    Reader,
    accepted_languages,
    audiences,
    check_article,
    check_kb_site,
    choose_language,
    may_publish,
    may_read,
)
from desk.limits import ARTICLE_TAGS_MAX, ARTICLE_TITLE_MAX, ID_MAX

LANGS = ("en", "de")


def test_internal_articles_only_for_staff() -> None:
    assert audiences(Reader.PUBLIC) == ("public",)
    assert set(audiences(Reader.STAFF)) == {"public", "internal"}
    assert may_read(Reader.STAFF, "internal", "published")
    assert not may_read(Reader.PUBLIC, "internal", "published")
    assert may_read(Reader.PUBLIC, "public", "published")
    for status in ("draft", "archived"):
        assert not may_read(Reader.PUBLIC, "public", status)
        assert not may_read(Reader.STAFF, "public", status)


@pytest.mark.parametrize(("role", "setting", "ok"), [
    ("admin", False, True), ("admin", True, True), ("agent", False, False),
    ("supervisor", False, False), ("agent", True, True), ("supervisor", True, True),
])
def test_may_publish(role: str, setting: bool, ok: bool) -> None:
    assert may_publish(role, setting) is ok


def _article(**data: Any) -> dict[str, Any]:
    return {"title": "Reset your password", "body": "Open settings.", "language": "en", **data}


def test_article_create() -> None:
    inp = check_article(_article(tags=["Login", "login", " Two  words "], related_ids=[3, 3, 4],
                                 audience="internal", topic_id=5, slug="reset"),
                        languages=LANGS, creating=True)
    assert inp.title == "Reset your password" and inp.language == "en"
    assert inp.tags == ("login", "two words") and inp.related_ids == (3, 4)
    assert inp.audience == "internal" and inp.topic_id == 5 and inp.topic_given


@pytest.mark.parametrize(("data", "field"), [
    ({"title": None}, "title"), ({"body": None}, "body"), ({"language": None}, "language"),
    ({"title": ""}, "title"), ({"title": "x" * (ARTICLE_TITLE_MAX + 1)}, "title"),
    ({"title": "a\x00b"}, "title"), ({"title": 5}, "title"),
    ({"language": "fr"}, "language"), ({"language": ["en"]}, "language"),
    ({"audience": "secret"}, "audience"), ({"topic_id": 0}, "topic_id"),
    ({"topic_id": ID_MAX + 1}, "topic_id"), ({"topic_id": True}, "topic_id"),
    ({"tags": "a,b"}, "tags"), ({"tags": ["a,b"]}, "tags"), ({"tags": [""]}, "tags"),
    ({"tags": ["x"] * (ARTICLE_TAGS_MAX + 1)}, "tags"), ({"tags": [1]}, "tags"),
    ({"related_ids": [0]}, "related_ids"), ({"related_ids": ["1"]}, "related_ids"),
    ({"slug": "Bad Slug"}, "slug"), ({"slug": "-x"}, "slug"), ({"slug": "x" * 81}, "slug"),
    ({"publish": "yes"}, "publish"), ({"translation_of": -1}, "translation_of"),
    ({"colour": "red"}, "colour"), ({"body": "x" * 100_001}, "body"),
])
def test_article_bad_input(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_article(_article(**data), languages=LANGS, creating=True)
    assert err.value.field == field


def test_article_update_is_partial() -> None:
    inp = check_article({"body": "new"}, languages=LANGS, creating=False)
    assert inp.title is None and inp.body == "new" and not inp.topic_given
    assert check_article({"topic_id": None}, languages=LANGS, creating=False).topic_given
    with pytest.raises(InvalidInput):
        check_article({"translation_of": 3}, languages=LANGS, creating=False)


def test_kb_site() -> None:
    inp = check_kb_site({"languages": ["en", "de", "en"], "default_language": "de",
                         "agents_publish": True,
                         "synonyms": [["Invoice", "bill", "receipt"], ["log in", "sign in"]]})
    assert inp.languages == ("en", "de") and inp.default_language == "de"
    assert inp.synonyms == (("invoice", "bill", "receipt"), ("log in", "sign in"))
    assert check_kb_site({}).languages == ("en",)


@pytest.mark.parametrize("data", [
    {"languages": []}, {"languages": ["EN"]}, {"languages": ["english"]}, {"languages": "en"},
    {"languages": ["en"], "default_language": "de"}, {"agents_publish": 1},
    {"synonyms": [["one"]]}, {"synonyms": [["a", 'b"']]}, {"synonyms": [["a", "x" * 65]]},
    {"synonyms": "a=b"}, {"synonyms": [["a", None]]}, {"synonyms": [["a", "b"]] * 501},
])
def test_kb_site_bad_input(data: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        check_kb_site(data)


def test_accept_language() -> None:
    assert accepted_languages("de-CH,de;q=0.9,en;q=0.8") == ["de-ch", "de", "en"]
    assert accepted_languages("en;q=0.1, fr") == ["fr", "en"]
    assert accepted_languages("*;q=0.5, xx;q=0") == []
    assert accepted_languages("en;q=abc, de") == ["de"]
    assert accepted_languages(None) == []
    assert len(accepted_languages("a," * 10_000)) <= 30


def test_language_fallback() -> None:
    assert choose_language(["fr", "de"], ["en", "de"], "en") == "de"
    assert choose_language(["fr"], ["en", "de"], "en") == "en"
    assert choose_language([], ["de"], "en") == "de"


def test_same_search_while_typing_or_refining() -> None:
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert rules.same_search("how do i res", t0, "reset my router", t0 + timedelta(seconds=5))
    assert rules.same_search("Reset", t0, "reset my router", t0 + timedelta(minutes=2))
    assert rules.same_search("reset my router", t0, "reset my", t0 + timedelta(minutes=2))
    assert not rules.same_search("invoice", t0, "reset my router", t0 + timedelta(seconds=30))
    assert not rules.same_search("reset", t0, "reset my router", t0 + timedelta(minutes=6))

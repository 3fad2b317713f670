"""desk.kb.stem and desk.kb.query: terms per language and questions as safe queries (pure)."""

from __future__ import annotations

import pytest

from desk.kb.query import build, trimmed
from desk.kb.stem import english, german, guess_language, overlap, pg_config, terms
from desk.search_query import TERMS_MAX, BadQuery


@pytest.mark.parametrize(("word", "stem"), [
    ("invoices", "invoic"), ("invoiced", "invoic"), ("invoice", "invoic"),
    ("downloading", "download"), ("downloads", "download"), ("running", "run"),
    ("policies", "polici"), ("policy", "polici"), ("boxes", "box"), ("addresses", "address"),
    ("status", "status"), ("quickly", "quick"), ("shipped", "ship"), ("it's", "it"),
])
def test_english(word: str, stem: str) -> None:
    assert english(word) == stem


@pytest.mark.parametrize(("word", "stem"), [
    ("aufeinanderfolgenden", "aufeinanderfolg"), ("kategorischen", "kategor"),
    ("häufigkeit", "haufig"), ("passwörter", "passwort"), ("rechnungen", "rechnung"),
    ("bestellungen", "bestell"), ("kündigung", "kundig"), ("kündigen", "kundig"),
    ("größe", "gross"), ("ereignisse", "ereignis"),
])
def test_german_snowball(word: str, stem: str) -> None:
    assert german(word) == stem


def test_terms_drop_stop_words_and_fold() -> None:
    assert terms("How do I download my Invoices?", "en") == ["download", "invoic"]
    assert terms("Wie kann ich meine Rechnungen öffnen", "de") == ["rechnung", "offn"]
    assert terms("Ça coûte combien", "fr") == ["ca", "coute", "combien"]  # folded, unstemmed
    assert terms("", "en") == []


def test_pg_config() -> None:
    assert pg_config("en") == "english" and pg_config("de-ch") == "german"
    assert pg_config("xx") == "simple"


def test_guess_language() -> None:
    assert guess_language("Ich habe meine Rechnung nicht", ["en", "de"], "en") == "de"
    assert guess_language("I have not got my bill", ["en", "de"], "de") == "en"
    assert guess_language("Rechnung invoice", ["en", "de"], "de") == "de"


def test_overlap_prefers_more_and_rarer() -> None:
    q = terms("download my invoice", "en")
    assert overlap(q, terms("Invoice copy: download it", "en")) > \
        overlap(q, terms("Hello there, download", "en")) > 0
    assert overlap(q, []) == 0 and overlap([], q) == 0


def test_query_groups_and_synonyms() -> None:
    q = build("Where is my bill?", "en", [["invoice", "bill", "receipt"]])
    assert [g.sqlite for g in q.groups] == [("bill", "invoic", "receipt")]
    assert q.fts5() == '"bill" OR "invoic" OR "receipt"'
    assert q.pg_words() == ["bill?", "invoice", "bill", "receipt"]


def test_query_phrases_stay_phrases() -> None:
    q = build('"sign in" problems', "en", [["log in", "sign in"]])
    assert q.groups[0].sqlite == ("sign", "log")
    assert build('"credit card" expired', "en").groups[0].sqlite == ("credit card",)


@pytest.mark.parametrize("raw", [
    'a" OR "b', "NEAR(a b)", "title:x", "x*", "-x", "^x", "(x", "x)", "x AND", "'; DROP --",
    "\x00x", "a & b | !c", "x:*", "<->", "\\", '"""',
])
def test_operators_are_quoted_text(raw: str) -> None:
    match = build(raw, "en").fts5()
    # Every alternative is one "..." string with inner quotes doubled: nothing else remains.
    inside = match.replace('""', "")
    assert all(part.startswith('"') and part.endswith('"')
               for part in inside.split(" OR ") if part), match


def test_only_stop_words_is_empty() -> None:
    assert build("how do I", "en").empty and build("", "de").empty


def test_limits() -> None:
    with pytest.raises(BadQuery):
        build("x" * 501, "en")
    with pytest.raises(BadQuery):
        build(" ".join(f"w{i}" for i in range(TERMS_MAX + 1)), "en")


def test_trimmed_keeps_the_last_words_within_limits() -> None:
    text = " ".join(f"word{i}" for i in range(100)) + " the and of my invoice"
    cut = trimmed(text, "en")
    assert cut.endswith("invoice") and "the" not in cut.split()
    assert len(cut.split()) <= TERMS_MAX and len(cut) <= 500
    build(cut, "en")  # always a valid query
    assert trimmed('say "quoted words" here', "en") == "say quoted words here"

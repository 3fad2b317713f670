"""The message catalogues: every shipped language has every message, with the same
placeholders, nothing fuzzy; and the pure helpers (fill, tags, negotiate)."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from babel.messages.pofile import read_po

from desk import i18n
from desk.catalogues import LOCALE_DIR, load, shipped

ROOT = Path(__file__).resolve().parents[2]


def _entries(lang: str) -> dict[str, str]:
    with (LOCALE_DIR / f"{lang}.po").open("rb") as f:
        catalog = read_po(f, locale=lang)
    return {m.id: m.string for m in catalog if m.id and isinstance(m.id, str)
            and not m.fuzzy and isinstance(m.string, str)}


def test_every_language_has_every_message_with_its_placeholders() -> None:
    english = _entries("en")
    assert len(english) > 100
    for lang in i18n.LANGUAGES:
        entries = _entries(lang)
        assert entries.keys() == english.keys(), lang
        missing = [k for k, v in entries.items() if not v.strip()]
        assert not missing, f"{lang}: untranslated {missing}"
        wrong = [k for k, v in entries.items()
                 if i18n.placeholders(v) != i18n.placeholders(english[k])]
        assert not wrong, f"{lang}: placeholders differ from English in {wrong}"


def test_no_fuzzy_entries() -> None:
    for lang in i18n.LANGUAGES:
        text = (LOCALE_DIR / f"{lang}.po").read_text("utf-8")
        assert "#, fuzzy" not in text.split("\n\n", 1)[1], lang


def test_translations_are_not_english_copies() -> None:
    """A cheap guard against a pasted English catalogue: most messages differ from English."""
    english = _entries("en")
    for lang in ("de", "es", "fr"):
        entries = _entries(lang)
        same = [k for k in english if entries[k] == english[k]]
        assert len(same) < len(english) // 10, (lang, same)


def test_every_message_id_used_in_code_exists() -> None:
    english = _entries("en")
    used: set[str] = set()
    pattern = re.compile(r"""\bt\(\s*["']((?:widget|kb|case|common|help|mail)\.[a-z_.]+)["']""")
    for path in [*ROOT.glob("widget/static/**/*.js"), *ROOT.glob("widget/static/*.js"),
                 *ROOT.glob("desk/**/*.py"), *ROOT.glob("ingest/**/*.py"),
                 *ROOT.glob("realtime/**/*.py")]:
        used |= set(pattern.findall(path.read_text("utf-8")))
    assert used, "the scan found no t(...) calls"
    assert not used - english.keys()


def test_shipped_loads_and_translates() -> None:
    books = shipped()
    assert books is shipped()
    de = books.translator("de")
    assert de("widget.start_chat") == "Chat starten"
    assert de("widget.chatting_with", name="Ana") == "Sie chatten mit Ana"
    assert books.translator("xx").language == "en"
    assert books.translator(None)("widget.send") == "Send"


def test_missing_message_falls_back_to_english_then_the_id(tmp_path: Path) -> None:
    for lang in i18n.LANGUAGES:
        body = 'msgid "a.b"\nmsgstr "AB {x}"\n' if lang == "en" else ""
        (tmp_path / f"{lang}.po").write_text('msgid ""\nmsgstr ""\n\n' + body, "utf-8")
    books = load(tmp_path)
    assert books.translator("fr")("a.b", x=1) == "AB 1"
    assert books.translator("fr")("c.d") == "c.d"


def test_document_is_the_catalogue_as_json() -> None:
    books = shipped()
    doc = orjson.loads(books.document("fr"))
    assert doc["language"] == "fr"
    assert doc["messages"]["widget.send"] == "Envoyer"
    assert set(doc["languages"]) == set(i18n.LANGUAGES)
    assert books.etag("fr") != books.etag("de")
    assert orjson.loads(books.document("xx"))["language"] == "en"


@pytest.mark.parametrize(("template", "params", "out"), [
    ("Hi {name}", {"name": "Bo"}, "Hi Bo"),
    ("Hi {name}", {}, "Hi {name}"),
    ("{a}{a}", {"a": 1}, "11"),
    ("{ not one }", {}, "{ not one }"),
    ("{name}", {"name": "{other}", "other": "x"}, "{other}"),
])
def test_fill(template: str, params: dict[str, object], out: str) -> None:
    assert i18n.fill(template, params) == out


def test_known() -> None:
    assert i18n.known("de") == "de" and i18n.known("xx") is None and i18n.known(3) is None

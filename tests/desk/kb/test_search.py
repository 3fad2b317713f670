"""KB search on the database's full-text engine (both databases): stemming per language,
title weight, synonyms, the audience rule, language fallback, FTS operators as plain text."""

from __future__ import annotations

from typing import Any

import pytest

from desk.db import SessionMaker
from desk.kb import articles, rules
from desk.kb.rules import Reader
from desk.kb.search import search
from desk.models import Agent, KbSite, Site
from desk.search_query import BadQuery
from tests.desk.kb.conftest import staff

SYNONYMS = [["invoice", "bill", "receipt"], ["rechnung", "beleg"]]
ARTICLES = [
    ("en", "Download an invoice", "Open the billing page and press the PDF button.", "public"),
    ("en", "Change your password", "Passwords are changed under Settings, Security.", "public"),
    ("en", "Shipping times", "Parcels ship within two days. The invoice is in the parcel.",
     "public"),
    ("en", "Refund abuse checklist", "Internal: how to spot refund fraud on invoices.",
     "internal"),
    ("de", "Rechnung herunterladen", "Öffnen Sie die Abrechnung und laden Sie das PDF.",
     "public"),
    ("de", "Passwort ändern", "Passwörter ändern Sie unter Einstellungen.", "public"),
]


@pytest.fixture
async def kb(sm: SessionMaker) -> dict[str, Any]:
    async with sm() as s:
        site = Site(key="site_search", name="Search site")
        s.add(site)
        s.add(Agent(id=1, email="a@x.test", display_name="A", password_hash="x", role="admin"))
        await s.flush()
        s.add(KbSite(site_id=site.id, languages=["en", "de"], default_language="en",
                     synonyms=SYNONYMS))
        ids = []
        for lang, title, body, audience in ARTICLES:
            inp = rules.check_article({"title": title, "body": body, "language": lang,
                                       "audience": audience, "publish": True},
                                      languages=["en", "de"], creating=True)
            a = await articles.create(s, site.id, inp, staff(1), "https://desk.test")
            ids.append(a.id)
        draft = rules.check_article({"title": "Invoice draft", "body": "invoice invoice",
                                     "language": "en"}, languages=["en"], creating=True)
        await articles.create(s, site.id, draft, staff(1), "https://desk.test")
        await s.commit()
        return {"site": site.id, "ids": ids}



async def _titles(sm: SessionMaker, kb: dict[str, Any], q: str, lang: str = "en",
                  reader: Reader = Reader.PUBLIC) -> list[str]:
    async with sm() as s:
        hits = await search(s, kb["site"], q, lang, "en", SYNONYMS, reader)
        return [h.article.title for h in hits]


async def test_stemming_and_title_weight(sm: SessionMaker, kb: dict[str, Any]) -> None:
    found = await _titles(sm, kb, "how do I download my invoices?")
    assert found[0] == "Download an invoice"
    assert "Shipping times" in found  # the body mentions an invoice: lower
    assert (await _titles(sm, kb, "changing passwords"))[0] == "Change your password"


async def test_synonyms(sm: SessionMaker, kb: dict[str, Any]) -> None:
    assert (await _titles(sm, kb, "where is my bill"))[0] in {"Download an invoice",
                                                              "Shipping times"}
    assert (await _titles(sm, kb, "Beleg", "de"))[0] == "Rechnung herunterladen"


async def test_german_stemming(sm: SessionMaker, kb: dict[str, Any]) -> None:
    assert (await _titles(sm, kb, "Rechnungen herunterladen", "de"))[0] == \
        "Rechnung herunterladen"
    assert (await _titles(sm, kb, "Passwörter", "de"))[0] == "Passwort ändern"


async def test_internal_only_for_staff(sm: SessionMaker, kb: dict[str, Any]) -> None:
    assert "Refund abuse checklist" not in await _titles(sm, kb, "refund fraud")
    assert "Refund abuse checklist" in await _titles(sm, kb, "refund fraud",
                                                     reader=Reader.STAFF)
    assert "Invoice draft" not in await _titles(sm, kb, "invoice", reader=Reader.STAFF)


async def test_language_fallback(sm: SessionMaker, kb: dict[str, Any]) -> None:
    assert await _titles(sm, kb, "shipping parcels", "de") == ["Shipping times"]


@pytest.mark.parametrize("q", [
    'invoice" OR "password', "NEAR(invoice password)", "title:invoice", "invoice*", "-invoice",
    "^invoice", "invoice AND", "(invoice", "invoice)", "'; DROP TABLE kb_articles; --",
    "\x00invoice", "!invoice & password | x", "invoice:*", "<->", "\\", "%_", "\"\"\"",
])
async def test_operators_are_text(sm: SessionMaker, kb: dict[str, Any], q: str) -> None:
    await _titles(sm, kb, q)
    await _titles(sm, kb, q, "de")


async def test_limits(sm: SessionMaker, kb: dict[str, Any]) -> None:
    assert await _titles(sm, kb, "") == []
    assert await _titles(sm, kb, "the and of") == []
    with pytest.raises(BadQuery):
        await _titles(sm, kb, "x" * 501)

"""The texts of the customer mails (pure): each carries the case link; link-only hides the
reply; each is in the customer's language."""

from __future__ import annotations

import pytest

from desk.catalogues import shipped
from desk.i18n import LANGUAGES
from ingest import notices

LINK = "https://help.example/c/SB-1234567?t=v1.abc.def"
EN = shipped().translator("en")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_notice_carries_the_link(lang: str) -> None:
    t = shipped().translator(lang)
    texts = [notices.created(t, "SB-1234567", "Printer", LINK),
             notices.reply(t, "SB-1234567", "Try this.", LINK, with_text=True),
             notices.reply(t, "SB-1234567", "Try this.", LINK, with_text=False),
             notices.closed(t, "SB-1234567", "resolved", LINK),
             notices.transcript(t, "SB-1234567", ["[10:00] Ann: hi"], LINK),
             notices.reminder(t, "SB-1234567", 7, LINK),
             notices.inactive_closed(t, "SB-1234567", 21, LINK)]
    for text in texts:
        assert LINK in text and "SB-1234567" in text
        assert "{" not in text, text  # every placeholder filled
    assert LINK in notices.signin(t, LINK, 900) and "15" in notices.signin(t, LINK, 900)


def test_link_only_says_there_is_news_without_the_text() -> None:
    text = notices.reply(EN, "SB-1234567", "The secret answer", LINK, with_text=False)
    assert "The secret answer" not in text and "new activity" in text
    assert "The secret answer" in notices.reply(EN, "SB-1234567", "The secret answer", LINK,
                                                with_text=True)


def test_the_closing_links_to_the_survey() -> None:
    assert LINK + notices.SURVEY_ANCHOR in notices.closed(EN, "SB-1234567", "closed", LINK)


def test_the_acknowledgement_tells_the_expected_response() -> None:
    body = notices.created(EN, "SB-1234567", "Order", "http://x/c/1", "by Tuesday 10:00")
    assert "We will answer by Tuesday 10:00." in body
    assert "We will answer" not in notices.created(EN, "SB-1234567", "Order", "http://x/c/1")


def test_in_french_and_spanish() -> None:
    fr, es = shipped().translator("fr"), shipped().translator("es")
    assert "Votre demande SB-1234567 a été résolue." in notices.closed(fr, "SB-1234567",
                                                                       "resolved", LINK)
    assert "Su caso SB-1234567 se ha cerrado." in notices.closed(es, "SB-1234567", "closed", LINK)
    assert "(sans objet)" in notices.created(fr, "SB-1234567", "", LINK)


def test_customer_text_is_never_read_as_placeholders() -> None:
    body = notices.transcript(EN, "SB-1", ["[10:00] Ann: my {link} and {number}"], LINK)
    assert "my {link} and {number}" in body


def test_transcript_authors() -> None:
    de = shipped().translator("de")
    assert notices.author(de, None, "contact") == "Sie"
    assert notices.author(de, None, "agent") == "Mitarbeiter"
    assert notices.author(de, "Ana", "agent") == "Ana"

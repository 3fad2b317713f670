"""The texts of the customer mails (pure): each carries the case link; link-only hides the reply."""

from __future__ import annotations

from ingest import notices

LINK = "https://help.example/c/SB-1234567?t=v1.abc.def"


def test_every_notice_carries_the_link() -> None:
    texts = [notices.created("SB-1234567", "Printer", LINK),
             notices.reply("SB-1234567", "Try this.", LINK, with_text=True),
             notices.reply("SB-1234567", "Try this.", LINK, with_text=False),
             notices.closed("SB-1234567", "resolved", LINK),
             notices.transcript("SB-1234567", ["[10:00] Ann: hi"], LINK)]
    for text in texts:
        assert LINK in text and "SB-1234567" in text


def test_link_only_says_there_is_news_without_the_text() -> None:
    text = notices.reply("SB-1234567", "The secret answer", LINK, with_text=False)
    assert "The secret answer" not in text and "new activity" in text
    assert "The secret answer" in notices.reply("SB-1234567", "The secret answer", LINK,
                                                with_text=True)


def test_the_closing_links_to_the_survey() -> None:
    assert LINK + notices.SURVEY_ANCHOR in notices.closed("SB-1234567", "closed", LINK)


def test_the_acknowledgement_tells_the_expected_response() -> None:
    body = notices.created("SB-1234567", "Order", "http://x/c/1", "by Tuesday 10:00")
    assert "We will answer by Tuesday 10:00." in body
    assert "We will answer" not in notices.created("SB-1234567", "Order", "http://x/c/1")

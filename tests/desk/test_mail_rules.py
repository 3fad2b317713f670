"""The rules deciding what is mailed to the customer: replies, closing notices."""

from __future__ import annotations

import itertools

from desk.mail_rules import closing_is_mailed, reply_is_mailed
from desk.models import AUTHORS, CHANNELS, STATUSES, VISIBILITIES


def test_only_public_staff_replies_on_mailed_channels_not_from_mail() -> None:
    mailed = {
        (channel, visibility, author, from_mail)
        for channel, visibility, author, from_mail in itertools.product(
            CHANNELS, VISIBILITIES, AUTHORS, (None, "<m@x>"))
        if reply_is_mailed(channel, visibility=visibility, author_kind=author,
                           email_message_id=from_mail)
    }
    assert mailed == {(channel, "public", author, None) for channel in ("email", "portal", "phone")
                      for author in ("agent", "supervisor")}


def test_the_customer_hears_of_a_resolved_or_closed_ticket_only() -> None:
    told = {(channel, status) for channel, status in itertools.product(CHANNELS, STATUSES)
            if closing_is_mailed(channel, status)}
    assert told == {(c, s) for c in ("email", "portal", "phone") for s in ("resolved", "closed")}


def test_only_the_full_mode_mails_the_replys_text() -> None:
    from desk.mail_rules import NOTIFY_MODES, reply_text_is_mailed
    assert [m for m in NOTIFY_MODES if reply_text_is_mailed(m)] == ["full"]
    assert not reply_text_is_mailed("") and not reply_text_is_mailed("FULL")


def test_a_case_the_customer_closed_is_not_mailed_back() -> None:
    assert closing_is_mailed("email", "closed", None)
    assert closing_is_mailed("portal", "resolved", "staff")
    assert not closing_is_mailed("portal", "closed", "contact")

"""The one rule deciding which stored messages are mailed to the customer."""

from __future__ import annotations

import itertools

from desk.mail_rules import reply_is_mailed
from desk.models import AUTHORS, CHANNELS, VISIBILITIES


def test_only_public_staff_replies_on_mailed_channels_not_from_mail() -> None:
    mailed = {
        (channel, visibility, author, from_mail)
        for channel, visibility, author, from_mail in itertools.product(
            CHANNELS, VISIBILITIES, AUTHORS, (None, "<m@x>"))
        if reply_is_mailed(channel, visibility=visibility, author_kind=author,
                           email_message_id=from_mail)
    }
    assert mailed == {(channel, "public", author, None) for channel in ("email", "portal")
                      for author in ("agent", "supervisor")}

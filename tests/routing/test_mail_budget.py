"""The mail budget's pure decisions: which counters a request is charged to, what a refusal says."""

from __future__ import annotations

import pytest

from routing.mail_budget import (
    HOUR_S,
    Check,
    MailLimits,
    MailRequest,
    Purpose,
    Scope,
    checks,
    verdict,
)

LIMITS = MailLimits(transcript_interval_s=600, per_recipient_per_hour=5, per_client_per_hour=20)


def test_a_transcript_is_charged_to_its_chat_its_recipient_and_its_client() -> None:
    found = checks(MailRequest(Purpose.TRANSCRIPT, " Vera@Example.ORG ", "10.0.0.7", 42), LIMITS)
    assert found == (
        Check(Scope.CONVERSATION, "transcript:42", 1, 600),
        Check(Scope.RECIPIENT, "vera@example.org", 5, HOUR_S),
        Check(Scope.CLIENT, "10.0.0.7", 20, HOUR_S),
    )


def test_an_acknowledgement_of_mail_in_has_no_client_and_no_interval() -> None:
    # The ticket number makes each acknowledgement unique already; the sender's address is
    # what a forged From would aim at.
    found = checks(MailRequest(Purpose.ACKNOWLEDGEMENT, "a@b.example", conversation_id=7), LIMITS)
    assert found == (Check(Scope.RECIPIENT, "a@b.example", 5, HOUR_S),)


def test_every_purpose_shares_one_recipient_counter() -> None:
    ack = checks(MailRequest(Purpose.ACKNOWLEDGEMENT, "A@B.example", "1.2.3.4"), LIMITS)
    transcript = checks(MailRequest(Purpose.TRANSCRIPT, "a@b.example", "5.6.7.8", 1), LIMITS)
    assert ack[0] == transcript[1]


@pytest.mark.parametrize("scope, ttl, words", [
    (Scope.CONVERSATION, 540, ["transcript of this chat", "in 9 min"]),
    (Scope.RECIPIENT, 61, ["this address", "in 2 min"]),
    (Scope.CLIENT, 30, ["your network", "in 30 s"]),
])
def test_a_refusal_says_which_budget_and_when(scope: Scope, ttl: int, words: list[str]) -> None:
    request = MailRequest(Purpose.TRANSCRIPT, "a@b.example", "1.2.3.4", 9)
    found = checks(request, LIMITS)
    index = [c.scope for c in found].index(scope)
    out = verdict(request, found, index, ttl)
    assert not out.allowed and out.scope is scope and out.retry_after_s == ttl
    assert all(w in out.message for w in words), out.message


def test_all_counters_with_room_allow() -> None:
    request = MailRequest(Purpose.TRANSCRIPT, "a@b.example", "1.2.3.4", 9)
    assert verdict(request, checks(request, LIMITS), None, 0).allowed


def test_a_signin_link_is_charged_to_its_address_and_its_client() -> None:
    request = MailRequest(Purpose.SIGNIN, "Vera@Example.org", "10.0.0.7")
    found = checks(request, LIMITS)
    assert found == (Check(Scope.RECIPIENT, "vera@example.org", 5, HOUR_S),
                     Check(Scope.CLIENT, "10.0.0.7", 20, HOUR_S))
    out = verdict(request, found, 0, 120)
    assert "sign-in link" in out.message and out.retry_after_s == 120

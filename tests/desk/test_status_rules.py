"""Status rules: every (from, to, channel) staff move, the customer's and the chat's end."""

from __future__ import annotations

import itertools

import pytest

from desk.models import CHANNELS, STATUSES
from desk.status_rules import (
    STAFF_STATUSES,
    InvalidTransition,
    Move,
    chat_end,
    customer_wrote,
    staff_move,
    staff_targets,
)

TICKET = {
    "queued": {"resolved", "closed"},
    "offered": {"resolved", "closed"},
    "active": {"pending", "resolved", "closed"},
    "pending": {"queued", "resolved", "closed"},
    "resolved": {"queued", "closed"},
    "closed": set(),
    "noise": set(),
}


@pytest.mark.parametrize(("current", "target", "channel"),
                         list(itertools.product(STATUSES, STAFF_STATUSES, CHANNELS)))
def test_staff_moves_follow_the_table(current: str, target: str, channel: str) -> None:
    allowed = TICKET[current] - ({"pending", "queued"} if channel == "chat" else set())
    assert set(staff_targets(current, channel)) == allowed
    if target in allowed:
        move = staff_move(current, target, channel)
        assert move.status == target
        assert move.release == (target in ("pending", "resolved", "closed"))
        assert move.route == (target == "queued")
        assert move.ends == (target in ("resolved", "closed"))
    else:
        with pytest.raises(InvalidTransition) as err:
            staff_move(current, target, channel)
        assert err.value.status == 409


def test_refusals_say_what_to_do_instead() -> None:
    with pytest.raises(InvalidTransition, match="take it"):
        staff_move("queued", "active", "email")
    with pytest.raises(InvalidTransition, match="promote"):
        staff_move("noise", "closed", "email")
    with pytest.raises(InvalidTransition, match="final"):
        staff_move("closed", "queued", "email")
    with pytest.raises(InvalidTransition, match="pending \\(waiting for the customer\\)"):
        staff_move("resolved", "pending", "portal")


def test_the_customer_writing_reopens_what_waits_or_ended() -> None:
    queued = Move("queued", release=False, route=True, ends=False)
    for status in ("resolved", "closed"):
        assert customer_wrote(status) == queued
        assert customer_wrote(status, person=False) == queued  # as the mail import always did
    assert customer_wrote("pending") == queued
    assert customer_wrote("pending", person=False) is None  # an out-of-office keeps it waiting
    assert customer_wrote("noise") == queued
    assert customer_wrote("noise", person=False) is None
    for status in ("queued", "offered", "active"):
        assert customer_wrote(status) is None


def test_a_chat_ends_closed_by_the_visitor_and_resolved_by_staff() -> None:
    for status in ("queued", "offered", "active", "pending"):
        assert chat_end(status, by_visitor=True) == Move("closed", True, False, True)
        assert chat_end(status, by_visitor=False) == Move("resolved", True, False, True)
    for status in ("resolved", "closed", "noise"):
        assert chat_end(status, by_visitor=True) is None

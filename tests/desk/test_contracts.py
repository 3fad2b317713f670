"""desk.contracts: what is in force, what time counts against, what the 360 view shows."""

from __future__ import annotations

from datetime import date

import pytest

from desk.contracts import Terms, charged_to, check_entry, check_terms, expired, in_force, usage
from desk.errors import InvalidInput

JAN, JUN, DEC = date(2026, 1, 1), date(2026, 6, 30), date(2026, 12, 31)


def test_in_force_and_expired_by_day() -> None:
    t = Terms(1, "contract", JAN, JUN, 600)
    assert not in_force(t, date(2025, 12, 31)) and not expired(t, date(2025, 12, 31))
    assert in_force(t, JAN) and in_force(t, JUN)  # both ends count
    assert expired(t, date(2026, 7, 1)) and not in_force(t, date(2026, 7, 1))
    assert in_force(Terms(2, "warranty", JAN, None, None), date(2099, 1, 1))


def test_usage() -> None:
    u = usage(Terms(1, "contract", JAN, JUN, 600), 90, date(2026, 3, 1))
    assert (u.hours_contracted, u.hours_used, u.hours_left, u.expired, u.in_force) == (
        10.0, 1.5, 8.5, False, True)
    over = usage(Terms(1, "contract", JAN, JUN, 60), 90, date(2026, 7, 2))
    assert over.hours_left == -0.5 and over.expired
    assert usage(Terms(2, "warranty", JAN, None, None), 30, JAN).hours_left is None


def test_time_counts_against_the_contract_ending_first() -> None:
    long = Terms(1, "contract", JAN, DEC, 6000)
    short = Terms(2, "contract", JAN, JUN, 600)
    warranty = Terms(3, "warranty", JAN, date(2026, 3, 1), None)
    assert charged_to([long, short, warranty], date(2026, 2, 1)) == 2
    assert charged_to([long, short], date(2026, 7, 1)) == 1  # the short one has expired
    assert charged_to([warranty], date(2026, 2, 1)) == 3  # no hours, but in force
    assert charged_to([long, warranty], date(2026, 2, 1)) == 1  # hours first
    assert charged_to([short], date(2027, 1, 1)) is None
    assert charged_to([], JAN) is None


@pytest.mark.parametrize(("minutes", "note", "message"), [
    (0, None, "minutes"), (1441, None, "minutes"), ("5", None, "minutes"), (True, None, "minutes"),
    (1.5, None, "minutes"), (5, 7, "note"), (5, "x" * 1001, "note"), (5, "a\x00", "note"),
])
def test_bad_entries_name_the_field(minutes: object, note: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_entry(minutes, note)


def test_entries() -> None:
    assert check_entry(15, None) == (15, None)
    assert check_entry(15, "  called back ") == (15, "called back")
    assert check_entry(1440, "") == (1440, None)


def test_terms() -> None:
    assert check_terms("contract", "2026-01-01", "2026-06-30", 10) == ("contract", JAN, JUN, 600)
    assert check_terms("warranty", "2026-01-01", None, None) == ("warranty", JAN, None, None)
    assert check_terms("contract", "2026-01-01", None, 1.25)[3] == 75
    for args, message in [(("loan", "2026-01-01", None, None), "kind"),
                          (("contract", "2026-1-1", None, None), "starts_on"),
                          (("contract", "2026-01-01", "2025-01-01", None), "ends_on"),
                          (("contract", "2026-01-01", None, -1), "hours"),
                          (("contract", "2026-01-01", None, True), "hours"),
                          (("contract", None, None, None), "starts_on")]:
        with pytest.raises(InvalidInput, match=message):
            check_terms(*args)

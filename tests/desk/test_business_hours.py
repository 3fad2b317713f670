"""Business-hours arithmetic: weekly hours, holidays (overlapping too), 24/7, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from desk import business_hours as bh
from desk.errors import InvalidInput

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
H = 3600.0


def berlin(**extra: object) -> bh.Calendar:
    return bh.parse({"timezone": "Europe/Berlin",
                     "hours": {d: [["09:00", "17:00"]] for d in WEEKDAYS}, **extra})


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def test_inside_one_day() -> None:
    cal = berlin()
    # Tuesday 2026-12-01 10:00 Berlin = 09:00 UTC.
    assert bh.add(cal, utc(2026, 12, 1, 9), 2 * H) == utc(2026, 12, 1, 11)
    assert bh.elapsed(cal, utc(2026, 12, 1, 9), utc(2026, 12, 1, 11)) == 2 * H


def test_rolls_over_night_and_weekend() -> None:
    cal = berlin()
    # Friday 2026-12-04 16:00 Berlin + 2 h -> Monday 10:00 Berlin (09:00 UTC).
    start = utc(2026, 12, 4, 15)
    due = bh.add(cal, start, 2 * H)
    assert due == utc(2026, 12, 7, 9)
    assert bh.elapsed(cal, start, due) == 2 * H
    assert bh.elapsed(cal, utc(2026, 12, 5, 0), utc(2026, 12, 7, 0)) == 0


def test_start_before_opening_waits_for_it() -> None:
    cal = berlin()
    assert bh.add(cal, utc(2026, 12, 1, 3), 60) == utc(2026, 12, 1, 8, 1)
    assert bh.next_open(cal, utc(2026, 12, 1, 3)) == utc(2026, 12, 1, 8)
    assert not bh.is_open(cal, utc(2026, 12, 1, 3))
    assert bh.is_open(cal, utc(2026, 12, 1, 8))


def test_holidays_overlapping_are_merged() -> None:
    cal = berlin(holidays=["2026-12-25", {"from": "2026-12-24", "to": "2026-12-26"},
                           {"from": "2026-12-26", "to": "2026-12-28"}])
    assert cal.holidays == ((date(2026, 12, 24), date(2026, 12, 28)),)
    # Wednesday 23rd 16:00 Berlin + 2 h: 1 h that day, then Tuesday 29th 10:00.
    assert bh.add(cal, utc(2026, 12, 23, 15), 2 * H) == utc(2026, 12, 29, 9)


def test_always_open() -> None:
    cal = bh.parse({"always_open": True})
    t = utc(2026, 12, 5, 23, 30)
    assert bh.add(cal, t, 10 * H) == t + timedelta(hours=10)
    assert bh.elapsed(cal, t, t + timedelta(days=2)) == 48 * H
    assert bh.ALWAYS.always_open


def test_dst_spring_forward_day_is_23_hours() -> None:
    cal = bh.parse({"timezone": "Europe/Berlin", "hours": {"sun": [["00:00", "24:00"]]}})
    # 2026-03-29: clocks go 02:00 -> 03:00 in Berlin.
    start = utc(2026, 3, 28, 23)  # Sunday 00:00 CET
    assert bh.elapsed(cal, start, start + timedelta(days=1)) == 23 * H
    assert bh.add(cal, start, 23 * H) == utc(2026, 3, 29, 22)


def test_dst_fall_back_day_is_25_hours() -> None:
    cal = bh.parse({"timezone": "Europe/Berlin", "hours": {"sun": [["00:00", "24:00"]]}})
    start = utc(2026, 10, 24, 22)  # Sunday 2026-10-25 00:00 CEST
    assert bh.elapsed(cal, start, start + timedelta(days=2)) == 25 * H


def test_dst_office_hours_keep_wall_clock() -> None:
    cal = berlin()
    # Friday 2026-03-27 16:00 CET (15:00 UTC) + 2 h -> Monday 10:00 CEST = 08:00 UTC.
    assert bh.add(cal, utc(2026, 3, 27, 15), 2 * H) == utc(2026, 3, 30, 8)


def test_opening_inside_the_gap() -> None:
    cal = bh.parse({"timezone": "Europe/Berlin", "hours": {"sun": [["02:30", "04:00"]]}})
    # 02:30 does not exist on 2026-03-29; it opens at 03:30 CEST (01:30 UTC) until 04:00.
    assert bh.next_open(cal, utc(2026, 3, 29, 0)) == utc(2026, 3, 29, 1, 30)
    assert bh.elapsed(cal, utc(2026, 3, 29, 0), utc(2026, 3, 29, 6)) == 0.5 * H


def test_spans_across_midnight() -> None:
    cal = bh.parse({"hours": {"mon": [["20:00", "24:00"]], "tue": [["00:00", "02:00"]]}})
    assert bh.add(cal, utc(2026, 11, 30, 0), 5 * H) == utc(2026, 12, 1, 1)
    every_day = bh.parse({"hours": {d: [["00:00", "24:00"]] for d in bh.DAYS}})
    t = utc(2026, 11, 30, 7)
    assert bh.add(every_day, t, 100 * H) == t + timedelta(hours=100)


def test_several_spans_a_day_and_overlaps() -> None:
    cal = bh.parse({"hours": {"mon": [["13:00", "17:00"], ["08:00", "12:00"],
                                      ["11:00", "12:30"]]}})
    assert cal.weekly[0] == ((8 * 60, 12 * 60 + 30), (13 * 60, 17 * 60))
    assert bh.elapsed(cal, utc(2026, 11, 30, 0), utc(2026, 12, 1, 0)) == 8.5 * H


@pytest.mark.parametrize(("data", "message"), [
    ({"hours": {}}, "no working hours"),
    ({"hours": {"mon": []}, "holidays": []}, "no working hours"),
    ({"timezone": "Mars/Olympus", "hours": {"mon": [["09:00", "10:00"]]}}, "time zone"),
    ({"hours": {"mon": [["10:00", "09:00"]]}}, "open before"),
    ({"hours": {"mon": [["25:00", "26:00"]]}}, "HH:MM"),
    ({"hours": {"funday": []}}, "keys among"),
    ({"hours": {"mon": [["09:00", "10:00"]]}, "holidays": [{"from": "2026-01-02",
                                                              "to": "2026-01-01"}]}, "ends"),
    ({"hours": {"mon": [["09:00", "10:00"]]}, "holidays": [{"from": "2026-01-01",
                                                              "to": "2028-01-01"}]}, "longer"),
    ({"hours": {"mon": [["09:00", "10:00"]]}, "holidays": ["soon"]}, "YYYY-MM-DD"),
    ("nope", "object"),
])
def test_bad_calendars_are_refused(data: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        bh.parse(data)


def test_holidays_closing_everything_stop_the_search() -> None:
    cal = bh.parse({"hours": {"mon": [["09:00", "10:00"]]},
                    "holidays": [{"from": f"{y}-01-01", "to": f"{y}-12-31"}
                                 for y in range(2026, 2031)]})
    with pytest.raises(bh.NeverOpen):
        bh.add(cal, utc(2026, 1, 1), 60)
    assert bh.elapsed(cal, utc(2026, 1, 1), utc(2026, 6, 1)) == 0


def test_round_trip_json() -> None:
    cal = berlin(holidays=["2026-12-25"])
    assert bh.parse(bh.to_json(cal)) == cal


@pytest.mark.parametrize("minutes", [0, 1, 59, 60, 479, 480, 481, 2400, 10_000])
def test_add_and_elapsed_agree(minutes: int) -> None:
    cal = berlin(holidays=[{"from": "2026-12-24", "to": "2026-12-26"}])
    for start in (utc(2026, 12, 1, 3), utc(2026, 12, 4, 15, 17), utc(2026, 12, 23, 12)):
        due = bh.add(cal, start, minutes * 60)
        assert bh.elapsed(cal, start, due) == minutes * 60

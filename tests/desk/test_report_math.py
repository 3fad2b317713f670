"""Report arithmetic: buckets in the viewer's zone (DST included), percentiles, rates, CSAT,
the hour-of-week forecast and Erlang C staffing, checked against known values."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from desk.report_math import (
    HIST_BUCKETS,
    HIST_TOP,
    MAX_BUCKETS,
    Grain,
    RangeError,
    agents_needed,
    arrivals_forecast,
    bucket_start,
    bucket_starts,
    count_by_bucket,
    csat,
    distribution,
    durations,
    erlang_c,
    hist_distribution,
    hist_edge,
    hist_error_bound,
    hist_index,
    hist_percentile,
    hist_value,
    histogram,
    hour_of_week,
    last_period,
    merge_histograms,
    percentile,
    previous_period,
    rate,
    service_level,
    staffing,
)

BERLIN = ZoneInfo("Europe/Berlin")
SANTIAGO = ZoneInfo("America/Santiago")
UTC_ZONE = ZoneInfo("UTC")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_day_is_a_calendar_day_of_the_viewer_zone() -> None:
    # 23:30 UTC on 31 March is already 1 April in Berlin (UTC+2 in summer).
    start = bucket_start(utc(2026, 3, 31, 23, 30), BERLIN, Grain.DAY)
    assert start == datetime(2026, 4, 1, tzinfo=BERLIN)
    assert start.astimezone(UTC) == utc(2026, 3, 31, 22)


def test_days_across_dst_are_23_and_25_hours_long() -> None:
    spring = bucket_starts(utc(2026, 3, 28, 12), utc(2026, 3, 30, 12), BERLIN, Grain.DAY)
    assert _hours(spring) == [24, 23]  # the 28th, then the 29th loses an hour
    autumn = bucket_starts(utc(2026, 10, 24, 12), utc(2026, 10, 26, 12), BERLIN, Grain.DAY)
    assert _hours(autumn) == [24, 25]


def _hours(starts: list[datetime]) -> list[float]:
    # In UTC: Python subtracts two datetimes of one zone by their wall clocks.
    return [(b.astimezone(UTC) - a.astimezone(UTC)).total_seconds() / 3600
            for a, b in itertools.pairwise(starts)]


def test_the_repeated_hour_of_fall_back_is_two_buckets() -> None:
    starts = bucket_starts(utc(2026, 10, 24, 23), utc(2026, 10, 25, 3), BERLIN, Grain.HOUR)
    assert len(starts) == 4  # 01:00, 02:00 (first), 02:00 (again), 03:00 local
    assert [s.hour for s in starts] == [1, 2, 2, 3]
    hits = [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 1, 40)]
    assert count_by_bucket(hits, starts, BERLIN, Grain.HOUR) == [0, 1, 2, 0]


def test_a_zone_that_skips_midnight_starts_the_day_at_its_first_instant() -> None:
    # Chile's DST starts at 00:00 local: 2026-09-06 begins at 01:00.
    start = bucket_start(utc(2026, 9, 6, 12), SANTIAGO, Grain.DAY)
    assert start.hour == 1 and start.date().day == 6


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    assert bucket_start(utc(2026, 12, 3, 10), BERLIN, Grain.WEEK) == datetime(
        2026, 11, 30, tzinfo=BERLIN)
    months = bucket_starts(utc(2026, 11, 15), datetime(2027, 2, 1, tzinfo=BERLIN), BERLIN,
                           Grain.MONTH)
    assert [(m.year, m.month) for m in months] == [(2026, 11), (2026, 12), (2027, 1)]


def test_every_bucket_is_listed_even_empty_and_counts_add_up() -> None:
    starts = bucket_starts(utc(2026, 1, 1), utc(2026, 1, 8), UTC_ZONE, Grain.DAY)
    hits = [utc(2026, 1, 1, 5), utc(2026, 1, 3, 23, 59), utc(2026, 1, 3), utc(2026, 1, 9)]
    assert count_by_bucket(hits, starts, UTC_ZONE, Grain.DAY) == [1, 0, 2, 0, 0, 0, 0]


def test_bad_ranges_are_refused_with_a_reason() -> None:
    with pytest.raises(RangeError, match="end after it starts"):
        bucket_starts(utc(2026, 2, 1), utc(2026, 1, 1), BERLIN, Grain.DAY)
    with pytest.raises(RangeError, match="time zone"):
        bucket_starts(datetime(2026, 1, 1), utc(2026, 2, 1), BERLIN, Grain.DAY)
    with pytest.raises(RangeError, match=str(MAX_BUCKETS)):
        bucket_starts(utc(2020, 1, 1), utc(2026, 1, 1), BERLIN, Grain.HOUR)


def test_previous_period_is_as_long_and_ends_where_the_range_starts() -> None:
    assert previous_period(utc(2026, 3, 1), utc(2026, 3, 8)) == (utc(2026, 2, 22),
                                                                 utc(2026, 3, 1))
    # A local week across the spring change is 167 hours; so is the period before it.
    start, end = datetime(2026, 3, 23, tzinfo=BERLIN), datetime(2026, 3, 30, tzinfo=BERLIN)
    before = previous_period(start, end)
    assert before[1] == start and (before[1] - before[0]) == timedelta(hours=167)


def test_percentiles_are_nearest_rank_values_that_occurred() -> None:
    vals = [15, 20, 35, 40, 50]
    assert percentile(vals, 0.5) == 35 and percentile(vals, 0.3) == 20
    assert percentile(vals, 1.0) == 50 and percentile([7], 0.9) == 7
    assert percentile([], 0.5) is None
    assert percentile(range(1, 101), 0.9) == 90
    with pytest.raises(ValueError):
        percentile(vals, 0)


def test_distribution_and_rates_say_no_data_rather_than_zero() -> None:
    d = distribution([60, 120, 180, 240, 3600])
    assert (d.count, d.median, d.p90, d.max) == (5, 180, 3600, 3600)
    assert d.mean == pytest.approx(840)
    assert distribution([]).median is None
    assert rate(3, 4) == 0.75 and rate(0, 0) is None
    with pytest.raises(ValueError):
        rate(5, 4)


def test_csat_distribution_mean_and_satisfied_share() -> None:
    out = csat([5, 5, 4, 2, 1])
    assert out["by_rating"] == {1: 1, 2: 1, 3: 0, 4: 1, 5: 2}
    assert out["mean"] == pytest.approx(3.4) and out["satisfied"] == pytest.approx(0.6)
    assert csat([])["mean"] is None
    with pytest.raises(ValueError, match="1 to 5"):
        csat([6])


def test_hour_of_week_and_the_forecast_average_over_full_weeks() -> None:
    monday_9 = datetime(2026, 11, 23, 9, 15, tzinfo=BERLIN)
    assert hour_of_week(monday_9, BERLIN) == 9
    assert hour_of_week(datetime(2026, 11, 29, 23, 59, tzinfo=BERLIN), BERLIN) == 167
    now = datetime(2026, 12, 1, tzinfo=BERLIN)
    # Mondays 9-10: 3 arrivals a week ago, 1 two weeks ago, none three weeks ago.
    arrivals = [monday_9] * 3 + [monday_9 - timedelta(weeks=1)] + [now + timedelta(hours=1),
                                                                  now - timedelta(weeks=5)]
    forecast = arrivals_forecast(arrivals, now, 3, BERLIN)
    assert len(forecast) == 168 and forecast[9] == pytest.approx(4 / 3)
    assert sum(forecast) == pytest.approx(4 / 3)
    with pytest.raises(RangeError):
        arrivals_forecast([], now, 0, BERLIN)


def _erlang_c_by_factorials(a: float, n: int) -> float:
    top = a ** n / math.factorial(n) * n / (n - a)
    return top / (sum(a ** k / math.factorial(k) for k in range(n)) + top)


@pytest.mark.parametrize(("traffic", "agents", "expected"), [
    (10, 11, 0.6821), (10, 12, 0.4494), (10, 13, 0.2853), (10, 14, 0.1741), (2, 3, 0.4444),
])
def test_erlang_c_matches_the_published_tables(traffic: float, agents: int,
                                               expected: float) -> None:
    assert erlang_c(traffic, agents) == pytest.approx(expected, abs=5e-4)
    assert erlang_c(traffic, agents) == pytest.approx(_erlang_c_by_factorials(traffic, agents))


def test_erlang_c_edges() -> None:
    assert erlang_c(0, 3) == 0 and erlang_c(5, 5) == 1 and erlang_c(5, 2) == 1
    assert erlang_c(150, 170) == pytest.approx(_erlang_c_by_factorials(150, 170))


def test_staffing_for_a_target_wait() -> None:
    # 100 contacts an hour, 3 min each (5 Erlangs), 80 % answered within 20 s.
    n = agents_needed(100, 180, 20, 0.8)
    assert service_level(100, 180, n, 20) >= 0.8 > service_level(100, 180, n - 1, 20)
    assert n == 8
    assert agents_needed(0, 180, 20) == 0
    assert agents_needed(100, 180, 20, 0.95) > n
    with pytest.raises(ValueError):
        agents_needed(100, 0, 20)


def test_a_staffing_plan_is_the_fewest_agents_of_every_hour() -> None:
    expected = [0.0, 0.5, 12.0, 100.0]
    plan = staffing(expected, 180, 20, 0.8)
    assert plan == [agents_needed(a, 180, 20, 0.8) for a in expected]
    assert plan[0] == 0 and plan[1] == 1 and plan[3] == 8
    for a, n in zip(expected[1:], plan[1:], strict=True):
        assert service_level(a, 180, n, 20) >= 0.8
        assert n == 1 or service_level(a, 180, n - 1, 20) < 0.8
    # More arrivals never need fewer agents.
    ramp = staffing([x / 2 for x in range(200)], 300, 30, 0.9)
    assert ramp == sorted(ramp)


def test_the_last_complete_period_of_a_schedule() -> None:
    # Monday 30 March 2026, 00:30 in Berlin (the day after the DST change).
    now = datetime(2026, 3, 29, 22, 30, tzinfo=UTC)
    start, end = last_period(now, BERLIN, "daily")
    assert (start.isoformat(), end.isoformat()) == ("2026-03-29T00:00:00+01:00",
                                                    "2026-03-30T00:00:00+02:00")
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)
    start, end = last_period(now, BERLIN, "weekly")
    assert (start.date().isoformat(), end.date().isoformat()) == ("2026-03-23", "2026-03-30")
    # At the very first instant of a day the day before is the last complete one.
    assert last_period(end, BERLIN, "daily")[0].date().isoformat() == "2026-03-29"
    with pytest.raises(RangeError):
        last_period(now, BERLIN, "hourly")


# --- duration histograms ------------------------------------------------------------------

def _within(est: float | None, exact: float | None) -> bool:
    assert est is not None and exact is not None
    # The bound, plus one part in 10^12 for the rounding of the edges' arithmetic.
    return abs(est - exact) <= hist_error_bound(exact) * (1 + 1e-12)


def test_histogram_buckets_tile_the_durations() -> None:
    assert hist_index(0) == 0 and hist_index(0.999) == 0 and hist_index(1) == 1
    for k in range(1, HIST_BUCKETS - 1):
        lo, hi = hist_edge(k), hist_edge(k + 1)
        assert lo < hi
        assert hist_index(lo) == k
        assert hist_index(math.nextafter(hi, 0)) == k
        assert lo <= hist_value(k) < hi
    assert hist_edge(HIST_BUCKETS - 1) >= HIST_TOP > hist_edge(HIST_BUCKETS - 2)
    assert hist_index(HIST_TOP * 10) == HIST_BUCKETS - 1
    assert HIST_BUCKETS < 400  # a day's histogram stays small


@pytest.mark.parametrize("bad", [-1, -1e-9, float("nan")])
def test_histogram_refuses_what_is_no_duration(bad: float) -> None:
    with pytest.raises(ValueError):
        hist_index(bad)


def test_histogram_percentile_is_within_the_bound() -> None:
    rng = random.Random(7)
    shapes: list[Callable[[], float]] = [
        lambda: rng.expovariate(1 / 60), lambda: rng.lognormvariate(6, 2),
        lambda: rng.uniform(0, 2), lambda: float(rng.randrange(3600)),
        lambda: rng.choice([0.0, 1.0, 30.0, 86_400.0])]
    for shape, n in itertools.product(shapes, [1, 2, 3, 10, 101, 2000]):
        vals = [min(shape(), HIST_TOP / 2) for _ in range(n)]
        h = histogram(vals)
        assert sum(c for c, _, _ in h.values()) == n
        for q in (0.01, 0.25, 0.5, 0.9, 0.99, 1.0):
            assert _within(hist_percentile(h, q), percentile(vals, q)), (n, q)
        d, exact = durations(vals), distribution(vals)
        assert d.count == exact.count and d.max == exact.max
        assert d.mean == pytest.approx(exact.mean, abs=1e-6)
        assert _within(d.median, exact.median) and _within(d.p90, exact.p90)


def test_the_bound_is_reached_but_not_passed() -> None:
    # The worst case: a bucket holding values at both of its ends reports its midpoint.
    for k in (1, 2, 50, 150, HIST_BUCKETS - 2):
        lo, hi = hist_edge(k), math.nextafter(hist_edge(k + 1), 0)
        est = hist_percentile(histogram([lo, lo, hi]), 0.5)
        assert est is not None and _within(est, lo)
        # (below 20 s the half-second floor is the bound, not the 2.5 %)
        assert abs(est - lo) > hist_error_bound(lo) * 0.99 or lo < 20
    assert hist_percentile(histogram([0.0, 0.9]), 0.5) == 0.5


def test_a_bucket_of_one_value_reports_it() -> None:
    # Scripted figures (30 s, 120 s, 7200 s) come out exactly.
    assert hist_percentile(histogram([30.0, 120.0, 7200.0]), 0.5) == 120.0
    assert durations([30.0, 30.0, 31.0]).median == 30.0
    assert durations([0.25, 0.5]).p90 == 0.5


def test_histograms_merge_as_their_values() -> None:
    days = [[1.0, 5.0, 5.5], [], [0.2, 3600.0], [5.0]]
    merged = merge_histograms(histogram(d) for d in days)
    assert merged == histogram(v for d in days for v in d)
    assert merge_histograms([]) == {}


def test_empty_histogram_has_no_figures() -> None:
    assert hist_percentile({}, 0.5) is None
    assert hist_distribution({}, 0) == distribution([]) == durations([])
    with pytest.raises(ValueError):
        hist_percentile({1: (1, 1.0, 1.0)}, 0)

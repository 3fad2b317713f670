"""The arithmetic of reports, pure: time buckets in the viewer's zone, distributions, rates,
the hour-of-week arrival forecast, Erlang C staffing and mergeable duration histograms.
Nothing here reads a clock or a store; callers pass instants (aware datetimes) and figures in.

Conventions every report shares, so a chart, its table and its CSV agree:

- a bucket is the half-open local interval [start, next start) of the viewer's zone; a day is a
  calendar day there (23 or 25 hours across a DST change), a week starts on Monday, a month on
  the 1st; ``bucket_starts`` lists every bucket of a range, empty ones included;
- percentiles are nearest-rank (the smallest value with at least q of the values at or below
  it), so every figure is a value that occurred; an empty set has none (None, not 0);
- a rate with nothing to count is None ("no data"), never 0 %.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Grain(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


# Buckets one report may hold: a year by day, a quarter by hour.
MAX_BUCKETS = 2_300


class RangeError(ValueError):
    """A date range a report cannot be drawn for; the message says why (a 400 for the API)."""


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise RangeError("instants must carry a time zone")
    return at


def bucket_start(at: datetime, zone: ZoneInfo, grain: Grain) -> datetime:
    """The start (an aware datetime in ``zone``) of the bucket holding instant ``at``."""
    local = _aware(at).astimezone(zone)
    match grain:
        case Grain.HOUR:
            # fold keeps the repeated hour of a DST fall-back apart from the first one.
            return local.replace(minute=0, second=0, microsecond=0)
        case Grain.DAY:
            return _midnight(local.date(), zone)
        case Grain.WEEK:
            return _midnight(local.date() - timedelta(days=local.weekday()), zone)
        case Grain.MONTH:
            return _midnight(local.date().replace(day=1), zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    # A zone whose clocks skip midnight (e.g. America/Santiago's DST start) starts the day at
    # the first instant that exists: normalise through UTC.
    return datetime.combine(day, time(0), zone).astimezone(UTC).astimezone(zone)


def next_start(start: datetime, zone: ZoneInfo, grain: Grain) -> datetime:
    """The start of the bucket after the one starting at ``start``."""
    match grain:
        case Grain.HOUR:
            return (start.astimezone(UTC) + timedelta(hours=1)).astimezone(zone)
        case Grain.DAY:
            return _midnight(start.date() + timedelta(days=1), zone)
        case Grain.WEEK:
            return _midnight(start.date() + timedelta(days=7), zone)
        case Grain.MONTH:
            d = start.date()
            return _midnight(date(d.year + d.month // 12, d.month % 12 + 1, 1), zone)


def bucket_starts(start: datetime, end: datetime, zone: ZoneInfo, grain: Grain) -> list[datetime]:
    """Every bucket start of [start, end), in order, the empty ones included."""
    check_range(start, end)
    out: list[datetime] = []
    at, stop = bucket_start(start, zone, grain), end.astimezone(UTC)
    while at.astimezone(UTC) < stop:
        out.append(at)
        if len(out) > MAX_BUCKETS:
            raise RangeError(f"more than {MAX_BUCKETS} {grain.value} buckets: "
                             "choose a coarser grouping or a shorter range")
        at = next_start(at, zone, grain)
    return out


def check_range(start: datetime, end: datetime) -> None:
    # Compared in UTC: Python compares two datetimes of one zone by their wall clocks.
    if _aware(start).astimezone(UTC) >= _aware(end).astimezone(UTC):
        raise RangeError("the range must end after it starts")


def previous_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The range of equal length just before [start, end), to compare against."""
    check_range(start, end)
    begin, stop = start.astimezone(UTC), end.astimezone(UTC)
    return begin - (stop - begin), begin


def count_by_bucket(instants: Iterable[datetime], starts: Sequence[datetime],
                    zone: ZoneInfo, grain: Grain) -> list[int]:
    """How many ``instants`` fall in each bucket of ``starts`` (outside ones are not counted)."""
    index = {s.astimezone(UTC): i for i, s in enumerate(starts)}
    counts = [0] * len(starts)
    for at in instants:
        i = index.get(bucket_start(at, zone, grain).astimezone(UTC))
        if i is not None:
            counts[i] += 1
    return counts


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile, 0 < q <= 1; None for no values."""
    if not 0 < q <= 1:
        raise ValueError("q must be in (0, 1]")
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class Distribution:
    count: int
    median: float | None
    p90: float | None
    mean: float | None
    max: float | None


def distribution(values: Iterable[float]) -> Distribution:
    vals = list(values)
    if not vals:
        return Distribution(0, None, None, None, None)
    return Distribution(len(vals), percentile(vals, 0.5), percentile(vals, 0.9),
                        sum(vals) / len(vals), max(vals))


# --- duration histograms (mergeable, for daily rollups) ----------------------------------
#
# Bucket 0 holds [0, 1) s; bucket k >= 1 holds [G**(k-1), G**k) s, up to HIST_TOP, the last
# bucket also holding everything longer. A histogram is {bucket: (count, least, greatest)}:
# two days' histograms merge by adding counts and keeping the extremes, so a range's median and
# p90 come from its days without their values, and the raw facts of a range give the very same
# histogram. The nearest-rank percentile of a histogram is the midpoint of the bucket holding
# the exact nearest-rank value, moved inside [least, greatest] of that bucket: the value
# itself when the bucket holds one distinct value, and always within hist_error_bound(exact)
# of it: half a second, or (G - 1) / 2 = 2.5 % of the value, whichever is more (up to
# HIST_TOP). Sums are kept in whole microseconds, so a mean is the same however its values
# were added up.

HIST_GROWTH = 1.05
HIST_TOP = 400 * 86_400.0  # longer than any report range
HIST_BUCKETS = 2 + math.ceil(math.log(HIST_TOP) / math.log(HIST_GROWTH))

Histogram = dict[int, tuple[int, float, float]]


def hist_edge(k: int) -> float:
    """The lower edge of bucket ``k``."""
    return 0.0 if k == 0 else HIST_GROWTH ** (k - 1)


def hist_index(value: float) -> int:
    """The bucket of a duration in seconds (>= 0)."""
    if not value >= 0:  # NaN too
        raise ValueError(f"a duration is at least 0 s, not {value!r}")
    if value < 1:
        return 0
    k = min(HIST_BUCKETS - 1, int(math.log(value) / math.log(HIST_GROWTH)) + 1)
    # The logarithm may round across an edge: settle on the edges hist_edge itself computes.
    while k > 1 and hist_edge(k) > value:
        k -= 1
    while k < HIST_BUCKETS - 1 and hist_edge(k + 1) <= value:
        k += 1
    return k


def hist_value(k: int) -> float:
    """The midpoint of bucket ``k``'s edges (the last bucket: its lower edge)."""
    if k >= HIST_BUCKETS - 1:
        return hist_edge(HIST_BUCKETS - 1)
    return (hist_edge(k) + hist_edge(k + 1)) / 2


def hist_point(k: int, least: float, greatest: float) -> float:
    """What bucket ``k`` reports, holding values from ``least`` to ``greatest``."""
    return min(max(hist_value(k), least), greatest)


def hist_error_bound(exact: float) -> float:
    """How far a histogram percentile may be from the exact one (``exact`` < HIST_TOP)."""
    return max(0.5, exact * (HIST_GROWTH - 1) / 2)


def micros(value: float) -> int:
    """A duration in whole microseconds (what sums add up)."""
    return round(value * 1_000_000)


def histogram(values: Iterable[float]) -> Histogram:
    out: Histogram = {}
    for v in values:
        k = hist_index(v)
        n, lo, hi = out.get(k, (0, v, v))
        out[k] = (n + 1, min(lo, v), max(hi, v))
    return out


def merge_histograms(hists: Iterable[Histogram]) -> Histogram:
    out: Histogram = {}
    for h in hists:
        for k, (n, lo, hi) in h.items():
            if k in out:
                m, lo2, hi2 = out[k]
                out[k] = (m + n, min(lo, lo2), max(hi, hi2))
            else:
                out[k] = (n, lo, hi)
    return out


def hist_percentile(hist: Histogram, q: float) -> float | None:
    """Nearest-rank percentile (0 < q <= 1) of a histogram; None when it is empty."""
    if not 0 < q <= 1:
        raise ValueError("q must be in (0, 1]")
    total = sum(n for n, _, _ in hist.values())
    if total == 0:
        return None
    rank, seen = max(1, math.ceil(q * total)), 0
    for k in sorted(hist):
        n, lo, hi = hist[k]
        seen += n
        if seen >= rank:
            return hist_point(k, lo, hi)
    raise AssertionError("unreachable: the ranks add up to the total")


def hist_distribution(hist: Histogram, total_us: int) -> Distribution:
    """A Distribution from a histogram and the sum of its values in microseconds: count
    exact, mean to the microsecond, max exact, median and p90 within hist_error_bound."""
    count = sum(n for n, _, _ in hist.values())
    if count == 0:
        return Distribution(0, None, None, None, None)
    return Distribution(count, hist_percentile(hist, 0.5), hist_percentile(hist, 0.9),
                        total_us / count / 1_000_000, hist[max(hist)][2])


def durations(values: Sequence[float]) -> Distribution:
    """THE distribution every report gives of durations (raw facts or rollups alike)."""
    return hist_distribution(histogram(values), sum(micros(v) for v in values))


def rate(hits: int, total: int) -> float | None:
    """hits / total as a fraction; None when there is nothing to count."""
    if hits < 0 or total < 0 or hits > total:
        raise ValueError("0 <= hits <= total")
    return hits / total if total else None


def csat(ratings: Iterable[int]) -> dict[str, object]:
    """Distribution of 1-5 ratings, their mean, and the share of 4s and 5s (satisfied)."""
    counts = dict.fromkeys(range(1, 6), 0)
    for r in ratings:
        if r not in counts:
            raise ValueError(f"a rating is 1 to 5, not {r!r}")
        counts[r] += 1
    total = sum(counts.values())
    mean = sum(k * v for k, v in counts.items()) / total if total else None
    return {"count": total, "by_rating": counts, "mean": mean,
            "satisfied": rate(counts[4] + counts[5], total)}


HOURS_OF_WEEK = 168


def hour_of_week(at: datetime, zone: ZoneInfo) -> int:
    """0 = Monday 00:00-01:00 local ... 167 = Sunday 23:00-24:00 local."""
    local = _aware(at).astimezone(zone)
    return local.weekday() * 24 + local.hour


def arrivals_forecast(arrivals: Iterable[datetime], now: datetime, weeks: int,
                      zone: ZoneInfo) -> list[float]:
    """Expected arrivals for each hour of the coming week: the mean count of that hour of week
    over the ``weeks`` full weeks before ``now`` (a week with no arrival counts as 0)."""
    if not 1 <= weeks <= 52:
        raise RangeError("the forecast looks back 1 to 52 weeks")
    until = _aware(now).astimezone(UTC)
    since = until - timedelta(weeks=weeks)
    totals = [0] * HOURS_OF_WEEK
    for at in arrivals:
        if since <= _aware(at).astimezone(UTC) < until:
            totals[hour_of_week(at, zone)] += 1
    return [t / weeks for t in totals]


def erlang_c(traffic: float, agents: int) -> float:
    """Probability that a contact waits (Erlang C) with ``traffic`` Erlangs offered to
    ``agents``; 1.0 when the agents cannot keep up (traffic >= agents)."""
    if traffic < 0 or agents < 0:
        raise ValueError("traffic and agents are not negative")
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    # Erlang B by its stable recurrence, then C from B.
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return b / (1 - (traffic / agents) * (1 - b))


def service_level(arrivals_per_hour: float, handle_s: float, agents: int,
                  target_wait_s: float) -> float:
    """Share of contacts answered within ``target_wait_s`` (Erlang C, FIFO, patient callers)."""
    traffic = arrivals_per_hour * handle_s / 3600
    if traffic == 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    waits = erlang_c(traffic, agents)
    return 1 - waits * math.exp(-(agents - traffic) * target_wait_s / handle_s)


def agents_needed(arrivals_per_hour: float, handle_s: float, target_wait_s: float,
                  target_level: float = 0.8, max_agents: int = 10_000) -> int:
    """Fewest agents answering ``target_level`` of contacts within ``target_wait_s``."""
    if arrivals_per_hour < 0 or handle_s <= 0 or target_wait_s < 0:
        raise ValueError("arrivals >= 0, handle time > 0, target wait >= 0")
    if not 0 < target_level < 1:
        raise ValueError("the target level is a share strictly between 0 and 1")
    if arrivals_per_hour == 0:
        return 0
    agents = max(1, math.ceil(arrivals_per_hour * handle_s / 3600))
    while service_level(arrivals_per_hour, handle_s, agents, target_wait_s) < target_level:
        agents += 1
        if agents > max_agents:
            raise ValueError(f"more than {max_agents} agents needed")
    return agents


def staffing(expected: Sequence[float], handle_s: float, target_wait_s: float,
             target_level: float) -> list[int]:
    """Agents needed in each hour of ``expected`` arrivals (per hour) so that ``target_level``
    of contacts wait at most ``target_wait_s`` (Erlang C, agents_needed)."""
    return [agents_needed(a, handle_s, target_wait_s, target_level) for a in expected]


def last_period(now: datetime, zone: ZoneInfo, period: str) -> tuple[datetime, datetime]:
    """The last complete ``daily`` or ``weekly`` period (a calendar day, a Monday-to-Sunday
    week) of ``zone`` before ``now``: the one a scheduled report mails."""
    grain = {"daily": Grain.DAY, "weekly": Grain.WEEK}.get(period)
    if grain is None:
        raise RangeError("a schedule is daily or weekly")
    end = bucket_start(now, zone, grain)
    return bucket_start(end - timedelta(seconds=1), zone, grain), end

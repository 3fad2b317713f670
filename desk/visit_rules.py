"""Who's On settings of a site and its auto-invite rules (pure).

Part of a site's config (``desk.site_config.check`` calls ``check``)::

    tracking         bool      false: the widget reports no page views for this site (default on)
    invites_per_day  0..20     invitations one visitor is shown per day, by agents or rules (3)
    auto_invites     [rule]    rule = {"text": str, "url_contains": str, "referrer_contains": str,
                                       "min_seconds": 0..3600, "min_pages": 0..1000,
                                       "returning": bool, "calendar_id": business calendar id,
                                       "agents_available": bool}

Every condition a rule names must hold (url and referrer: a case-insensitive substring;
``calendar_id``: that calendar is open; ``agents_available``: an agent of the site could take
the chat now); the first rule that holds invites. ``min_seconds`` is time on the current page,
so ``delay`` says how long the caller waits before it asks again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from desk.errors import InvalidInput
from desk.limits import is_id

RULES_MAX = 20
INVITES_PER_DAY = 3
TEXT_MAX = 300
MATCH_MAX = 200
_INTS = {"min_seconds": 3600, "min_pages": 1000}
_BOOLS = ("returning", "agents_available")
_STRS = ("url_contains", "referrer_contains")


@dataclass(frozen=True, slots=True)
class VisitFacts:
    """What the rules may look at, as the visit stands now."""

    url: str
    referrer: str
    pages: int
    returning: bool
    seconds_on_page: float


def tracking_on(config: dict[str, Any]) -> bool:
    return config.get("tracking", True) is not False


def invites_per_day(config: dict[str, Any]) -> int:
    cap = config.get("invites_per_day", INVITES_PER_DAY)
    return cap if isinstance(cap, int) and not isinstance(cap, bool) and 0 <= cap <= 20 \
        else INVITES_PER_DAY


def rule_error(rule: object) -> str | None:
    if not isinstance(rule, dict):
        return "a rule is an object"
    unknown = set(rule) - {"text", "calendar_id", *_INTS, *_BOOLS, *_STRS}
    if unknown:
        return f"unknown member {sorted(unknown)[0]!r}"
    text = rule.get("text", "")
    if not isinstance(text, str) or len(text) > TEXT_MAX:
        return f"text must be at most {TEXT_MAX} characters"
    for name, hi in _INTS.items():
        v = rule.get(name, 0)
        if type(v) is not int or not 0 <= v <= hi:
            return f"{name} must be an integer 0..{hi}"
    for name in _BOOLS:
        if name in rule and type(rule[name]) is not bool:
            return f"{name} must be true or false"
    for name in _STRS:
        if name in rule and (not isinstance(rule[name], str) or len(rule[name]) > MATCH_MAX):
            return f"{name} must be a string of at most {MATCH_MAX} characters"
    if "calendar_id" in rule and not is_id(rule["calendar_id"]):
        return "calendar_id must be a business calendar id"
    return None


def check(config: dict[str, Any]) -> None:
    """InvalidInput naming the first bad Who's On setting."""
    if "tracking" in config and type(config["tracking"]) is not bool:
        raise InvalidInput("config.tracking must be true or false")
    cap = config.get("invites_per_day", INVITES_PER_DAY)
    if type(cap) is not int or not 0 <= cap <= 20:
        raise InvalidInput("config.invites_per_day must be an integer 0..20")
    rules = config.get("auto_invites", [])
    if not isinstance(rules, list) or len(rules) > RULES_MAX:
        raise InvalidInput(f"config.auto_invites must be a list of at most {RULES_MAX}")
    for i, rule in enumerate(rules):
        if (problem := rule_error(rule)) is not None:
            raise InvalidInput(f"config.auto_invites[{i}]: {problem}")


def rules(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The well-formed rules of a stored config (a bad one is skipped, never an error)."""
    found = config.get("auto_invites")
    return [r for r in found if rule_error(r) is None] if isinstance(found, list) else []


def matches(rule: dict[str, Any], facts: VisitFacts) -> bool:
    """Do the visit's own conditions hold, time on page aside (``delay`` says when)?"""
    if rule.get("min_pages", 0) > facts.pages:
        return False
    if "returning" in rule and rule["returning"] != facts.returning:
        return False
    for name, value in (("url_contains", facts.url), ("referrer_contains", facts.referrer)):
        if rule.get(name) and rule[name].lower() not in value.lower():
            return False
    return True


def delay(rule: dict[str, Any], facts: VisitFacts) -> float:
    """Seconds until the rule's time on page is reached (0: now)."""
    return max(0.0, float(rule.get("min_seconds", 0)) - facts.seconds_on_page)


def first_match(config: dict[str, Any], facts: VisitFacts) -> tuple[int, dict[str, Any]] | None:
    """The first rule (index, rule) whose visit conditions hold."""
    for i, rule in enumerate(rules(config)):
        if matches(rule, facts):
            return i, rule
    return None

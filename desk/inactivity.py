"""The inactivity ladder: what happens to a ``pending`` conversation the customer leaves silent.

Pure. A ladder is a list of steps (days of silence since the conversation went pending or the
customer last wrote, and an action: ``remind`` or ``close``); the default is 7 -> reminder,
14 -> second reminder, 21 -> closed with a mail inviting the customer to reopen. Days are
calendar days, not business days: the customer's silence is what is measured.

The anchor (``pending_since``) is set when the conversation goes pending and again on every
customer reply while it stays pending; a reopened case starts over (a new anchor). The timer of
step ``i`` has the instance ``<anchor>:<i>``, so a step fires at most once per anchor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from desk.errors import InvalidInput

ACTIONS = ("remind", "close")
STEPS_MAX = 10
DAYS_MAX = 365


@dataclass(frozen=True, slots=True)
class Step:
    days: int
    action: str


DEFAULT = (Step(7, "remind"), Step(14, "remind"), Step(21, "close"))


def parse(data: Any) -> tuple[Step, ...]:
    """A ladder from JSON ``[{"days": 7, "action": "remind"}, ...]``; ``[]`` turns it off."""
    if not isinstance(data, list) or len(data) > STEPS_MAX:
        raise InvalidInput(f"ladder must be a list of at most {STEPS_MAX} steps")
    steps: list[Step] = []
    for i, raw in enumerate(data):
        if not isinstance(raw, dict):
            raise InvalidInput(f"ladder[{i}] must be an object with days and action")
        days, action = raw.get("days"), raw.get("action")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= DAYS_MAX:
            raise InvalidInput(f"ladder[{i}].days must be 1..{DAYS_MAX}")
        if action not in ACTIONS:
            raise InvalidInput(f"ladder[{i}].action must be one of {', '.join(ACTIONS)}")
        if steps and days <= steps[-1].days:
            raise InvalidInput(f"ladder[{i}].days must be after the step before it")
        steps.append(Step(days, str(action)))
    if any(s.action == "close" for s in steps[:-1]):
        raise InvalidInput("only the last step of the ladder may close")
    return tuple(steps)


def to_json(steps: tuple[Step, ...]) -> list[dict[str, Any]]:
    return [{"days": s.days, "action": s.action} for s in steps]


@dataclass(frozen=True, slots=True)
class Due:
    step: int
    at: datetime
    instance: str


def next_step(steps: tuple[Step, ...], anchor: datetime, after: int = -1) -> Due | None:
    """The step following step ``after`` (-1: the first), or None at the end of the ladder."""
    i = after + 1
    if i >= len(steps):
        return None
    return Due(i, anchor + timedelta(days=steps[i].days), f"{anchor.isoformat()}:{i}")


def step_of(instance: str) -> int:
    return int(instance.rsplit(":", 1)[1])

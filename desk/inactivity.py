"""The inactivity ladder: what happens to a ``pending`` conversation the customer leaves silent.

Pure. A ladder is a list of steps (days of silence since the conversation went pending or the
customer last wrote, and an action: ``remind`` or ``close``); the default is 7 -> reminder,
14 -> second reminder, 21 -> closed with a mail inviting the customer to reopen. Days are
calendar days, not business days: the customer's silence is what is measured.

A step may carry its mail's own ``text`` (the department's wording, in place of the catalogue's
reminder or closing mail, in whatever language the customer writes); ``{number}``, ``{days}`` and
``{link}`` in it are filled in, nothing else is.

The anchor (``pending_since``) is set when the conversation goes pending and again on every
customer reply while it stays pending; a reopened case starts over (a new anchor). The timer of
step ``i`` has the instance ``<anchor>:<i>``, so a step fires at most once per anchor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from desk.errors import InvalidInput

ACTIONS = ("remind", "close")
STEPS_MAX = 10
DAYS_MAX = 365
TEXT_MAX = 4000
_PLACEHOLDER = re.compile(r"\{(number|days|link)\}")


@dataclass(frozen=True, slots=True)
class Step:
    days: int
    action: str
    text: str | None = None  # the mail's own wording; None: the catalogue's


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
        text = raw.get("text")
        if text is not None and (not isinstance(text, str) or not 0 < len(text.strip()) <= TEXT_MAX
                                 or "\x00" in text):
            raise InvalidInput(f"ladder[{i}].text must be 1 to {TEXT_MAX} characters or null")
        steps.append(Step(days, str(action), text.strip() if text else None))
    if any(s.action == "close" for s in steps[:-1]):
        raise InvalidInput("only the last step of the ladder may close")
    return tuple(steps)


def schema() -> dict[str, Any]:
    """What ``parse`` reads, as JSON Schema (the order and close-last rules are parse's)."""
    return {"type": "array", "maxItems": STEPS_MAX, "items": {
        "type": "object", "required": ["days", "action"], "properties": {
            "days": {"type": "integer", "minimum": 1, "maximum": DAYS_MAX},
            "action": {"enum": list(ACTIONS)},
            "text": {"anyOf": [{"type": "string", "minLength": 1, "maxLength": TEXT_MAX},
                               {"type": "null"}]}}}}


def to_json(steps: tuple[Step, ...]) -> list[dict[str, Any]]:
    return [{"days": s.days, "action": s.action, **({"text": s.text} if s.text else {})}
            for s in steps]


def mail_text(step: Step, number: str, link: str) -> str | None:
    """The step's own mail with its placeholders filled in; None: the catalogue's mail."""
    if step.text is None:
        return None
    values = {"number": number, "days": str(step.days), "link": link}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], step.text)


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

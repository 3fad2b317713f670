"""Automation rules: which rule fires on what, why, and what its actions change. Pure.

A rule (stored JSON, validated by ``parse``) has one event, optional event parameters, a list of
conditions (all must hold) and a list of actions. Events: ``created``, ``customer_replied``,
``agent_replied``, ``status_changed``, ``assigned``, ``updated`` (a rule changed the priority or
the tags), ``sla_breached``, ``commitment_overdue`` (an agent's commitment on the case passed its
due time; ``params.kinds``: only those types), ``nth_reply`` (``params.n``), and the timed ones,
fired by the
worker's due timers: ``sla_warning`` (``params.target`` and ``params.percent`` of its business
time used) and ``idle`` (``params.seconds`` without a message).

``explain`` answers "would it fire, and why" (the try-it endpoint and the worker use the same
answer). ``cascade`` runs the actions and the rules their changes trigger in turn, at most
``MAX_DEPTH`` rounds: a loop (A sets tag x, B on x sets y, A on y ...) is cut there and
reported, never followed.

``assign`` (an agent id) changes nothing the cascade sees: the router decides after the sweep's
commit whether the agent can take the conversation (ingest.rule_outbox), and a made
assignment raises ``assigned`` itself. A ``notify`` may name ``console`` (``assignee`` or an
agent id): that agent's console shows it.

Tags are the conversation's ``conversation_tags`` rows (``desk.tags``), handed in as ``Facts.tags``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from desk import business_hours as bh
from desk import sla, validate
from desk.errors import InvalidInput

EVENTS = ("created", "customer_replied", "agent_replied", "status_changed", "assigned",
          "updated", "sla_breached", "sla_warning", "idle", "nth_reply", "commitment_overdue")
TIMED = frozenset({"sla_warning", "idle"})
FIELDS = ("department", "group", "channel", "priority", "tier", "tag", "topic", "status",
          "custom_field", "keyword", "sender_domain", "business_hours")
ACTIONS = ("notify", "set_priority", "add_tag", "transfer", "assign", "mail_customer",
           "set_status", "close")
STATUSES = ("active", "pending", "resolved", "closed")
OPS = ("in", "not_in")
# The parameters each event reads (``_params``; ``commitment_overdue``'s kinds are optional).
EVENT_PARAMS = {"sla_warning": ("percent", "target"), "idle": ("seconds",), "nth_reply": ("n",),
                "commitment_overdue": ("kinds",)}
MAX_DEPTH = 5
MAIL_TO = ("assignee", "group", "supervisors")
MAIL_TO_MAX = 10
LIST_MAX = 50
TEXT_MAX = 2000
IDLE_MAX_S = 365 * 86400


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    values: tuple[Any, ...] = ()
    negate: bool = False
    key: str | None = None  # custom_field: which field


@dataclass(frozen=True, slots=True)
class Action:
    type: str
    value: Any = None


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    version: int
    enabled: bool
    event: str
    params: Mapping[str, Any]
    conditions: tuple[Condition, ...]
    actions: tuple[Action, ...]

    def agents(self) -> set[int]:
        """Agents the rule names (an assignment's, a console notice's)."""
        named = {int(a.value) for a in self.actions if a.type == "assign"}
        return named | {int(a.value["console"]) for a in self.actions
                        if a.type == "notify" and isinstance(a.value, dict)
                        and _is_id(a.value.get("console"))}

    def groups(self) -> set[int]:
        """Groups the rule names (a deleted one disables it)."""
        named = {int(a.value) for a in self.actions if a.type == "transfer"}
        named |= {int(a.value["group_id"]) for a in self.actions
                  if a.type == "notify" and isinstance(a.value, dict) and "group_id" in a.value}
        for c in self.conditions:
            if c.field == "group":
                named |= {int(v) for v in c.values}
        return named


@dataclass(frozen=True, slots=True)
class Facts:
    """What conditions look at."""

    department_id: int | None = None
    group_id: int | None = None
    channel: str = "email"
    priority: int = 2
    tier: int | None = None
    tags: frozenset[str] = frozenset()
    topic: str | None = None
    status: str = "queued"
    custom_fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    subject: str = ""
    body: str = ""
    sender_domain: str | None = None
    business_hours: bool = True
    replies: int = 0


def _values(raw: Any, where: str, kind: type | tuple[type, ...]) -> tuple[Any, ...]:
    if not isinstance(raw, list):
        raw = [raw]
    if not 0 < len(raw) <= LIST_MAX or any((isinstance(v, bool) and kind is not bool)
                                           or not isinstance(v, kind) for v in raw):
        raise InvalidInput(f"{where} must be 1..{LIST_MAX} values")
    if any(isinstance(v, str) and not 0 < len(v) <= 200 for v in raw):
        raise InvalidInput(f"{where}: each value must be 1..200 characters")
    return tuple(v.lower() if isinstance(v, str) else v for v in raw)


_KINDS: dict[str, type | tuple[type, ...]] = {
    "department": int, "group": int, "priority": int, "tier": int, "channel": str, "tag": str,
    "topic": str, "status": str, "keyword": str, "sender_domain": str, "business_hours": bool,
    "custom_field": (str, int, float)}


def _condition(raw: Any, i: int) -> Condition:
    if not isinstance(raw, dict) or raw.get("field") not in FIELDS:
        raise InvalidInput(f"conditions[{i}].field must be one of {', '.join(FIELDS)}")
    field = str(raw["field"])
    op = raw.get("op", "in")
    if op not in OPS:
        raise InvalidInput(f"conditions[{i}].op must be in or not_in")
    key = raw.get("key")
    if field == "custom_field" and (not isinstance(key, str) or not 0 < len(key) <= 64):
        raise InvalidInput(f"conditions[{i}].key must name the custom field")
    values = _values(raw.get("value"), f"conditions[{i}].value", _KINDS[field])
    return Condition(field, values, op == "not_in", key if field == "custom_field" else None)


def _action(raw: Any, i: int) -> Action:
    if not isinstance(raw, dict) or raw.get("type") not in ACTIONS:
        raise InvalidInput(f"actions[{i}].type must be one of {', '.join(ACTIONS)}")
    kind, value = str(raw["type"]), raw.get("value")
    match kind:
        case "set_priority":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9:
                raise InvalidInput(f"actions[{i}].value must be a priority 0..9")
        case "add_tag":
            if not isinstance(value, str) or not 0 < len(value) <= 64:
                raise InvalidInput(f"actions[{i}].value must be a tag of 1..64 characters")
            value = value.lower()
        case "transfer":
            if not _is_id(value):
                raise InvalidInput(f"actions[{i}].value must be a group id")
        case "assign":
            if not _is_id(value):
                raise InvalidInput(f"actions[{i}].value must be an agent id")
        case "set_status":
            if value not in STATUSES:
                raise InvalidInput(f"actions[{i}].value must be one of {', '.join(STATUSES)}")
        case "mail_customer" | "notify":
            text = value.get("text") if isinstance(value, dict) else value
            if not isinstance(text, str) or not 0 < len(text) <= TEXT_MAX:
                raise InvalidInput(f"actions[{i}].value must hold a text of 1..{TEXT_MAX} "
                                   "characters")
            if kind == "notify" and isinstance(value, dict) and "group_id" in value and (
                    isinstance(value["group_id"], bool) or not isinstance(value["group_id"], int)):
                raise InvalidInput(f"actions[{i}].value.group_id must be a group id")
            if kind == "notify" and isinstance(value, dict) and "mail" in value:
                value = {**value, "mail": _mail_to(value["mail"], i)}
            if kind == "notify" and isinstance(value, dict) and "console" in value and not (
                    value["console"] == "assignee" or _is_id(value["console"])):
                raise InvalidInput(f"actions[{i}].value.console must be assignee or an "
                                   "agent id")
        case "close":
            value = None
    return Action(kind, value)


def _is_id(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= 1


def _mail_to(raw: Any, i: int) -> list[str]:
    """Who a notice is mailed to: ``assignee``, ``group`` (the one the notice names, else the
    conversation's), ``supervisors`` (of the conversation's group) or an address."""
    if not isinstance(raw, list) or not 0 < len(raw) <= MAIL_TO_MAX or not all(
            v in MAIL_TO or validate.is_email(v) for v in raw):
        raise InvalidInput(f"actions[{i}].value.mail must be 1..{MAIL_TO_MAX} of "
                           f"{', '.join(MAIL_TO)} or email addresses")
    return list(dict.fromkeys(str(v).lower() for v in raw))


def _params(event: str, raw: Any) -> dict[str, Any]:
    raw = raw or {}
    if not isinstance(raw, dict):
        raise InvalidInput("params must be an object")
    match event:
        case "sla_warning":
            pct, target = raw.get("percent"), raw.get("target")
            if isinstance(pct, bool) or not isinstance(pct, int) or not 1 <= pct <= 99:
                raise InvalidInput("params.percent must be 1..99")
            if target not in sla.TARGETS:
                raise InvalidInput(f"params.target must be one of {', '.join(sla.TARGETS)}")
            return {"percent": pct, "target": target}
        case "idle":
            secs = raw.get("seconds")
            if isinstance(secs, bool) or not isinstance(secs, int) \
                    or not 60 <= secs <= IDLE_MAX_S:
                raise InvalidInput(f"params.seconds must be 60..{IDLE_MAX_S}")
            return {"seconds": secs}
        case "nth_reply":
            n = raw.get("n")
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1000:
                raise InvalidInput("params.n must be 1..1000")
            return {"n": n}
        case "commitment_overdue" if "kinds" in raw:
            kinds = raw["kinds"]
            if not isinstance(kinds, list) or not 1 <= len(kinds) <= LIST_MAX or not all(
                    isinstance(k, str) and 1 <= len(k.strip()) <= 120 for k in kinds):
                raise InvalidInput(f"params.kinds must be 1..{LIST_MAX} commitment types")
            return {"kinds": sorted({k.strip().lower() for k in kinds})}
    return {}


def _item_schema(kind: type | tuple[type, ...]) -> dict[str, Any]:
    if kind is bool:
        return {"type": "boolean"}
    if kind is int:
        return {"type": "integer"}
    text = {"type": "string", "minLength": 1, "maxLength": 200}
    return text if kind is str else {"anyOf": [text, {"type": "number"}]}


def condition_schemas() -> list[dict[str, Any]]:
    """One JSON Schema per condition field, from the kinds ``_condition`` checks with (the
    API description and the admin's rule editor both read these)."""
    out = []
    for field in FIELDS:
        item = _item_schema(_KINDS[field])
        props: dict[str, Any] = {"field": {"const": field}, "op": {"enum": list(OPS)},
                                 "value": {"anyOf": [item, {"type": "array", "minItems": 1,
                                                            "maxItems": LIST_MAX,
                                                            "items": item}]}}
        required = ["field", "value"]
        if field == "custom_field":
            props["key"] = {"type": "string", "minLength": 1, "maxLength": 64}
            required.append("key")
        out.append({"type": "object", "required": required, "properties": props})
    return out


def action_schemas() -> list[dict[str, Any]]:
    """One JSON Schema per action type, as ``_action`` checks its value."""
    gid = {"type": "integer", "minimum": 1}
    text = {"type": "string", "minLength": 1, "maxLength": TEXT_MAX}
    mail = {"type": "array", "minItems": 1, "maxItems": MAIL_TO_MAX, "items": {"anyOf": [
        {"enum": list(MAIL_TO)}, {"type": "string", "format": "email"}]}}
    notice = {"type": "object", "required": ["text"], "properties": {
        "text": text, "group_id": gid, "mail": mail,
        "console": {"anyOf": [{"const": "assignee"}, gid]}}}
    values: dict[str, dict[str, Any]] = {
        "notify": {"anyOf": [text, notice]}, "set_priority": {"type": "integer", "minimum": 0,
                                                             "maximum": 9},
        "add_tag": {"type": "string", "minLength": 1, "maxLength": 64}, "transfer": gid,
        "assign": gid, "mail_customer": {"anyOf": [text, {"type": "object", "required": [
            "text"], "properties": {"text": text}}]},
        "set_status": {"enum": list(STATUSES)}, "close": {"type": "null"}}
    return [{"type": "object", "required": ["type"] if kind == "close" else ["type", "value"],
             "properties": {"type": {"const": kind}, "value": values[kind]}}
            for kind in ACTIONS]


def params_schema() -> dict[str, Any]:
    """The event parameters ``_params`` reads; ``x-events`` names each event's own (the rule
    editor asks for those; an event ignores the others)."""
    def num(lo: int, hi: int) -> dict[str, Any]:
        return {"type": "integer", "minimum": lo, "maximum": hi}

    return {"type": "object", "x-events": {k: list(v) for k, v in EVENT_PARAMS.items()},
            "properties": {
                "percent": num(1, 99), "target": {"enum": list(sla.TARGETS)},
                "seconds": num(60, IDLE_MAX_S), "n": num(1, 1000),
                "kinds": {"type": "array", "minItems": 1, "maxItems": LIST_MAX,
                          "items": {"type": "string", "minLength": 1, "maxLength": 120}}}}


def rule_schemas() -> dict[str, dict[str, Any]]:
    """The fields of a rule's definition (``parse``) as JSON Schema."""
    return {"event": {"enum": list(EVENTS)}, "params": params_schema(),
            "conditions": {"type": "array", "maxItems": LIST_MAX,
                           "items": {"oneOf": condition_schemas()}},
            "actions": {"type": "array", "minItems": 1, "maxItems": 10,
                        "items": {"oneOf": action_schemas()}}}


def overdue_rules(rules: Sequence[Rule], kind: str) -> list[Rule]:
    """The enabled rules an overdue commitment of type ``kind`` fires (its type, or any)."""
    return [r for r in rules if r.enabled and r.event == "commitment_overdue"
            and kind.strip().lower() in r.params.get("kinds", [kind.strip().lower()])]


def parse(rule_id: int, version: int, data: Any, enabled: bool) -> Rule:
    """A rule from its stored or posted JSON; ``InvalidInput`` naming the field otherwise."""
    if not isinstance(data, dict):
        raise InvalidInput("a rule must be an object")
    event = data.get("event")
    if event not in EVENTS:
        raise InvalidInput(f"event must be one of {', '.join(EVENTS)}")
    conds, acts = data.get("conditions", []), data.get("actions")
    if not isinstance(conds, list) or len(conds) > LIST_MAX:
        raise InvalidInput(f"conditions must be a list of at most {LIST_MAX}")
    if not isinstance(acts, list) or not 0 < len(acts) <= 10:
        raise InvalidInput("actions must be a list of 1..10 actions")
    return Rule(rule_id, version, enabled, str(event), _params(str(event), data.get("params")),
                tuple(_condition(c, i) for i, c in enumerate(conds)),
                tuple(_action(a, i) for i, a in enumerate(acts)))


def _value(c: Condition, f: Facts) -> tuple[bool, str]:
    """Whether the condition holds (before ``negate``), and what was seen."""
    match c.field:
        case "department" | "group" | "priority" | "tier" | "status" | "topic" | "channel":
            attr = {"department": "department_id", "group": "group_id"}.get(c.field, c.field)
            seen = getattr(f, attr)
            norm = seen.lower() if isinstance(seen, str) else seen
            return norm in c.values, f"{c.field} is {seen}"
        case "tag":
            hit = sorted(f.tags & set(c.values))
            return bool(hit), f"tags {sorted(f.tags) or 'none'}"
        case "custom_field":
            seen = f.custom_fields.get(c.key or "")
            norm = seen.lower() if isinstance(seen, str) else seen
            return norm in c.values, f"{c.key} is {seen!r}"
        case "keyword":
            text = f"{f.subject}\n{f.body}".lower()
            hit = [k for k in c.values if k in text]
            return bool(hit), f"keywords found: {hit or 'none'}"
        case "sender_domain":
            return (f.sender_domain or "").lower() in c.values, f"sender domain {f.sender_domain}"
        case "business_hours":
            return f.business_hours in c.values, \
                f"{'inside' if f.business_hours else 'outside'} business hours"
    return False, f"unknown field {c.field}"


@dataclass(frozen=True, slots=True)
class Verdict:
    fires: bool
    reasons: tuple[str, ...]


def explain(rule: Rule, event: str, f: Facts) -> Verdict:
    """Would ``rule`` fire on ``event`` for these facts, and why (every condition's reading)."""
    if not rule.enabled:
        return Verdict(False, ("the rule is disabled",))
    if event != rule.event:
        return Verdict(False, (f"it waits for {rule.event}, not {event}",))
    reasons = [f"event {event}"]
    if event == "nth_reply" and f.replies != rule.params.get("n"):
        return Verdict(False, (f"this is reply {f.replies}, not {rule.params.get('n')}",))
    ok = True
    for c in rule.conditions:
        held, seen = _value(c, f)
        held = held != c.negate
        op = "not in" if c.negate else "in"
        reasons.append(f"{c.field} {op} {list(c.values)}: {'yes' if held else 'no'} ({seen})")
        ok = ok and held
    return Verdict(ok, tuple(reasons))


def apply(a: Action, f: Facts) -> tuple[Facts, tuple[str, ...]]:
    """An action's effect on the facts, and the events the change raises (none if nothing
    changed: setting what is already set triggers nothing)."""
    match a.type:
        case "set_priority" if f.priority != a.value:
            return dataclasses.replace(f, priority=int(a.value)), ("updated",)
        case "add_tag" if a.value not in f.tags:
            return dataclasses.replace(f, tags=f.tags | {str(a.value)}), ("updated",)
        case "transfer" if f.group_id != a.value:
            return dataclasses.replace(f, group_id=int(a.value)), ("assigned",)
        case "set_status" if f.status != a.value:
            return dataclasses.replace(f, status=str(a.value)), ("status_changed",)
        case "close" if f.status != "closed":
            return dataclasses.replace(f, status="closed"), ("status_changed",)
    return f, ()


@dataclass(frozen=True, slots=True)
class Fired:
    rule: Rule
    depth: int
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Cascade:
    fired: tuple[Fired, ...]
    actions: tuple[tuple[Rule, Action], ...]  # in order, each with the rule that chose it
    facts: Facts
    cut: bool  # stopped at MAX_DEPTH with events still to handle (a loop)


def cascade(rules: Sequence[Rule], event: str, f: Facts, *,
            first: Sequence[Rule] | None = None, max_depth: int = MAX_DEPTH) -> Cascade:
    """Fire the rules on ``event`` (``first``: only those, e.g. the one rule whose timer came
    due), then the rules on the events their changes raise, round by round."""
    fired: list[Fired] = []
    actions: list[tuple[Rule, Action]] = []
    events = [event]
    candidates: Sequence[Rule] = first if first is not None else rules
    depth = 0
    while events and depth < max_depth:
        raised: list[str] = []
        for ev in dict.fromkeys(events):
            for rule in candidates:
                verdict = explain(rule, ev, f)
                if not verdict.fires:
                    continue
                fired.append(Fired(rule, depth, verdict.reasons))
                for a in rule.actions:
                    f, more = apply(a, f)
                    actions.append((rule, a))
                    raised += more
        events = [e for e in raised if e not in TIMED]
        candidates = [r for r in rules if r.event not in TIMED]
        depth += 1
    return Cascade(tuple(fired), tuple(actions), f, bool(events))


def timer_kind(rule: Rule) -> str:
    return f"rule:{rule.id}"


def rule_timers(rules: Sequence[Rule], state: sla.State, cal: bh.Calendar,
                last_activity: datetime) -> list[tuple[str, str, datetime]]:
    """The due timers of the timed rules for one conversation: (kind, instance, due_at).

    The instance names the rule's version and what the timer counts from, so an edited rule
    or a new cycle gets a timer of its own and an old firing never blocks it."""
    out = []
    for r in rules:
        if not r.enabled or r.event not in TIMED:
            continue
        if r.event == "idle":
            at = last_activity + timedelta(seconds=int(r.params["seconds"]))
            out.append((timer_kind(r), f"v{r.version}:idle:{last_activity.isoformat()}", at))
            continue
        clock = state.clocks.get(str(r.params["target"]))
        if clock is None or clock.started_at is None or clock.breached_at is not None:
            continue
        point = sla.point_at(clock, cal, int(r.params["percent"]) / 100)
        if point is not None:
            out.append((timer_kind(r), f"v{r.version}:{r.params['target']}:"
                        f"{clock.started_at.isoformat()}:{r.params['percent']}", point))
    return out

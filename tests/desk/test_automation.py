"""Automation rules (pure): validation, conditions with their reasons, the loop guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from desk import automation, sla
from desk import business_hours as bh
from desk.errors import InvalidInput

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def rule(rid: int, event: str, conditions: list[dict[str, Any]], actions: list[dict[str, Any]],
         **params: Any) -> automation.Rule:
    return automation.parse(rid, 1, {"event": event, "params": params,
                                     "conditions": conditions, "actions": actions}, True)


FACTS = automation.Facts(department_id=1, group_id=2, channel="email", priority=2, tier=1,
                         tags=frozenset({"vip"}), topic="billing", status="active",
                         custom_fields={"plan": "Gold"}, subject="Invoice wrong",
                         body="please refund", sender_domain="example.org",
                         business_hours=False, replies=3)


@pytest.mark.parametrize(("field", "value", "fires"), [
    ("department", [1], True), ("department", [2], False), ("group", [2], True),
    ("channel", ["email"], True), ("channel", ["chat"], False), ("priority", [1, 2], True),
    ("tier", [1], True), ("tag", ["vip"], True), ("tag", ["new"], False),
    ("topic", ["Billing"], True), ("status", ["active"], True),
    ("keyword", ["refund"], True), ("keyword", ["invoice"], True), ("keyword", ["cat"], False),
    ("sender_domain", ["EXAMPLE.org"], True), ("business_hours", [False], True),
    ("business_hours", [True], False),
])
def test_each_condition(field: str, value: list[Any], fires: bool) -> None:
    r = rule(1, "created", [{"field": field, "value": value}], [{"type": "close"}])
    verdict = automation.explain(r, "created", FACTS)
    assert verdict.fires is fires
    assert verdict.reasons[-1].startswith(field)
    negated = rule(1, "created", [{"field": field, "op": "not_in", "value": value}],
                   [{"type": "close"}])
    assert automation.explain(negated, "created", FACTS).fires is not fires


def test_custom_field_and_nth_reply() -> None:
    r = rule(1, "nth_reply", [{"field": "custom_field", "key": "plan", "value": ["gold"]}],
             [{"type": "add_tag", "value": "third"}], n=3)
    assert automation.explain(r, "nth_reply", FACTS).fires
    other = automation.explain(r, "nth_reply", automation.Facts(replies=2))
    assert not other.fires and "reply 2" in other.reasons[0]
    assert not automation.explain(r, "created", FACTS).fires


@pytest.mark.parametrize("bad", [
    {"event": "sometimes", "actions": [{"type": "close"}]},
    {"event": "created", "actions": []},
    {"event": "created", "actions": [{"type": "explode"}]},
    {"event": "created", "actions": [{"type": "set_priority", "value": 99}]},
    {"event": "created", "actions": [{"type": "transfer", "value": "sales"}]},
    {"event": "created", "conditions": [{"field": "mood", "value": ["x"]}],
     "actions": [{"type": "close"}]},
    {"event": "created", "conditions": [{"field": "custom_field", "value": ["x"]}],
     "actions": [{"type": "close"}]},
    {"event": "idle", "params": {"seconds": 5}, "actions": [{"type": "close"}]},
    {"event": "sla_warning", "params": {"percent": 100, "target": "resolution"},
     "actions": [{"type": "close"}]},
    {"event": "created", "actions": [{"type": "mail_customer", "value": ""}]},
    {"event": "created", "actions": [{"type": "assign", "value": True}]},
    {"event": "created", "actions": [{"type": "assign", "value": 0}]},
    {"event": "created", "actions": [{"type": "notify", "value": {"text": "x", "console": -1}}]},
    {"event": "created", "actions": [{"type": "notify",
                                      "value": {"text": "x", "console": "group"}}]},
    "rule",
])
def test_bad_rules(bad: Any) -> None:
    with pytest.raises(InvalidInput):
        automation.parse(1, 1, bad, True)


def test_groups_named() -> None:
    r = rule(1, "created", [{"field": "group", "value": [4]}],
             [{"type": "transfer", "value": 5}, {"type": "notify",
                                                 "value": {"text": "hi", "group_id": 6}}])
    assert r.groups() == {4, 5, 6}


def test_agents_named_and_an_assignment_changes_no_fact() -> None:
    r = rule(1, "created", [], [{"type": "assign", "value": 7},
                                {"type": "notify", "value": {"text": "hi", "console": 8}},
                                {"type": "notify", "value": {"text": "hi", "console": "assignee"}}])
    assert r.agents() == {7, 8} and r.groups() == set()
    assert automation.apply(r.actions[0], FACTS) == (FACTS, ())
    done = automation.cascade([r], "created", FACTS)
    assert [a.type for _, a in done.actions] == ["assign", "notify", "notify"]
    assert done.facts == FACTS and not done.cut


def test_the_loop_is_cut_and_reported() -> None:
    a = rule(1, "updated", [{"field": "priority", "value": [1]}],
             [{"type": "set_priority", "value": 2}])
    b = rule(2, "updated", [{"field": "priority", "value": [2]}],
             [{"type": "set_priority", "value": 1}])
    out = automation.cascade([a, b], "updated", FACTS)
    assert out.cut
    assert max(f.depth for f in out.fired) == automation.MAX_DEPTH - 1
    assert [f.rule.id for f in out.fired][:3] == [2, 1, 2]


def test_tags_settle_without_a_cut() -> None:
    a = rule(1, "updated", [{"field": "tag", "value": ["y"]}], [{"type": "add_tag", "value": "x"}])
    b = rule(2, "updated", [{"field": "tag", "value": ["x"]}], [{"type": "add_tag", "value": "y"}])
    start = rule(3, "created", [], [{"type": "add_tag", "value": "x"}])
    out = automation.cascade([a, b, start], "created", automation.Facts())
    assert not out.cut
    assert out.facts.tags == {"x", "y"}
    # Setting a tag already set raises nothing: the second round settles it.
    assert [(f.rule.id, f.depth) for f in out.fired] == [(3, 0), (2, 1), (1, 2), (2, 2)]


def test_status_change_triggers_status_rules() -> None:
    a = rule(1, "created", [], [{"type": "set_status", "value": "pending"}])
    b = rule(2, "status_changed", [{"field": "status", "value": ["pending"]}],
             [{"type": "add_tag", "value": "waiting"}])
    out = automation.cascade([a, b], "created", automation.Facts())
    assert [f.rule.id for f in out.fired] == [1, 2] and "waiting" in out.facts.tags


def test_rule_timers() -> None:
    cal = bh.ALWAYS
    warn = rule(7, "sla_warning", [], [{"type": "add_tag", "value": "late"}],
                target="first_response", percent=75)
    idle = rule(8, "idle", [], [{"type": "close"}], seconds=3600)
    state = sla.on_created({"first_response": 4 * 3600}, cal, T0)
    timers = automation.rule_timers([warn, idle], state, cal, T0)
    assert timers == [
        ("rule:7", f"v1:first_response:{T0.isoformat()}:75", T0 + timedelta(hours=3)),
        ("rule:8", f"v1:idle:{T0.isoformat()}", T0 + timedelta(hours=1))]
    met = sla.on_staff_reply(state, T0 + timedelta(minutes=5))
    assert [k for k, _, _ in automation.rule_timers([warn], met, cal, T0)] == []


def test_commitment_overdue_rules_by_type() -> None:
    any_kind = rule(1, "commitment_overdue", [], [{"type": "add_tag", "value": "late"}])
    calls = rule(2, "commitment_overdue", [], [{"type": "close"}], kinds=["Call back"])
    other = rule(3, "created", [], [{"type": "close"}])
    assert automation.overdue_rules([any_kind, calls, other], "call back") == [any_kind, calls]
    assert automation.overdue_rules([any_kind, calls, other], "Send part") == [any_kind]
    for bad in ([], "call", [""], [1]):
        with pytest.raises(InvalidInput, match=r"params\.kinds"):
            rule(4, "commitment_overdue", [], [{"type": "close"}], kinds=bad)

"""Service-level rules: policy choice, target bounds, the clocks with pause/resume, phrasing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from desk import business_hours as bh
from desk import inactivity, sla
from desk.catalogues import shipped
from desk.errors import InvalidInput

H = 3600
CAL = bh.parse({"timezone": "Europe/Berlin",
                "hours": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}})
T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)  # Tuesday 10:00 Berlin


def policy(pid: int, dept: int | None = None, position: int = 0,
           **conds: list[Any]) -> sla.Policy:
    c = sla.Conditions(**{k: frozenset(v) for k, v in conds.items()})
    return sla.Policy(pid, dept, position, c, {"first_response": H})


def facts(**kw: object) -> sla.Facts:
    base: dict[str, object] = {"department_id": 1, "priority": 2, "tier": None,
                               "channel": "email", "topic": None}
    return sla.Facts(**{**base, **kw})  # type: ignore[arg-type]


def test_department_policy_before_catch_all() -> None:
    ps = [policy(1), policy(2, dept=1)]
    assert sla.select_policy(ps, facts()).id == 2  # type: ignore[union-attr]
    assert sla.select_policy(ps, facts(department_id=9)).id == 1  # type: ignore[union-attr]


def test_conditions_and_position() -> None:
    ps = [policy(1, dept=1, position=5),
          policy(2, dept=1, position=1, priorities=[1]),
          policy(3, dept=1, position=2, tiers=[1], channels=["chat"]),
          policy(4, dept=1, position=3, topics=["billing"])]
    assert sla.select_policy(ps, facts(priority=1)).id == 2  # type: ignore[union-attr]
    assert sla.select_policy(ps, facts(tier=1, channel="chat")).id == 3  # type: ignore[union-attr]
    assert sla.select_policy(ps, facts(tier=1)).id == 1  # type: ignore[union-attr]
    assert sla.select_policy(ps, facts(topic="billing")).id == 4  # type: ignore[union-attr]
    assert sla.select_policy([policy(5, dept=2)], facts()) is None


def test_disabled_policy_is_skipped() -> None:
    p = sla.Policy(1, None, 0, sla.Conditions(), {"resolution": H}, enabled=False)
    assert sla.select_policy([p], facts()) is None


@pytest.mark.parametrize("targets", [{"first_response": 0}, {"resolution": 3 * 365 * 86400},
                                     {"first_response": "1h"}, {}, {"soon": 60},
                                     {"first_response": True}])
def test_bad_targets(targets: object) -> None:
    with pytest.raises(InvalidInput):
        sla.parse_targets(targets)


def test_good_targets_and_conditions() -> None:
    assert sla.parse_targets({"first_response": 3600, "resolution": None}) == {
        "first_response": 3600}
    c = sla.parse_conditions({"priorities": [1], "channels": ["chat"]}, ("chat", "email"))
    assert sla.conditions_json(c) == {"priorities": [1], "channels": ["chat"]}
    with pytest.raises(InvalidInput, match="unknown"):
        sla.parse_conditions({"channels": ["fax"]}, ("chat",))
    with pytest.raises(InvalidInput):
        sla.parse_conditions({"priorities": ["high"]}, ("chat",))


def test_created_starts_first_response_and_resolution() -> None:
    s = sla.on_created({"first_response": H, "next_response": H, "resolution": 8 * H}, CAL, T0)
    assert s.clocks["first_response"].due == T0 + timedelta(hours=1)
    assert s.clocks["resolution"].due == datetime(2026, 12, 2, 9, tzinfo=UTC)
    assert not s.clocks["next_response"].open
    assert s.due() == T0 + timedelta(hours=1)


def test_staff_reply_meets_then_customer_reply_starts_next_response() -> None:
    s = sla.on_created({"first_response": H, "next_response": 2 * H}, CAL, T0)
    s = sla.on_staff_reply(s, T0 + timedelta(minutes=10))
    assert s.clocks["first_response"].met_at == T0 + timedelta(minutes=10)
    assert s.due() is None
    s = sla.on_customer_reply(s, CAL, T0 + timedelta(hours=1))
    assert s.clocks["next_response"].due == T0 + timedelta(hours=3)
    s = sla.on_staff_reply(s, T0 + timedelta(hours=2))
    assert s.clocks["next_response"].met_at == T0 + timedelta(hours=2)


def test_customer_reply_before_first_answer_starts_nothing_new() -> None:
    s = sla.on_created({"first_response": H, "next_response": 2 * H}, CAL, T0)
    assert sla.on_customer_reply(s, CAL, T0 + timedelta(minutes=5)) == s


def test_pending_pauses_and_reply_resumes() -> None:
    s = sla.on_created({"resolution": 4 * H}, CAL, T0)
    s = sla.on_status(s, CAL, "active", "pending", T0 + timedelta(hours=1))
    c = s.clocks["resolution"]
    assert s.paused and c.due is None and c.used_s == H
    assert s.due() is None
    # Three days later (Friday 10:00 Berlin) the customer answers: 3 h left.
    back = T0 + timedelta(days=3)
    s = sla.on_customer_reply(s, CAL, back)
    assert not s.paused
    assert s.clocks["resolution"].due == back + timedelta(hours=3)


def test_pause_resume_by_status_and_reopen() -> None:
    s = sla.on_created({"resolution": 4 * H}, CAL, T0)
    s = sla.on_status(s, CAL, "active", "pending", T0 + timedelta(hours=1))
    s = sla.on_status(s, CAL, "pending", "active", T0 + timedelta(hours=2))
    assert s.clocks["resolution"].due == T0 + timedelta(hours=5)
    s = sla.on_status(s, CAL, "active", "resolved", T0 + timedelta(hours=3))
    assert s.clocks["resolution"].met_at == T0 + timedelta(hours=3)
    s = sla.on_status(s, CAL, "resolved", "queued", T0 + timedelta(hours=4))
    c = s.clocks["resolution"]
    assert c.met_at is None and c.started_at == T0 + timedelta(hours=4)
    assert c.due == datetime(2026, 12, 2, 9, tzinfo=UTC)  # 3 h that day, 1 h the next


def test_overdue_resume_is_due_at_once() -> None:
    s = sla.on_created({"first_response": H}, CAL, T0)
    s = sla.on_status(s, CAL, "active", "pending", T0 + timedelta(hours=2))
    s = sla.on_status(s, CAL, "pending", "active", T0 + timedelta(hours=3))
    assert s.clocks["first_response"].due == T0 + timedelta(hours=3)


def test_breach_once_and_warning_point() -> None:
    c = sla.start(sla.Clock(2 * H), CAL, T0)
    assert sla.point_at(c, CAL, 0.5) == T0 + timedelta(hours=1)
    b = sla.breach(c, T0 + timedelta(hours=2))
    assert sla.breach(b, T0 + timedelta(hours=5)).breached_at == T0 + timedelta(hours=2)
    assert sla.remaining_s(c, CAL, T0 + timedelta(hours=3)) == -H


def test_expected_response_phrasing() -> None:
    en = shipped().translator("en")
    # Open now, due in an hour.
    assert sla.expected_response(en, CAL, T0, T0 + timedelta(hours=1)) == "within 60 minutes"
    assert sla.expected_response(en, CAL, T0, T0 + timedelta(hours=3)) == "within 3 hours"
    assert sla.expected_response(en, CAL, T0, T0 + timedelta(seconds=30)) == "within a minute"
    # Saturday: closed now, due Monday 10:00 Berlin.
    sat = datetime(2026, 12, 5, 12, tzinfo=UTC)
    due = bh.add(CAL, sat, H)
    assert sla.expected_response(en, CAL, sat, due) == "by Monday 10:00"
    assert sla.expected_response(en, CAL, sat, sat + timedelta(days=9)) == \
        "by Monday 14 December 13:00"


@pytest.mark.parametrize(("lang", "soon", "monday", "later"), [
    ("de", "innerhalb von 3 Stunden", "bis Montag, 10:00 Uhr",
     "bis Montag, 14. Dezember, 13:00 Uhr"),
    ("es", "en un plazo de 3 horas", "antes del lunes a las 10:00",
     "antes del lunes 14 de diciembre a las 13:00"),
    ("fr", "d’ici 3 heures", "d’ici lundi à 10:00", "d’ici lundi 14 décembre à 13:00"),
])
def test_expected_response_in_the_customers_language(lang: str, soon: str, monday: str,
                                                      later: str) -> None:
    t = shipped().translator(lang)
    sat = datetime(2026, 12, 5, 12, tzinfo=UTC)
    assert sla.expected_response(t, CAL, T0, T0 + timedelta(hours=3)) == soon
    assert sla.expected_response(t, CAL, sat, bh.add(CAL, sat, H)) == monday
    assert sla.expected_response(t, CAL, sat, sat + timedelta(days=9)) == later


def test_ladder_default_and_parse() -> None:
    assert [s.days for s in inactivity.DEFAULT] == [7, 14, 21]
    due = inactivity.next_step(inactivity.DEFAULT, T0)
    assert due is not None and due.at == T0 + timedelta(days=7) and due.step == 0
    assert inactivity.step_of(due.instance) == 0
    last = inactivity.next_step(inactivity.DEFAULT, T0, 1)
    assert last is not None and inactivity.DEFAULT[last.step].action == "close"
    assert inactivity.next_step(inactivity.DEFAULT, T0, 2) is None
    assert inactivity.parse([]) == ()
    assert inactivity.parse(inactivity.to_json(inactivity.DEFAULT)) == inactivity.DEFAULT


def test_a_step_mails_its_own_text_with_the_placeholders_filled() -> None:
    steps = inactivity.parse([{"days": 3, "action": "remind",
                               "text": " Still there? {number} waits {days} days: {link} {other} "},
                              {"days": 9, "action": "close"}])
    assert inactivity.to_json(steps)[0]["text"] == "Still there? {number} waits {days} days: " \
        "{link} {other}"
    assert "text" not in inactivity.to_json(steps)[1]
    assert inactivity.mail_text(steps[0], "SB-0000042", "https://x.test/c/1") == \
        "Still there? SB-0000042 waits 3 days: https://x.test/c/1 {other}"
    assert inactivity.mail_text(steps[1], "SB-0000042", "l") is None  # the catalogue's mail


@pytest.mark.parametrize("bad", [[{"days": 0, "action": "remind"}],
                                 [{"days": 2, "action": "remind", "text": " "}],
                                 [{"days": 2, "action": "remind", "text": 7}],
                                 [{"days": 3, "action": "close"}, {"days": 5, "action": "remind"}],
                                 [{"days": 5, "action": "remind"}, {"days": 5, "action": "close"}],
                                 [{"days": 5, "action": "explode"}], "7,14,21"])
def test_bad_ladders(bad: object) -> None:
    with pytest.raises(InvalidInput):
        inactivity.parse(bad)

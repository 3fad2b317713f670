"""Field visits, pure: what an order, a change and a completion accept and refuse (and say),
the lateness rule, and the printable order's HTML (escaped; blank or filled completion)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from desk import field_visits as fv
from desk import visit_order
from desk.errors import InvalidInput
from desk.models import FieldVisit

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SOON = (NOW + timedelta(days=2)).isoformat()
FORM: list[dict[str, Any]] = [
    {"name": "device", "label": "Device", "type": "text", "required": True},
    {"name": "ladder", "label": "Ladder needed", "type": "checkbox"}]
GOOD: dict[str, Any] = {"address": "Hauptstr. 1, 10115 Berlin", "contact_name": "Olga",
                        "contact_phone": "+49 30 555-0101", "instructions": "Ring twice",
                        "scheduled_at": SOON, "duration_min": 90, "technician_id": 7,
                        "fields": {"device": "Boiler X2", "ladder": True}}


def test_a_good_order() -> None:
    o = fv.check_order(GOOD, FORM, NOW)
    assert (o.address, o.contact_phone, o.duration_min, o.technician_id) == (
        "Hauptstr. 1, 10115 Berlin", "+49305550101", 90, 7)
    assert o.scheduled_at == NOW + timedelta(days=2)
    assert o.fields == {"device": "Boiler X2", "ladder": True}
    least = fv.check_order({k: GOOD[k] for k in ("address", "scheduled_at", "technician_id")},
                           [], NOW)
    assert (least.duration_min, least.instructions, least.contact_name) == (60, "", None)


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"scheduled_at": (NOW - timedelta(minutes=1)).isoformat()}, "scheduled_at", "in the past"),
    ({"scheduled_at": (NOW + timedelta(days=400)).isoformat()}, "scheduled_at",
     "365 days away"),
    ({"scheduled_at": "2026-12-03T10:00"}, "scheduled_at", "time zone"),
    ({"scheduled_at": "tomorrow"}, "scheduled_at", "date and time"),
    ({"scheduled_at": "0001-01-01T00:30:00+01:00"}, "scheduled_at", "out of range"),
    ({"scheduled_at": None}, "scheduled_at", "required"),
    ({"address": ""}, "address", "1 to 500"),
    ({"address": "x" * 501}, "address", "1 to 500"),
    ({"address": None}, "address", "required"),
    ({"instructions": "x" * 5001}, "instructions", "0 to 5000"),
    ({"contact_name": "x" * 121}, "contact_name", "1 to 120"),
    ({"contact_phone": "call me"}, "contact_phone", "telephone number"),
    ({"duration_min": 0}, "duration_min", "between 5 and 1440"),
    ({"duration_min": 10_000}, "duration_min", "between 5 and 1440"),
    ({"duration_min": "90"}, "duration_min", "integer"),
    ({"technician_id": 2**40}, "technician_id", "between"),
    ({"technician_id": None}, "technician_id", "required"),
    ({"fields": {}}, "fields", "the visit form needs Device"),
    ({"fields": {"device": 5}}, "fields.device", "text"),
    ({"fields": {"nope": 1}}, "fields.nope", "not a field"),
])
def test_bad_orders_name_the_field(change: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(InvalidInput) as e:
        fv.check_order({**GOOD, **change}, FORM, NOW)
    assert e.value.field == field and says in e.value.message, e.value.message


def test_changes() -> None:
    later = (NOW + timedelta(days=3)).isoformat()
    moved = fv.check_change({"scheduled_at": later, "why": "customer away"}, NOW)
    assert (moved.scheduled_at, moved.why, moved.cancel) == (
        NOW + timedelta(days=3), "customer away", False)
    assert fv.check_change({"status": "cancelled", "why": "fixed by phone"}, NOW).cancel
    assert fv.check_change({"technician_id": 3}, NOW).technician_id == 3
    for bad, field in (({"scheduled_at": later}, "why"), ({"status": "cancelled"}, "why"),
                       ({"scheduled_at": later, "why": ""}, "why"),
                       ({"status": "done", "why": "x"}, "status"), ({}, "scheduled_at"),
                       ({"scheduled_at": later, "why": "x", "status": "cancelled"}, "status"),
                       ({"scheduled_at": NOW.isoformat(), "why": "x"}, "scheduled_at"),
                       ({"why": "x" * 501, "status": "cancelled"}, "why")):
        with pytest.raises(InvalidInput) as e:
            fv.check_change(bad, NOW)
        assert e.value.field == field, (bad, e.value.message)


def test_completion() -> None:
    done = fv.check_completion({"work_done": "Replaced the valve", "minutes": 75,
                                "outcome": "resolved"})
    assert (done.minutes, done.outcome) == (75, "resolved")
    base = {"work_done": "x", "minutes": 30, "outcome": "resolved"}
    for bad, field in (({"minutes": -5}, "minutes"), ({"minutes": 0}, "minutes"),
                       ({"minutes": 100_000}, "minutes"), ({"minutes": 1.5}, "minutes"),
                       ({"minutes": True}, "minutes"), ({"outcome": "great"}, "outcome"),
                       ({"outcome": None}, "outcome"), ({"work_done": ""}, "work_done"),
                       ({"work_done": "x" * 5001}, "work_done")):
        with pytest.raises(InvalidInput) as e:
            fv.check_completion({**base, **bad})
        assert e.value.field == field, (bad, e.value.message)


def _visit(status: str = "scheduled", **more: Any) -> FieldVisit:
    return FieldVisit(id=12, conversation_id=3, address="Hauptstr. 1", status=status,
                      scheduled_at=NOW, duration_min=60, technician_id=7, instructions="",
                      form=FORM, fields={"device": "<b>Boiler</b>", "ladder": False}, **more)


def test_late_only_when_scheduled_past_its_end() -> None:
    assert not fv.is_late(_visit(), NOW + timedelta(minutes=59))
    assert fv.is_late(_visit(), NOW + timedelta(minutes=60))
    assert not fv.is_late(_visit("done"), NOW + timedelta(days=1))


CASE = visit_order.Case(number="SB-0000042", subject="Boiler <leaks>", customer="Eve & Co",
                        customer_email="eve@acme.test", customer_phone=None,
                        organisation="Acme", technician="Tom", ordered_by="Ana",
                        names={7: "Tom", 2: "Ana"})


def test_printable_order_blank_then_filled() -> None:
    zone = ZoneInfo("Europe/Berlin")
    page = visit_order.render(fv.visit_json(_visit(), NOW), CASE, zone, NOW)
    assert "SB-0000042" in page and "V-12" in page and "@media" not in page
    assert "&lt;b&gt;Boiler&lt;/b&gt;" in page and "<b>Boiler" not in page
    assert "Boiler &lt;leaks&gt;" in page and "Eve &amp; Co" in page
    assert "Tue 01 Dec 2026, 10:00" in page  # 09:00 UTC in Berlin
    assert 'class="box"' in page and "Customer" in page and "Ladder needed" in page
    assert "/static/css/visit-order.css" in page and "style=" not in page
    done = visit_order.render({**fv.visit_json(_visit("done", work_done="Valve <new>",
                                                       outcome="follow_up", ended_by=7), NOW),
                               "minutes": 75}, CASE, zone, NOW)
    assert "Valve &lt;new&gt;" in done and "75 minutes" in done
    assert "Follow-up visit needed" in done and 'class="box"' not in done
    gone = visit_order.render(fv.visit_json(_visit("cancelled", cancel_why="fixed <by> phone"),
                                            NOW), CASE, zone, NOW)
    assert "Cancelled: fixed &lt;by&gt; phone" in gone and "Completion" not in gone


def test_print_stylesheet_has_print_rules() -> None:
    from pathlib import Path

    css = (Path(visit_order.__file__).parent.parent / "widget" / "static" / "css"
           / "visit-order.css").read_text()
    assert "@media print" in css and ".no-print" in css

"""The pure rules of ticket work: what a tag is, field definitions, values by type, the
required-before-close check, and who is copied on a reply."""

from __future__ import annotations

import pytest

from desk import ticket_fields as tf
from desk.errors import InvalidInput
from desk.mail_rules import CC_MAX, outsider_visibility, reply_copies
from desk.seed import SUPPORT_FIELDS

DEFS = tf.check_definitions([
    {"name": "order", "label": "Order number", "type": "text", "required": True},
    {"name": "units", "type": "number"},
    {"name": "plan", "type": "select", "options": ["basic", "pro"], "required": True},
    {"name": "since", "type": "date"},
    {"name": "onsite", "type": "checkbox", "required": True},
])


def test_tags() -> None:
    assert tf.tag("  Billing ") == "billing"
    for bad in ["", "   ", "a,b", "x" * 65, "tab\there", 7, None]:
        with pytest.raises(InvalidInput):
            tf.tag(bad)
    assert tf.tag_list({"add": ["A", "a", "b"]}, "add") == ["a", "b"]
    assert tf.tag_list({}, "add") == []
    with pytest.raises(InvalidInput):
        tf.tag_list({"add": "a"}, "add")
    with pytest.raises(InvalidInput):
        tf.tag_list({"add": [str(i) for i in range(tf.TAGS_MAX + 1)]}, "add")


@pytest.mark.parametrize("bad", [
    "x", [{"name": "a b", "type": "text"}], [{"name": "a", "type": "colour"}],
    [{"name": "a", "type": "select"}], [{"name": "a", "type": "select", "options": []}],
    [{"name": "a", "type": "text", "options": ["x"]}], [{"name": "a", "type": "text",
                                                         "required": "yes"}],
    [{"name": "a", "type": "text"}, {"name": "a", "type": "number"}],
    [{"name": "tags", "type": "text"}], [{"name": "a", "type": "text", "colour": "red"}],
    [{"name": f"f{i}", "type": "text"} for i in range(tf.FIELDS_MAX + 1)],
])
def test_bad_definitions_name_the_entry(bad: object) -> None:
    with pytest.raises(InvalidInput) as err:
        tf.check_definitions(bad)
    assert err.value.field == "fields"


def test_stored_definitions_skip_bad_entries() -> None:
    assert [f["name"] for f in tf.definitions([{"name": "ok", "type": "text"}, {"x": 1}])] \
        == ["ok"]
    assert tf.definitions(None) == []


@pytest.mark.parametrize(("name", "raw", "stored"), [
    ("order", " A-17 ", "A-17"), ("order", "", None), ("units", 3, 3), ("units", 2.5, 2.5),
    ("plan", "pro", "pro"), ("since", "2026-01-31", "2026-01-31"), ("onsite", False, False),
    ("units", None, None),
])
def test_values_by_type(name: str, raw: object, stored: object) -> None:
    assert tf.check_values(DEFS, {name: raw}) == {name: stored}


@pytest.mark.parametrize(("name", "raw"), [
    ("order", 5), ("order", "x" * 1001), ("order", "nul\x00"), ("units", "3"), ("units", True),
    ("units", float("nan")), ("units", 1e13), ("plan", "gold"), ("since", "2026-02-30"),
    ("since", "31.01.2026"), ("since", 20260131), ("onsite", "yes"), ("onsite", 1),
])
def test_wrong_values_name_the_field(name: str, raw: object) -> None:
    with pytest.raises(InvalidInput) as err:
        tf.check_values(DEFS, {name: raw})
    assert err.value.field == f"fields.{name}" and name in err.value.message


def test_unknown_or_no_fields() -> None:
    raws: list[object] = [{"nope": 1}, {}, [], None]
    for raw in raws:
        with pytest.raises(InvalidInput):
            tf.check_values(DEFS, raw)


def test_required_before_closing() -> None:
    assert tf.missing_required(DEFS, {}) == ["Order number", "plan", "onsite"]
    assert tf.missing_required(DEFS, {"order": "1", "plan": "pro", "onsite": False}) == [
        "onsite"]
    assert tf.missing_required(DEFS, {"order": "1", "plan": "pro", "onsite": True}) == []


def test_reply_copies() -> None:
    assert reply_copies(["Boss@x.test", "eve@x.test", "boss@x.test", "it@x.test"],
                        "EVE@x.test") == ["Boss@x.test", "it@x.test"]
    assert len(reply_copies([f"p{i}@x.test" for i in range(20)], "eve@x.test")) == CC_MAX
    assert outsider_visibility("outside") == "internal"
    assert outsider_visibility("mail") is None and outsider_visibility(None) is None


def test_the_demo_fields_are_valid() -> None:
    assert tf.check_definitions(SUPPORT_FIELDS) == SUPPORT_FIELDS

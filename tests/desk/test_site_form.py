"""The one check of a site's form (``desk.site_form``), for every way a customer submits it."""

from __future__ import annotations

from typing import Any

import pytest

from desk.errors import InvalidInput
from desk.seed import site_config as demo_config
from desk.site_form import Submission, Use, check_form, public_form, topic_path

CONFIG: dict[str, Any] = {
    "departments": [{"id": 1, "name": "Sales"}, {"id": 2, "name": "Support"}],
    "topics": [
        {"id": "buy", "label": "Buying", "department_id": 1, "skills": {"orders": 1}, "children": [
            {"id": "quote", "label": "Get a quote", "department_id": 1, "skills": {"english": 2},
             "fields": [{"name": "company", "label": "Company", "required": True,
                         "max_length": 20}]},
            {"id": "stock", "label": "Stock"},
        ]},
        {"id": "any", "label": "Anything else"},  # offered in every department
        {"id": "refund", "label": "Refund", "department_id": 2},
    ],
    "fields": [{"name": "name", "label": "Your name", "required": True},
               {"name": "email", "label": "Email", "type": "email"},
               {"name": "phone", "label": "Phone", "required": True}],
}
FORM: dict[str, Any] = {"department_id": 1, "topic": "quote", "name": " Al ",
                        "email": "Al@Acme.example", "text": "hi",
                        "answers": {"company": "Acme", "phone": "555", "stray": "dropped"}}


def test_a_good_form_gives_the_cleaned_values_and_the_topic_paths_skills() -> None:
    for use in Use:
        assert check_form(CONFIG, FORM, use) == Submission(
            department_id=1, topic_id="quote", topic="Get a quote",
            answers={"company": "Acme", "phone": "555"}, skills={"orders": 1, "english": 2},
            name="Al", email="al@acme.example", text="hi")
    assert [t["id"] for t in topic_path(CONFIG, "quote")] == ["buy", "quote"]


def test_the_department_comes_from_the_topic_or_the_sites_only_one() -> None:
    assert check_form(CONFIG, {**FORM, "department_id": None}, Use.CHAT).department_id == 1
    one = {"departments": [{"id": 7}], "fields": []}
    assert check_form(one, {"text": "x"}, Use.CHAT).department_id == 7
    # A site listing no departments: the caller's default department applies.
    assert check_form({}, {"department_id": 9}, Use.CHAT).department_id == 9
    assert check_form({}, {}, Use.CHAT) == Submission(None, None, None)


def test_a_topic_open_to_every_department_is_offered_in_each() -> None:
    for dept in (1, 2):
        got = check_form(CONFIG, {**FORM, "department_id": dept, "topic": "any"}, Use.CHAT)
        assert (got.department_id, got.topic, got.skills) == (dept, "Anything else", {})


def test_chat_leaves_email_and_text_optional_a_message_does_not() -> None:
    loose = {**FORM, "email": None, "text": "  "}
    assert check_form(CONFIG, loose, Use.CHAT).email is None
    with pytest.raises(InvalidInput) as e:
        check_form(CONFIG, loose, Use.MESSAGE)
    assert e.value.field == "email"
    with pytest.raises(InvalidInput) as e:
        check_form(CONFIG, {**FORM, "text": ""}, Use.MESSAGE)
    assert e.value.field == "text"
    needs_email = {"fields": [{"name": "email", "required": True}]}
    with pytest.raises(InvalidInput, match="email is required"):
        check_form(needs_email, {}, Use.CHAT)


def test_blank_optional_inputs_count_as_not_given() -> None:
    got = check_form({}, {"name": "", "email": "  ", "topic": ""}, Use.CHAT)
    assert (got.name, got.email, got.topic) == (None, None, None)


@pytest.mark.parametrize("change, field, message", [
    ({"topic": "nope"}, "topic", "unknown topic"),
    ({"topic": "x" * 121}, "topic", "1 to 120"),
    ({"topic": 5}, "topic", "must be a string"),
    ({"topic": "buy"}, "topic", "more precise topic"),
    ({"topic": None}, "topic", "choose a topic"),
    ({"topic": "refund"}, "topic", "another department"),
    ({"department_id": 2}, "topic", "another department"),
    ({"department_id": 99}, "department_id", "site's departments"),
    ({"department_id": 2**31}, "department_id", "between"),
    ({"department_id": "1"}, "department_id", "integer"),
    ({"department_id": True}, "department_id", "integer"),
    ({"answers": {"phone": "555"}}, "answers.company", "Company is required"),
    ({"answers": {"company": "  ", "phone": "555"}}, "answers.company", "Company is required"),
    ({"answers": {"company": "x" * 21, "phone": "5"}}, "answers.company", "too long"),
    ({"answers": {"company": "a\x00", "phone": "5"}}, "answers.company", "NUL"),
    ({"answers": {"company": "Acme"}}, "answers.phone", "Phone is required"),
    ({"answers": {"company": "x" * 1001}}, "answers", "answers must be"),
    ({"answers": {"company": 1}}, "answers", "answers must be"),
    ({"answers": ["company"]}, "answers", "answers must be"),
    ({"answers": {str(i): "" for i in range(33)}}, "answers", "at most 32"),
    ({"name": None}, "name", "name is required"),
    ({"name": "x" * 121}, "name", "1 to 120"),
    ({"name": "a\x00b"}, "name", "NUL"),
    ({"email": "not-an-address"}, "email", "valid email"),
    ({"email": "a@" + "b" * 250 + ".example"}, "email", "characters"),
    ({"text": "x" * 10_001}, "text", "1 to 10000"),
    ({"text": ["x"]}, "text", "must be a string"),
])
def test_bad_input_is_refused_naming_the_field(change: dict[str, Any], field: str,
                                               message: str) -> None:
    for use in Use:
        with pytest.raises(InvalidInput, match=message) as e:
            check_form(CONFIG, {**FORM, **change}, use)
        assert e.value.field == field


def test_a_topic_without_department_needs_one_when_the_site_offers_several() -> None:
    with pytest.raises(InvalidInput) as e:
        check_form(CONFIG, {**FORM, "department_id": None, "topic": "any"}, Use.CHAT)
    assert e.value.field == "department_id"
    with pytest.raises(InvalidInput, match="JSON object"):
        check_form(CONFIG, [], Use.CHAT)  # type: ignore[arg-type]


def test_a_config_stored_before_the_check_is_read_leniently() -> None:
    """Bad entries are skipped, as the readers of desk.site_config do: never a crash."""
    stored = {"departments": [{"id": "x"}, {"id": 3}, "Sales"],
              "topics": [{"id": "billing", "skills": {"billing": "high"}, "children": "x",
                          "fields": [{"name": "invoice", "max_length": "long"}, 7]}, "junk"],
              "fields": "none"}
    got = check_form(stored, {"topic": "billing", "answers": {"invoice": "1"}}, Use.CHAT)
    assert got == Submission(3, "billing", "billing", {}, {})


def test_the_demo_form_accepts_what_the_widget_sends() -> None:
    config = demo_config(1, 2)
    got = check_form(config, {"department_id": 2, "topic": "help", "name": "Al",
                              "answers": {"order": "A-1"}, "email": None, "text": "late"},
                     Use.CHAT)
    assert got.answers == {"order": "A-1"} and got.topic == "Help with an order"
    with pytest.raises(InvalidInput, match="too long"):
        check_form(config, {"department_id": 2, "topic": "help", "name": "Al",
                            "answers": {"order": "x" * 33}}, Use.CHAT)


def test_the_public_form_hides_routing_skills() -> None:
    out = public_form(CONFIG)
    assert "skills" not in str(out)
    assert out["topics"][0]["children"][0]["fields"][0]["name"] == "company"
    assert [f["name"] for f in out["fields"]] == ["name", "email", "phone"]


TYPED: dict[str, Any] = {"fields": [
    {"name": "plan", "label": "Plan", "type": "select", "options": ["Basic", "Pro"]},
    {"name": "terms", "label": "Terms", "type": "checkbox", "required": True},
    {"name": "seats", "label": "Seats", "type": "number"},
    {"name": "since", "label": "Customer since", "type": "date"},
    {"name": "billing", "label": "Billing address", "type": "email"},
]}


def test_typed_fields_take_answers_of_their_type() -> None:
    answers = {"plan": "Pro", "terms": "yes", "seats": "12.5", "since": "2024-02-29",
               "billing": "ap@acme.example"}
    assert check_form(TYPED, {"answers": answers}, Use.CHAT).answers == answers


@pytest.mark.parametrize("name, value, message", [
    ("plan", "Gold", "Plan must be one of the choices"),
    ("terms", "on", "Terms must be ticked or left empty"),
    ("terms", "", "Terms is required"),
    ("seats", "a dozen", "Seats must be a number"),
    ("seats", "inf", "Seats must be a number"),
    ("since", "2023-02-29", "Customer since must be a date like 2026-12-31"),
    ("since", "2024-1-5", "Customer since must be a date like 2026-12-31"),
    ("billing", "not-mail", "Billing address is not a valid email address"),
])
def test_a_typed_answer_of_the_wrong_kind_is_refused_naming_it(name: str, value: str,
                                                                message: str) -> None:
    answers = {"terms": "yes", name: value}
    with pytest.raises(InvalidInput) as caught:
        check_form(TYPED, {"answers": answers}, Use.CHAT)
    assert (caught.value.message, caught.value.field) == (message, f"answers.{name}")


def test_the_public_form_carries_field_types_and_the_sites_look() -> None:
    out = public_form({**TYPED, "color": "#112233", "logo_url": "/static/logo.png",
                       "greeting": "Hi there"})
    assert out["fields"][0] == TYPED["fields"][0]
    assert (out["color"], out["logo_url"], out["greeting"]) == (
        "#112233", "/static/logo.png", "Hi there")
    assert "color" not in public_form({"color": "red"})

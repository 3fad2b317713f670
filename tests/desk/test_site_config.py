"""The site config's shape: what the admin API saves (``check``) and what the readers make of a
config stored before the check existed (bad entries skipped, never an exception)."""

from __future__ import annotations

from typing import Any

import pytest

from desk import site_config
from desk.errors import InvalidInput
from desk.seed import site_config as demo_config

GOOD: dict[str, Any] = {
    "title": "Help",
    "departments": [{"id": 1, "name": "Sales"}, {"id": 2, "name": "Support"}],
    "topics": [
        {"id": "buy", "label": "Buying", "department_id": 1, "skills": {"orders": 1},
         "children": [{"id": "quote", "label": "Quote", "skills": {"english": 2},
                       "fields": [{"name": "company", "required": True, "max_length": 80}]}]},
    ],
    "fields": [{"name": "name", "label": "Your name", "required": True}],
}


def test_a_good_config_and_the_demo_one_are_saved_as_they_are() -> None:
    assert site_config.check(GOOD) is GOOD
    site_config.check(demo_config(1, 2))
    site_config.check({})


def _topic(**change: Any) -> dict[str, Any]:
    return {"topics": [{**GOOD["topics"][0], **change}]}


@pytest.mark.parametrize("config, where", [
    ([], "config must be a JSON object"),
    ({"title": 3}, "config.title"),
    ({"departments": {"id": 1}}, "config.departments must be a list"),
    ({"departments": [{"id": "1"}]}, r"config.departments\[0\]"),
    ({"departments": [{"id": 2**40}]}, r"config.departments\[0\]"),
    ({"fields": [{"name": "x", "max_length": "80"}]}, r"config.fields\[0\]: max_length"),
    ({"fields": [{"name": "x", "required": "yes"}]}, r"config.fields\[0\]: required"),
    ({"topics": ["buy"]}, r"config.topics\[0\]: a topic"),
    ({"fields": [{"name": "x", "type": "file"}]}, r"config.fields\[0\]: type must be one of"),
    ({"fields": [{"name": "x", "type": "select"}]}, r"config.fields\[0\]: a select needs"),
    ({"fields": [{"name": "x", "type": "select", "options": [""]}]}, r"a select needs options"),
    ({"fields": [{"name": "x", "options": ["a"]}]}, r"config.fields\[0\]: only a select"),
    ({"color": "red"}, "config.color must be a colour like #2f5bea"),
    ({"logo_url": "javascript:alert(1)"}, "config.logo_url must be an https:// address"),
    ({"logo_url": "//evil.example/x.png"}, "config.logo_url must be an https:// address"),
    ({"greeting": ""}, "config.greeting must be 1 to"),
    (_topic(skills={"orders": "high"}), r"config.topics\[0\].skills: the level of 'orders'"),
    (_topic(skills={"orders": 11}), r"config.topics\[0\].skills: the level"),
    (_topic(skills={"orders": True}), r"config.topics\[0\].skills: the level"),
    (_topic(skills=["orders"]), r"config.topics\[0\]: skills must be an object"),
    (_topic(department_id="sales"), r"config.topics\[0\]: department_id"),
    (_topic(children=[{"id": "q", "skills": {"english": "2"}}]),
     r"config.topics\[0\].children\[0\].skills: the level of 'english'"),
    (_topic(children=[{"id": "q", "fields": [{"label": "x"}]}]),
     r"config.topics\[0\].children\[0\].fields\[0\]"),
])
def test_a_bad_config_is_refused_naming_the_field(config: Any, where: str) -> None:
    with pytest.raises(InvalidInput, match=where):
        site_config.check(config)


def test_topics_nest_a_bounded_depth() -> None:
    topic: dict[str, Any] = {"id": "leaf"}
    for i in range(site_config.TOPIC_DEPTH):
        topic = {"id": f"t{i}", "children": [topic]}
    with pytest.raises(InvalidInput, match="nest at most"):
        site_config.check({"topics": [topic]})


BAD_STORED: dict[str, Any] = {
    "title": ["x"],
    "departments": [{"id": 1}, {"id": "2"}, "Support", None],
    "topics": [
        {"id": "buy", "skills": {"orders": "high", "english": 3, "x": None}, "children": [
            {"id": "quote", "skills": {"english": 5}, "fields": [{"max_length": "9"},
                                                                 {"name": "company"}]},
            "not a topic",
        ]},
        {"label": "no id", "children": [{"id": "hidden"}]},
        {"id": "odd", "children": {"id": "not a list"}, "fields": "nope"},
    ],
    "fields": [{"name": "name", "max_length": "many"}, {"name": "email"}],
}


def test_readers_skip_what_a_bad_stored_config_holds_wrongly() -> None:
    paths = {p[-1]["id"]: p for p in site_config.topic_paths(BAD_STORED)}
    # A topic without an id is skipped with its children; one whose children or fields are
    # not lists is read as having none.
    assert sorted(paths) == ["buy", "odd", "quote"]
    assert site_config.skills(paths["quote"]) == {"english": 5}
    assert site_config.skills(paths["buy"]) == {"english": 3}
    assert site_config.department_ids(BAD_STORED) == [1]
    assert site_config.fields(paths["quote"][-1]) == [{"name": "company"}]
    assert site_config.fields(paths["odd"][-1]) == []
    assert site_config.fields(BAD_STORED) == [{"name": "email"}]
    assert site_config.title(BAD_STORED) == ""
    assert list(site_config.topic_paths({"topics": "x"})) == []


def test_answers_are_labelled_from_the_form_and_spelled_out() -> None:
    config = demo_config(1, 2)
    chat = {"answers": {"order": "A-17", "name": "Vera"}}
    assert site_config.answers(config, chat) == [
        {"name": "order", "label": "Order number", "value": "A-17"},
        {"name": "name", "label": "Your name", "value": "Vera"}]
    # A left message keeps them at the top level; unknown names read as themselves, values
    # that are not text are spelled out, empty ones left out.
    left = {"order": "B-2", "gift": True, "sizes": ["S", "M"], "extra": {"a": 1}, "none": ""}
    assert [(r["label"], r["value"]) for r in site_config.answers(config, left)] == [
        ("Order number", "B-2"), ("gift", "yes"), ("sizes", "S, M"), ("extra", "a: 1")]
    assert site_config.answers({"topics": "bad"}, "not a dict") == []

"""Ticket rules: keyword / sender domain -> priority and skills."""

from __future__ import annotations

import pytest

from desk.errors import InvalidInput
from desk.ticket_rules import apply_rules, parse_rules

RULES = parse_rules(
    [
        {"keyword": "Outage", "priority": 1, "skills": {"networking": 2}},
        {"domain": "@bigcustomer.example", "priority": 0},
        {"keyword": "invoice", "skills": {"billing": 1, "networking": 4}},
    ]
)


def test_no_match_keeps_defaults() -> None:
    out = apply_rules(RULES, subject="hello", text="", sender_domain="x.org")
    assert (out.priority, out.skills) == (2, {})


def test_keyword_in_subject_or_body_and_merge() -> None:
    out = apply_rules(RULES, subject="OUTAGE now", text="and the invoice", sender_domain="x.org")
    assert out.priority == 1
    assert out.skills == {"networking": 4, "billing": 1}


def test_domain_and_subdomain() -> None:
    for domain in ("bigcustomer.example", "eu.bigcustomer.example"):
        assert apply_rules(RULES, subject="", text="", sender_domain=domain).priority == 0
    assert apply_rules(RULES, subject="", text="", sender_domain="notbigcustomer.example"
                       ).priority == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"priority": 1},
        {"keyword": "a", "domain": "b"},
        {"keyword": "a", "priority": -1},
        {"keyword": "a", "priority": "high"},
        {"keyword": "a", "skills": {"x": 11}},
        {"keyword": "a", "skills": ["x"]},
    ],
)
def test_invalid_rules_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        parse_rules([bad])

"""Ticket rules: derive priority and required skills from what a mail says and who sent it.

Configured per mailbox as JSON, e.g.
``[{"keyword": "outage", "priority": 1, "skills": {"networking": 2}},
   {"domain": "bigcustomer.example", "priority": 1}]``.
Every matching rule applies; the most urgent priority (lowest number) wins and skill levels
take the maximum. Here in desk, where the admin API validates them; ingest applies them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from desk.errors import InvalidInput

MAX_RULES = 100


@dataclass(frozen=True, slots=True)
class TicketRule:
    keyword: str | None = None
    domain: str | None = None
    priority: int | None = None
    skills: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TicketRule:
        keyword, domain = data.get("keyword"), data.get("domain")
        priority, skills = data.get("priority"), data.get("skills") or {}
        if (keyword is None) == (domain is None):
            raise InvalidInput("a ticket rule needs exactly one of 'keyword' or 'domain'")
        word = keyword if domain is None else domain
        if not isinstance(word, str) or not 1 <= len(word) <= 200:
            raise InvalidInput("a rule's keyword or domain must be a string of 1 to 200 "
                               "characters")
        if priority is not None and (not isinstance(priority, int) or not 0 <= priority <= 98):
            raise InvalidInput("rule priority must be an integer 0..98")
        if not isinstance(skills, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int) and 1 <= v <= 10 for k, v in skills.items()
        ):
            raise InvalidInput("rule skills must map names to levels 1..10")
        return cls(
            keyword=str(keyword).lower() if keyword is not None else None,
            domain=str(domain).lower().lstrip("@") if domain is not None else None,
            priority=priority,
            skills=dict(skills),
        )

    def matches(self, subject: str, text: str, sender_domain: str) -> bool:
        if self.keyword is not None:
            return self.keyword in subject.lower() or self.keyword in text.lower()
        assert self.domain is not None
        return sender_domain == self.domain or sender_domain.endswith("." + self.domain)


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    priority: int
    skills: dict[str, int]


def parse_rules(data: Iterable[Mapping[str, Any]]) -> tuple[TicketRule, ...]:
    items = list(data)
    if len(items) > MAX_RULES or not all(isinstance(item, Mapping) for item in items):
        raise InvalidInput(f"rules must be a list of at most {MAX_RULES} objects")
    return tuple(TicketRule.from_json(item) for item in items)


def apply_rules(
    rules: Sequence[TicketRule],
    *,
    subject: str,
    text: str,
    sender_domain: str,
    default_priority: int = 2,
) -> RuleOutcome:
    priority = default_priority
    skills: dict[str, int] = {}
    body = text[:20_000]  # keywords live near the top; bounded cost per mail
    for rule in rules:
        if not rule.matches(subject, body, sender_domain.lower()):
            continue
        if rule.priority is not None:
            priority = min(priority, rule.priority)
        for name, level in rule.skills.items():
            skills[name] = max(skills.get(name, 0), level)
    return RuleOutcome(priority=priority, skills=skills)

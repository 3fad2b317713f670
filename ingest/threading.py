"""Does an inbound mail continue an existing ticket? A pure decision over looked-up candidates.

The caller extracts the keys (``ticket_numbers``, ``referenced_ids``), looks them up in the
records, and passes what it found as ``Candidate``s in the order returned by those functions.
A mail joins a ticket only when its sender is a participant of it: knowing a ticket number or a
Message-ID is not enough to write into someone else's case (spoofed or guessed replies become a
new ticket linked to the one they named).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.mime import ParsedMail

_NUMBER = re.compile(r"\[\s*(SB-\d{4,10})\s*\]", re.IGNORECASE)
MAX_REFERENCES = 30


@dataclass(frozen=True, slots=True)
class Candidate:
    conversation_id: int
    participants: frozenset[str]  # lower-cased email addresses


@dataclass(frozen=True, slots=True)
class Join:
    conversation_id: int


@dataclass(frozen=True, slots=True)
class NewLinked:
    """A new ticket whose parent is the one the mail claimed to continue."""

    parent_id: int


@dataclass(frozen=True, slots=True)
class New:
    pass


Decision = Join | NewLinked | New


def ticket_numbers(subject: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.upper() for m in _NUMBER.findall(subject)))


def referenced_ids(mail: ParsedMail) -> tuple[str, ...]:
    """In-Reply-To first, then References newest first: the closest ancestor wins."""
    ids = (*mail.in_reply_to, *reversed(mail.references))
    return tuple(dict.fromkeys(ids))[:MAX_REFERENCES]


def decide(candidates: Sequence[Candidate], sender: str | None) -> Decision:
    if sender is not None:
        who = sender.lower()
        for candidate in candidates:
            if who in candidate.participants:
                return Join(candidate.conversation_id)
    if candidates:
        return NewLinked(candidates[0].conversation_id)
    return New()

"""Thread decisions: join only when the sender is a participant."""

from __future__ import annotations

from ingest.mime import parse
from ingest.threading import Candidate, Join, New, NewLinked, decide, referenced_ids, ticket_numbers
from tests.ingest import corpus


def test_ticket_numbers_from_subject() -> None:
    assert ticket_numbers("Re: Printer [SB-1234567] and [sb-7654321] [SB-1234567]") == (
        "SB-1234567",
        "SB-7654321",
    )
    assert ticket_numbers("SB-1234567 without brackets") == ()
    assert ticket_numbers("[SB-12]") == ()


def test_referenced_ids_closest_first() -> None:
    mail = parse(corpus.simple(extra="In-Reply-To: <c@x>\nReferences: <a@x> <b@x> <c@x>"))
    assert referenced_ids(mail) == ("<c@x>", "<b@x>", "<a@x>")


def test_decide() -> None:
    a = Candidate(1, frozenset({"alice@example.org"}))
    b = Candidate(2, frozenset({"bob@example.org"}))
    assert decide([a, b], "bob@example.org") == Join(2)
    assert decide([a, b], "BOB@example.org") == Join(2)
    assert decide([a, b], "mallory@example.org") == NewLinked(1)
    assert decide([a], None) == NewLinked(1)
    assert decide([], "alice@example.org") == New()

"""A reader's question as a knowledge-base query, per language, synonyms expanded (pure).

The text goes through ``desk.search_query.parse_text`` (the one home for reading user text
into terms: limits, quotes, control characters), then each word becomes a group of
alternatives: its stem in the reader's language plus the stems of the site's synonyms for it.
A quoted phrase stays one phrase. Any group may match (a question rarely repeats the article's
every word); the ranking (BM25 on SQLite, ``ts_rank`` on PostgreSQL, the title weighted above
the body) puts the articles matching more, rarer words first.

Each backend gets the groups its own safe way, never spliced as syntax: FTS5 as quoted strings
(``desk.search_query.fts5_any``), PostgreSQL as bound parameters of ``plainto_tsquery`` /
``phraseto_tsquery`` in the language's configuration (``desk.kb.stem.pg_config``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from desk.kb import stem
from desk.search_query import TERMS_MAX, TEXT_MAX, fts5_any, parse_text

Synonyms = Sequence[Sequence[str]]


@dataclass(frozen=True, slots=True)
class Group:
    """Alternatives, any of which counts as this word: SQLite terms (stemmed, folded) and the
    words as typed for PostgreSQL (its dictionary stems them)."""

    sqlite: tuple[str, ...]
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KbQuery:
    language: str
    groups: tuple[Group, ...]

    @property
    def empty(self) -> bool:
        return not self.groups

    def fts5(self) -> str:
        """The FTS5 MATCH expression (every term a quoted string)."""
        return fts5_any([g.sqlite for g in self.groups])

    def pg_words(self) -> list[str]:
        """Every alternative once, for ``plainto_tsquery`` parameters joined with ``||``."""
        return list(dict.fromkeys(w for g in self.groups for w in g.words))


def _index(synonyms: Synonyms, language: str) -> dict[str, tuple[str, ...]]:
    """Each synonym's terms (one entry per word or phrase) -> its whole group."""
    return _index_of(tuple(tuple(g) for g in synonyms), language)


@functools.lru_cache(maxsize=64)
def _index_of(synonyms: tuple[tuple[str, ...], ...],
              language: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for group in synonyms:
        for entry in group:
            out[" ".join(stem.terms(entry, language))] = tuple(group)
    return out


def trimmed(text: str, language: str) -> str:
    """A long text (a conversation so far) cut to what a query holds: its last words that are
    not stop words in ``language``, within the term and length limits."""
    words = [w for w in text.replace('"', " ").split() if stem.terms(w, language)]
    kept: list[str] = []
    for word in reversed(words):
        if len(kept) >= TERMS_MAX or sum(len(w) + 1 for w in kept) + len(word) > TEXT_MAX:
            break
        if word.casefold() not in (k.casefold() for k in kept):
            kept.append(word)
    return " ".join(reversed(kept))


def build(raw: str, language: str, synonyms: Synonyms = ()) -> KbQuery:
    """The query for ``raw`` (BadQuery past the text limits; ``empty`` when nothing is left
    to search for, e.g. only stop words)."""
    expansions = _index(synonyms, language)
    groups: list[Group] = []
    for term in parse_text(raw):
        key = " ".join(stem.terms(term.text, language))
        if not key:
            continue  # only stop words
        alternatives = expansions.get(key, (term.text,))
        sqlite = [" ".join(stem.terms(a, language)) for a in alternatives]
        group = Group(tuple(dict.fromkeys([key, *filter(None, sqlite)])),
                      tuple(dict.fromkeys(a.casefold() for a in (term.text, *alternatives))))
        if group not in groups:
            groups.append(group)
    return KbQuery(language, tuple(groups))

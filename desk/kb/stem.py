"""Words of knowledge-base text as search terms, per language (pure).

SQLite's FTS5 has no stemmer beyond English Porter, so on SQLite the articles are indexed
(and queries looked up) by the terms made here: words split and case-folded like FTS5's
``unicode61``, stop words dropped, each word stemmed for the article's language. German gets the
Snowball German algorithm; English a light inflectional stemmer (plurals, -ing, -ed, -ly and a
final -e, so "invoices", "invoiced" and "invoice" meet). Other languages are split and folded
only. PostgreSQL uses its own dictionaries instead (``PG_CONFIGS``: text search configurations
such as ``english`` and ``german``), which stem and drop stop words the same way in spirit.
"""

from __future__ import annotations

import math
import re
import unicodedata

# PostgreSQL text search configuration per language; "simple" (fold only) for the others.
PG_CONFIGS = {"en": "english", "de": "german", "fr": "french", "es": "spanish",
              "it": "italian", "nl": "dutch", "pt": "portuguese", "sv": "swedish",
              "da": "danish", "fi": "finnish", "no": "norwegian", "ru": "russian"}


def pg_config(language: str) -> str:
    return PG_CONFIGS.get(language.split("-")[0], "simple")


STOP = {
    "en": frozenset("""a an and are as at be been but by can could did do does doing for from
        had has have having how i if in into is it its me my no not of on or our so than that
        the their them then there these they this to too us was we were what when where which
        who why will with would you your yours am any all""".split()),
    "de": frozenset("""aber alle als am an auch auf aus bei bin bis bist da das dass dein deine
        dem den der des die dir doch du ein eine einem einen einer eines er es euer für hab habe
        haben hat ich ihr im in ist ja kann kein keine man mein meine mich mir mit nach nicht
        noch nun nur ob oder sein sich sie sind so über um und uns unser von vom was wenn wer
        wie wir wird wo zu zum zur wieso warum welche welcher""".split()),
}

_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """Letters-and-digits runs, case-folded, accents kept (the stemmer needs umlauts)."""
    return _WORD.findall(unicodedata.normalize("NFC", text).casefold())


def fold(word: str) -> str:
    """Diacritics removed, as FTS5's ``remove_diacritics 2`` does (``ä`` -> ``a``)."""
    return "".join(c for c in unicodedata.normalize("NFD", word)
                   if unicodedata.category(c) != "Mn")


def terms(text: str, language: str) -> list[str]:
    """The search terms of ``text``: stop words out, the rest stemmed and folded."""
    lang = language.split("-")[0]
    stop = STOP.get(lang, frozenset())
    return [fold(stem(w, lang)) for w in words(text) if w not in stop]


def stem(word: str, language: str) -> str:
    if word.isdigit() or len(word) < 3:
        return word
    if language == "de":
        return german(word)
    if language == "en":
        return english(word)
    return word


# --- English: a light inflectional stemmer ----------------------------------------------------

_VOWEL = re.compile(r"[aeiouy]")
_DOUBLE = re.compile(r"(bb|dd|ff|gg|mm|nn|pp|rr|tt)$")


def english(word: str) -> str:
    w = word.replace("’", "'").removesuffix("'s")
    if len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith(("xes", "ches", "shes", "zes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ingly", "edly", "ing", "ed", "ly"):
        base = w[: -len(suffix)]
        if w.endswith(suffix) and len(base) >= 3 and _VOWEL.search(base):
            w = base[:-1] if _DOUBLE.search(base) else base
            break
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    if w.endswith("y") and len(w) > 3 and w[-2] not in "aeiou":
        w = w[:-1] + "i"
    return w


# --- German: the Snowball algorithm -----------------------------------------------------------

_DE_VOWELS = "aeiouyäöü"
_S_ENDING = "bdfghklmnrt"
_ST_ENDING = "bdfghklmnt"


def _region(w: str, start: int = 0) -> int:
    """Where R1 (from ``start`` 0) or R2 (from R1) begins: after the first non-vowel that
    follows a vowel."""
    for i in range(start + 1, len(w)):
        if w[i] not in _DE_VOWELS and w[i - 1] in _DE_VOWELS:
            return i + 1
    return len(w)


def german(word: str) -> str:
    w = word.replace("ß", "ss")
    # u and y between vowels are consonants here: mark them (upper case) for the regions.
    chars = list(w)
    for i in range(1, len(chars) - 1):
        if chars[i] in "uy" and chars[i - 1] in _DE_VOWELS and chars[i + 1] in _DE_VOWELS:
            chars[i] = chars[i].upper()
    w = "".join(chars)
    r1 = max(_region(w), 3)
    r2 = _region(w, r1 - 1) if r1 < len(w) else len(w)
    r2 = max(r2, r1)
    w = _de_step1(w, r1)
    w = _de_step2(w, r1)
    w = _de_step3(w, r1, r2)
    return (w.replace("U", "u").replace("Y", "y").replace("ä", "a").replace("ö", "o")
            .replace("ü", "u"))


def _in(w: str, suffix: str, region: int) -> bool:
    return w.endswith(suffix) and len(w) - len(suffix) >= region


def _de_step1(w: str, r1: int) -> str:
    for suffix in ("ern", "em", "er"):
        if w.endswith(suffix):
            return w[: -len(suffix)] if _in(w, suffix, r1) else w
    for suffix in ("en", "es", "e"):
        if w.endswith(suffix):
            if not _in(w, suffix, r1):
                return w
            w = w[: -len(suffix)]
            return w[:-1] if w.endswith("niss") else w
    if _in(w, "s", r1) and len(w) > 1 and w[-2] in _S_ENDING:
        return w[:-1]
    return w


def _de_step2(w: str, r1: int) -> str:
    for suffix in ("est", "en", "er"):
        if w.endswith(suffix):
            return w[: -len(suffix)] if _in(w, suffix, r1) else w
    if _in(w, "st", r1) and len(w) > 5 and w[-3] in _ST_ENDING:
        return w[:-2]
    return w


def _de_step3(w: str, r1: int, r2: int) -> str:
    for suffix in ("heit", "lich"):
        if w.endswith(suffix):
            if not _in(w, suffix, r2):
                return w
            w = w[: -len(suffix)]
            for before in ("er", "en"):
                if _in(w, before, r1):
                    return w[:-2]
            return w
    if w.endswith("keit"):
        if not _in(w, "keit", r2):
            return w
        w = w[:-4]
        for before in ("lich", "ig"):
            if _in(w, before, r2):
                return w[: -len(before)]
        return w
    for suffix in ("end", "ung"):
        if w.endswith(suffix):
            if not _in(w, suffix, r2):
                return w
            w = w[: -len(suffix)]
            if _in(w, "ig", r2) and not w.endswith("eig"):
                return w[:-2]
            return w
    for suffix in ("isch", "ig", "ik"):
        if w.endswith(suffix):
            if _in(w, suffix, r2) and not w.endswith("e" + suffix):
                return w[: -len(suffix)]
            return w
    return w


def guess_language(text: str, offered: list[str], default: str) -> str:
    """The offered language whose stop words the text uses most (the default on a tie): how a
    conversation's language is told without asking anyone."""
    found = words(text)
    best, score = default, 0
    for lang in offered:
        stop = STOP.get(lang.split("-")[0], frozenset())
        hits = sum(1 for w in found if w in stop)
        if hits > score:
            best, score = lang, hits
    return best


def overlap(query: list[str], candidate: list[str]) -> float:
    """How much of a candidate's terms a query covers, weighted towards rarer (longer)
    terms: the ranking of canned responses, which are few and not indexed."""
    have = set(query)
    if not have or not candidate:
        return 0.0
    terms = set(candidate)
    covered: float = sum(len(t) for t in terms & have)
    return covered / math.sqrt(sum(len(t) for t in terms))

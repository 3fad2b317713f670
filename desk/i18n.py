"""Message catalogues: what a visitor or customer reads, in their language (pure).

Every such string has a message id (``widget.start_chat``, ``mail.created``...) and one
translation per shipped language in ``desk/locale/<lang>.po`` (gettext PO, read with babel;
``desk.catalogues`` loads the files). English is a catalogue like the others, so the ids stay
stable when a wording changes. Placeholders are ``{name}``; ``fill`` is the one substitution,
and the browser's copy of it (widget.js, js/i18n.js) behaves the same: an unknown placeholder
stays as written, a brace that is not a placeholder is left alone.

Which language: the wanted tags read as an Accept-Language list and the first one offered
(``desk.kb.rules.accepted_languages`` and ``choose_language``, which the help centre uses too).
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from babel.messages.pofile import read_po

LANGUAGES = ("en", "de", "es", "fr")
DEFAULT = "en"
NAMES = {"en": "English", "de": "Deutsch", "es": "Español", "fr": "Français"}

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def fill(template: str, params: Mapping[str, object]) -> str:
    return _PLACEHOLDER.sub(
        lambda m: str(params[m[1]]) if m[1] in params else m[0], template)


def placeholders(template: str) -> frozenset[str]:
    return frozenset(_PLACEHOLDER.findall(template))


def known(language: object) -> str | None:
    """``language`` if it is a shipped language, else None (for stored or sent values)."""
    return language if isinstance(language, str) and language in LANGUAGES else None


@dataclass(frozen=True, slots=True)
class Translator:
    """One language's messages; a missing id falls back to English, then to the id itself
    (the completeness test keeps both from happening in a release)."""

    language: str
    messages: Mapping[str, str]
    fallback: Mapping[str, str]

    def __call__(self, msgid: str, **params: object) -> str:
        text = self.messages.get(msgid) or self.fallback.get(msgid) or msgid
        return fill(text, params)


@dataclass(frozen=True, slots=True)
class Catalogues:
    """Every shipped language's messages, by language."""

    by_language: Mapping[str, Mapping[str, str]]

    def translator(self, language: str | None) -> Translator:
        lang = language if language is not None and language in self.by_language else DEFAULT
        return Translator(lang, self.by_language.get(lang, {}),
                          self.by_language.get(DEFAULT, {}))

    def document(self, language: str) -> bytes:
        """What the browser gets: ``{"language", "languages", "messages"}`` as JSON."""
        lang = language if language in self.by_language else DEFAULT
        return orjson.dumps({"language": lang, "languages": NAMES,
                             "messages": self.by_language.get(lang, {})},
                            option=orjson.OPT_SORT_KEYS)

    def etag(self, language: str) -> str:
        return '"' + hashlib.sha256(self.document(language)).hexdigest()[:20] + '"'


def parse_po(text: str, language: str) -> dict[str, str]:
    """A PO file's translated messages (the header, untranslated and fuzzy entries left out)."""
    catalog = read_po(io.StringIO(text), locale=language)
    out: dict[str, str] = {}
    for message in catalog:
        if not message.id or message.fuzzy or not isinstance(message.id, str):
            continue
        if isinstance(message.string, str) and message.string:
            out[message.id] = message.string
    return out

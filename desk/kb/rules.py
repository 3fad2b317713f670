"""The knowledge base's rules (pure): who reads what, who publishes, what an article and a
site's KB settings may hold, and which language a reader gets.

``audiences`` is THE rule for internal articles: every query that lists, searches, suggests
or shows articles takes its audience filter from it, so an internal article never answers a
visitor's or customer's request, whichever path asks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from desk import validate
from desk.errors import InvalidInput
from desk.kb.render import check_body
from desk.limits import (
    ARTICLE_BODY_MAX,
    ARTICLE_RELATED_MAX,
    ARTICLE_TAGS_MAX,
    ARTICLE_TITLE_MAX,
    ID_MAX,
    ID_MIN,
    LANGUAGE_MAX,
    NAME_MAX,
    SLUG_MAX,
    TAG_MAX,
    is_id,
)

KB_AUDIENCES = ("public", "internal")
KB_STATUSES = ("draft", "published", "archived")
# view: an article opened; search: a search run (results counted); chat: a visitor's KB
# session went on to a conversation (a chat, or a case or message from a form); insert: an
# agent put an article into a reply.
KB_EVENTS = ("view", "search", "chat", "insert")
KB_SOURCES = ("widget", "page", "console")
LANGUAGES_MAX = 20
SYNONYM_GROUPS_MAX = 500
SYNONYM_GROUP_MAX = 20
SYNONYM_WORD_MAX = 64
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,4})?$")
_SLUG = re.compile(rf"^[a-z0-9](?:[a-z0-9-]{{0,{SLUG_MAX - 2}}}[a-z0-9])?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Reader(Enum):
    """Who a request is for: a visitor or customer (anyone), or signed-in staff."""

    PUBLIC = "public"
    STAFF = "staff"


def audiences(reader: Reader) -> tuple[str, ...]:
    """The article audiences a reader may see: staff every one, anyone else public only."""
    return KB_AUDIENCES if reader is Reader.STAFF else ("public",)


def may_read(reader: Reader, audience: str, status: str) -> bool:
    """``audiences`` for one article; only published articles are read outside the editor."""
    return status == "published" and audience in audiences(reader)


def may_publish(role: str, agents_publish: bool) -> bool:
    """Admins publish; agents and supervisors only where the site lets agents publish."""
    return role == "admin" or agents_publish


# One reading session's searches while its visitor types: the widget and the case form ask
# again at every pause, so each ask would otherwise count as a search (and its unfinished
# prefixes as searches with no result).
TYPING_PAUSE = timedelta(seconds=20)
REFINING = timedelta(minutes=5)


def same_search(previous: str, previous_at: datetime, query: str, now: datetime) -> bool:
    """Whether a session's ``query`` carries on its previous search (typed on within
    ``TYPING_PAUSE``, or soon after extending or trimming it) and so replaces it in the
    reports, instead of being another search: only the settled question is counted."""
    if now - previous_at < TYPING_PAUSE:
        return True
    a, b = previous.casefold(), query.casefold()
    return now - previous_at < REFINING and (a.startswith(b) or b.startswith(a))


# --- input -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArticleInput:
    """The fields a create or update names (None: not given)."""

    title: str | None = None
    body: str | None = None
    language: str | None = None
    audience: str | None = None
    slug: str | None = None
    topic_id: int | None = None
    topic_given: bool = False
    tags: tuple[str, ...] | None = None
    related_ids: tuple[int, ...] | None = None
    translation_of: int | None = None
    publish: bool = False


def _title(value: object) -> str:
    if not isinstance(value, str) or _CONTROL.search(value):
        raise InvalidInput("title must be text without control characters", "title")
    title = " ".join(value.split())
    if not 1 <= len(title) <= ARTICLE_TITLE_MAX:
        raise InvalidInput(f"title must be 1 to {ARTICLE_TITLE_MAX} characters", "title")
    return title


def language(value: object, allowed: Sequence[str], field: str = "language") -> str:
    if not isinstance(value, str) or value.lower() not in allowed:
        raise InvalidInput(f"{field} must be one of the site's languages: "
                           f"{', '.join(allowed)}", field)
    return value.lower()


def _tags(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > ARTICLE_TAGS_MAX:
        raise InvalidInput(f"tags must be a list of at most {ARTICLE_TAGS_MAX}", "tags")
    out: list[str] = []
    for tag in value:
        if not isinstance(tag, str) or _CONTROL.search(tag) or "," in tag:
            raise InvalidInput("a tag is text without commas or control characters", "tags")
        clean = " ".join(tag.split()).lower()
        if not 1 <= len(clean) <= TAG_MAX:
            raise InvalidInput(f"a tag is 1 to {TAG_MAX} characters", "tags")
        if clean not in out:
            out.append(clean)
    return tuple(out)


def _ids(value: object, field: str, max_items: int) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > max_items:
        raise InvalidInput(f"{field} must be a list of at most {max_items} ids", field)
    if not all(is_id(v) for v in value):
        raise InvalidInput(f"{field} must hold article ids", field)
    return tuple(dict.fromkeys(value))


def _slug(value: object) -> str:
    if not isinstance(value, str) or not _SLUG.match(value):
        raise InvalidInput(f"slug must be 1 to {SLUG_MAX} lower-case letters, digits and "
                           "'-' (not at either end)", "slug")
    return value


def _given(check: Any) -> Any:
    """A field's reader: null is "not given" (None), anything else goes through ``check``."""
    return lambda d, k: None if d.get(k) is None else check(d[k])


def _topic(value: object) -> int:
    if not is_id(value):
        raise InvalidInput("topic_id must be a topic id or null", "topic_id")
    assert isinstance(value, int)
    return value


def _audience(value: object) -> str:
    if value not in KB_AUDIENCES:
        raise InvalidInput("audience must be public or internal", "audience")
    return str(value)


def _publish(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput("publish must be true or false", "publish")
    return value


def _text(lo: int, hi: int) -> dict[str, Any]:
    return {"type": "string", "minLength": lo, "maxLength": hi}


_ID = {"type": "integer", "minimum": ID_MIN, "maximum": ID_MAX}
_LANG = {"type": "string", "maxLength": LANGUAGE_MAX, "pattern": _LANGUAGE.pattern}
# The article body: every field read by its check here (null: not given); ``language`` is
# checked against the site's languages by ``check_article``.
ARTICLE = validate.Body({
    "title": validate.Custom(_given(_title), _text(1, ARTICLE_TITLE_MAX), nullable=True),
    "body": validate.Custom(_given(check_body), _text(0, ARTICLE_BODY_MAX), nullable=True),
    "language": validate.Part(_LANG, nullable=True),
    "audience": validate.Custom(_given(_audience), {"enum": list(KB_AUDIENCES)},
                                nullable=True),
    "slug": validate.Custom(_given(_slug), {"type": "string", "pattern": _SLUG.pattern},
                            nullable=True),
    "topic_id": validate.Custom(_given(_topic), _ID, nullable=True),
    "tags": validate.Custom(_given(_tags), {"type": "array", "maxItems": ARTICLE_TAGS_MAX,
                                            "items": _text(1, TAG_MAX)}, nullable=True),
    "related_ids": validate.Custom(
        _given(lambda v: _ids(v, "related_ids", ARTICLE_RELATED_MAX)),
        {"type": "array", "maxItems": ARTICLE_RELATED_MAX, "items": _ID}, nullable=True),
    "publish": validate.Custom(lambda d, k: _publish(d.get(k, False)), {"type": "boolean"})})
ARTICLE_CREATE = ARTICLE.but(
    required=("site_id", "title", "body", "language"), site_id=validate.RecordId(),
    translation_of=validate.Custom(lambda d, k: d.get(k), _ID, nullable=True))


def check_article(data: dict[str, Any], *, languages: Sequence[str],
                  creating: bool) -> ArticleInput:
    """Read an article create (``creating``: title, body and language required) or update
    (``site_id`` is the caller's to read)."""
    body = ARTICLE_CREATE if creating else ARTICLE
    unknown = sorted(set(data) - set(body.fields) - {"translation_of"})
    if unknown:
        raise InvalidInput(f"{unknown[0][:40]}: not an article field", unknown[0][:40])
    if creating:
        for key in ("title", "body", "language"):
            if data.get(key) is None:
                raise InvalidInput(f"{key} is required", key)
    translation_of = data.get("translation_of")
    if translation_of is not None and (not creating or not is_id(translation_of)):
        raise InvalidInput("translation_of names the article this one translates, on create",
                           "translation_of")
    return ArticleInput(
        title=body.read(data, "title"), body=body.read(data, "body"),
        language=(language(data["language"], languages)
                  if data.get("language") is not None else None),
        audience=body.read(data, "audience"), slug=body.read(data, "slug"),
        topic_id=body.read(data, "topic_id"), topic_given="topic_id" in data,
        tags=body.read(data, "tags"), related_ids=body.read(data, "related_ids"),
        translation_of=translation_of, publish=body.read(data, "publish"),
    )


@dataclass(frozen=True, slots=True)
class KbSiteInput:
    languages: tuple[str, ...]
    default_language: str
    agents_publish: bool
    synonyms: tuple[tuple[str, ...], ...]


def _synonyms(value: object) -> tuple[tuple[str, ...], ...]:
    bad = InvalidInput(f"synonyms is a list of at most {SYNONYM_GROUPS_MAX} groups, each 2 to "
                       f"{SYNONYM_GROUP_MAX} words or phrases of at most {SYNONYM_WORD_MAX} "
                       "characters", "synonyms")
    if not isinstance(value, list) or len(value) > SYNONYM_GROUPS_MAX:
        raise bad
    groups: list[tuple[str, ...]] = []
    for group in value:
        if not isinstance(group, list) or not 2 <= len(group) <= SYNONYM_GROUP_MAX:
            raise bad
        words: list[str] = []
        for word in group:
            if not isinstance(word, str) or _CONTROL.search(word):
                raise bad
            clean = " ".join(word.lower().split())
            if not 1 <= len(clean) <= SYNONYM_WORD_MAX or '"' in clean:
                raise bad
            words.append(clean)
        groups.append(tuple(dict.fromkeys(words)))
    return tuple(groups)


KB_SITE = validate.Body({
    "languages": validate.Part({"type": "array", "minItems": 1, "maxItems": LANGUAGES_MAX,
                                "items": _LANG}),
    "default_language": validate.Part(_LANG), "agents_publish": validate.Part(
        {"type": "boolean"}),
    "synonyms": validate.Part({"type": "array", "maxItems": SYNONYM_GROUPS_MAX, "items": {
        "type": "array", "minItems": 2, "maxItems": SYNONYM_GROUP_MAX,
        "items": _text(1, SYNONYM_WORD_MAX)}})})


def check_kb_site(data: dict[str, Any]) -> KbSiteInput:
    """A site's KB settings as a whole (PUT): languages, the default, publishing, synonyms."""
    data = KB_SITE.given(data)
    langs = data.get("languages", ["en"])
    if (not isinstance(langs, list) or not 1 <= len(langs) <= LANGUAGES_MAX
            or not all(isinstance(x, str) and len(x) <= LANGUAGE_MAX and _LANGUAGE.match(x)
                       for x in langs)):
        raise InvalidInput(f"languages is a list of 1 to {LANGUAGES_MAX} language tags such as "
                           "en, de or pt-br (lower case)", "languages")
    ordered = tuple(dict.fromkeys(langs))
    default = language(data.get("default_language", ordered[0]), ordered, "default_language")
    publish = data.get("agents_publish", False)
    if not isinstance(publish, bool):
        raise InvalidInput("agents_publish must be true or false", "agents_publish")
    return KbSiteInput(ordered, default, publish, _synonyms(data.get("synonyms", [])))


def topic_name(value: object) -> str:
    if not isinstance(value, str) or _CONTROL.search(value):
        raise InvalidInput("name must be text", "name")
    name = " ".join(value.split())
    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidInput(f"name must be 1 to {NAME_MAX} characters", "name")
    return name


def slug(value: object) -> str:
    return _slug(value)


_POSITION = validate.Integer(0, 10_000)
TOPIC_UPDATE = validate.Body({
    "name": validate.Custom(_given(topic_name), _text(1, NAME_MAX), nullable=True),
    "slug": validate.Custom(_given(_slug), {"type": "string", "pattern": _SLUG.pattern},
                            nullable=True), "position": _POSITION})
TOPIC = TOPIC_UPDATE.but(required=("site_id", "name"), site_id=validate.RecordId(),
                         parent_id=validate.RecordId(), name=validate.Custom(
                             lambda d, k: topic_name(d.get(k)), _text(1, NAME_MAX)))


# --- languages -------------------------------------------------------------------------------


def accepted_languages(header: str | None) -> list[str]:
    """An Accept-Language header's tags, most wanted first (``de-CH`` also offers ``de``)."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((header or "")[:500].split(",")[:30]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        tag = tag.strip().lower()
        if tag and tag != "*" and q > 0:
            ranked.append((-q, i, tag))
    out: list[str] = []
    for _, _, tag in sorted(ranked):
        for candidate in (tag, tag.split("-")[0]):
            if candidate not in out:
                out.append(candidate)
    return out


def choose_language(wanted: Iterable[str], offered: Sequence[str], default: str) -> str:
    """The first wanted language that is offered, else the default (the fallback)."""
    for tag in wanted:
        if tag in offered:
            return tag
    return default if default in offered or not offered else offered[0]

"""A site's form as a visitor sees and submits it (pure): the one definition and the one check.

The site's configuration (``desk.site_config``) defines the form: departments, a topic tree
with per-topic questionnaire fields, and common fields (``name`` and ``email`` fill the
contact; any other is an answer like a topic's). Every way a customer submits it calls
``check_form``: the widget's pre-chat form (``start_chat``, ``Use.CHAT``), its "leave a message"
and the web new-case page (``Use.MESSAGE``: a reply goes by mail, so an email address and a
message are required). ``public_form`` is what those pages draw the form from.

The rules mirror what the widget's form enforces, so a form the widget accepts is accepted
here: a department is needed when the site offers several (a topic names its own); a topic
is needed when the department has topics, down to a topic without sub-topics; every required
field of the common fields and of the chosen topic path must be filled. A failure is
``InvalidInput`` naming the field (``department_id``, ``topic``, ``name``, ``email``, ``text``,
``answers.<name>``, ``language``). ``language`` is the one the form was shown in (the
chat's language, a routing skill where the site asks for it: ``site_config.language_skills``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any

from desk import site_config as shape
from desk import validate
from desk.errors import InvalidInput
from desk.i18n import LANGUAGES, known
from desk.limits import is_id
from desk.site_config import ANSWER_MAX

NAME_MAX = 120
TEXT_MAX = 10_000
TOPIC_ID_MAX = 120
ANSWERS_MAX = 32
CONTACT_FIELDS = ("name", "email")  # common fields that fill the contact, not the answers


class Use(Enum):
    CHAT = "chat"  # the pre-chat form: the chat answers, so email and text may be left out
    MESSAGE = "message"  # leave-a-message and the web new case: answered by mail


@dataclass(frozen=True, slots=True)
class Submission:
    """A checked form. ``department_id`` None: the site lists no departments (the caller's
    default applies); ``topic``: the chosen topic's label; ``skills``: its routing hints."""

    department_id: int | None
    topic_id: str | None
    topic: str | None
    answers: dict[str, str] = field(default_factory=dict)
    skills: dict[str, int] = field(default_factory=dict)
    name: str | None = None
    email: str | None = None
    text: str = ""
    language: str = "en"


def topic_path(config: dict[str, Any], topic_id: str) -> shape.Path:
    for path in shape.topic_paths(config):
        if path[-1]["id"] == topic_id:
            return path
    raise InvalidInput(f"unknown topic {topic_id[:40]!r}", "topic")


def public_form(config: dict[str, Any]) -> dict[str, Any]:
    """What a visitor may see of the configuration: the form, without routing skills."""

    def strip(path: shape.Path) -> dict[str, Any]:
        t = path[-1]
        out: dict[str, Any] = {k: t[k] for k in ("id", "label", "department_id") if k in t}
        if t.get("fields"):
            out["fields"] = shape.fields(t)
        children = [strip(p) for p in shape.topic_paths(config, path)
                    if len(p) == len(path) + 1]
        if children:
            out["children"] = children
        return out

    return {
        "title": shape.title(config),
        "notice": shape.notice(config),
        "departments": shape.departments(config),
        "topics": [strip(p) for p in shape.topic_paths(config) if len(p) == 1],
        "fields": shape.fields(config),
        **shape.appearance(config),
        "language": shape.language(config),
        "browser_language": shape.browser_language(config),
    }


def _offered(config: dict[str, Any], department_id: int | None,
             trail: shape.Path = ()) -> list[shape.Path]:
    """The topics offered under ``trail`` (the roots when empty) to a visitor of a department:
    those of that department or of none."""
    depth = len(trail) + 1
    return [p for p in shape.topic_paths(config, trail) if len(p) == depth
            and p[-1].get("department_id") in (None, department_id)]


def _department(config: dict[str, Any], data: dict[str, Any],
                path: shape.Path) -> int | None:
    listed = shape.department_ids(config)
    chosen = validate.record_id(data, "department_id")
    own = next((t["department_id"] for t in reversed(path) if is_id(t.get("department_id"))),
               None)
    if chosen is None:
        chosen = own if own is not None else (listed[0] if len(listed) == 1 else None)
    if chosen is None:
        if listed:
            raise InvalidInput("department_id is required: choose a department",
                               "department_id")
        return None
    if listed and chosen not in listed:
        raise InvalidInput("department_id must be one of the site's departments",
                           "department_id")
    if own is not None and own != chosen:
        raise InvalidInput("the topic belongs to another department", "topic")
    return chosen


def _path(config: dict[str, Any], data: dict[str, Any]) -> shape.Path:
    topic_id = validate.text(data, "topic", max_len=TOPIC_ID_MAX, required=False)
    return topic_path(config, topic_id) if topic_id else ()


def _check_topic(config: dict[str, Any], department_id: int | None, path: shape.Path) -> None:
    """The chosen topic must be offered to the department, and be a leaf when it has
    sub-topics (the form asks down to one)."""
    for depth in range(len(path)):
        if path[depth] not in [p[-1] for p in _offered(config, department_id, path[:depth])]:
            raise InvalidInput("the topic belongs to another department", "topic")
    if _offered(config, department_id, path):
        what = "a more precise topic" if path else "a topic"
        raise InvalidInput(f"topic is required: choose {what}", "topic")


def _raw_answers(data: dict[str, Any]) -> dict[str, str]:
    raw = data.get("answers")
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > ANSWERS_MAX or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) <= ANSWER_MAX for k, v in raw.items()
    ):
        raise InvalidInput(f"answers must be an object of at most {ANSWERS_MAX} strings of at "
                           f"most {ANSWER_MAX} characters", "answers")
    return raw


def _answers(fields: list[dict[str, Any]], raw: dict[str, str]) -> dict[str, str]:
    """The answers to ``fields`` (others are dropped), each required one present."""
    out: dict[str, str] = {}
    for f in fields:
        name = str(f["name"])
        label = f.get("label") or name
        value = raw.get(name, "").strip()
        if "\x00" in value:
            raise InvalidInput(f"{label} must not contain NUL characters", f"answers.{name}")
        if f.get("required") and not value:
            raise InvalidInput(f"{label} is required", f"answers.{name}")
        if len(value) > (f.get("max_length") or ANSWER_MAX):
            raise InvalidInput(f"{label} is too long", f"answers.{name}")
        if value:
            if (problem := _typed_error(f, value)) is not None:
                raise InvalidInput(f"{label} {problem}", f"answers.{name}")
            out[name] = value
    return out


def _typed_error(f: dict[str, Any], value: str) -> str | None:
    """What is wrong with a non-empty answer for the field's type (None: nothing)."""
    match f.get("type", "text"):
        case "email" if validate.EMAIL.match(value) is None:
            return "is not a valid email address"
        case "select" if value not in f["options"]:
            return "must be one of the choices"
        case "checkbox" if value != "yes":
            return "must be ticked or left empty"
        case "number" if not _is_number(value):
            return "must be a number"
        case "date" if not _is_date(value):
            return "must be a date like 2026-12-31"
    return None


def _is_number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _required(common: list[dict[str, Any]], name: str) -> bool:
    return any(f["name"] == name and f.get("required") for f in common)


def _blank_is_absent(data: dict[str, Any]) -> dict[str, Any]:
    """A form posts an untouched optional input as "" (or spaces): that is no value."""
    return {k: None if isinstance(v, str) and not v.strip() else v for k, v in data.items()}


def check_form(config: dict[str, Any], data: dict[str, Any], use: Use) -> Submission:
    """Validate a submitted form against the site's; returns what to store and route by."""
    if not isinstance(data, dict):
        raise InvalidInput("the form must be a JSON object")
    data = _blank_is_absent(data)
    path = _path(config, data)
    department_id = _department(config, data, path)
    _check_topic(config, department_id, path)
    common = shape.fields(config)
    raw = _raw_answers(data)
    answers = _answers([f for f in common if f["name"] not in CONTACT_FIELDS], raw)
    answers.update(_answers([f for t in path for f in shape.fields(t)], raw))
    by_mail = use is Use.MESSAGE
    language = form_language(config, data)
    return Submission(
        department_id=department_id,
        topic_id=path[-1]["id"] if path else None,
        topic=path[-1].get("label") or path[-1]["id"] if path else None,
        answers=answers,
        skills={**shape.skills(path), **shape.language_skills(config, language)},
        name=validate.text(data, "name", max_len=NAME_MAX,
                           required=_required(common, "name")) or None,
        email=validate.email(data, "email", required=by_mail or _required(common, "email")),
        text=validate.text(data, "text", max_len=TEXT_MAX, required=by_mail) or "",
        language=language,
    )


def form_language(config: dict[str, Any], data: dict[str, Any]) -> str:
    """The language the visitor's form was shown in (what they are answered in): one shipped
    language, the site's own when it lets no browser choose or none is sent."""
    raw = data.get("language")
    if raw is not None and known(raw) is None:
        raise InvalidInput(f"language must be one of {', '.join(LANGUAGES)}", "language")
    return (raw if shape.browser_language(config) else None) or shape.language(config)

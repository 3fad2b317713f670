"""What agents write on a ticket besides messages (pure): its tags and its custom fields.

**Tags**: ``tag`` is the one rule of what a tag is: trimmed, lower-cased (``Billing`` and
``billing`` are one tag), 1 to ``TAG_MAX`` characters without commas or control characters.
Every path that puts a tag on a conversation (the API, the automation's ``add_tag``) and the
search filter read tags through it.

**Custom fields** are defined per department (``Department.fields``), each::

    {"name": str, "label": str, "type": "text"|"number"|"select"|"date"|"checkbox",
     "options": [str] (select only), "required": bool (before resolving or closing)}

``check_definitions`` is what an admin saves (a 422 naming the bad entry); ``check_values`` is
an agent's edit: every name must be a field of the conversation's department and every value
of the field's type (``BadValue``: a 400 naming the field), ``None`` clears one.
``missing_required`` is the rule a resolve or close asks: which required fields are still
empty. Values live in ``Conversation.custom_fields`` under their names, beside the
customer's form answers, so the search's ``field=name:value`` filter finds them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from desk.errors import InvalidInput
from desk.limits import NAME_MAX, TAG_MAX

TAGS_MAX = 20  # tags one request adds or removes; also the most a conversation carries
FIELD_TYPES = ("text", "number", "select", "date", "checkbox")
FIELDS_MAX = 50
OPTIONS_MAX = 100
TEXT_VALUE_MAX = 1000
NUMBER_MAX = 1e12
_TAG = re.compile(r"^[^\x00-\x1f\x7f,]+$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Names the records keep for their own use in custom_fields (the form answers, automation).
RESERVED = frozenset({"answers", "tags"})


class BadValue(InvalidInput):
    """A custom field value that is not of its field's type, or names no field: HTTP 400
    naming the field (the issue's contract for ticket fields)."""

    status = 400


def tag(raw: object) -> str:
    """A tag as stored, or InvalidInput saying what a tag is."""
    value = raw.strip().lower() if isinstance(raw, str) else ""
    if not 1 <= len(value) <= TAG_MAX or not _TAG.match(value):
        raise InvalidInput(f"a tag is 1 to {TAG_MAX} characters, no commas or control "
                           f"characters: {str(raw)[:40]!r}", "tags")
    return value


def tag_list(data: Mapping[str, Any], key: str) -> list[str]:
    """The tags under ``key`` (absent: none), each once, at most ``TAGS_MAX``."""
    raw = data.get(key)
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > TAGS_MAX:
        raise InvalidInput(f"{key} must be a list of at most {TAGS_MAX} tags", key)
    return list(dict.fromkeys(tag(t) for t in raw))


def _definition_error(f: object) -> str | None:
    if not isinstance(f, dict) or not isinstance(f.get("name"), str) \
            or not _NAME.match(f["name"]):
        return "a field has a name of 1 to 64 letters, digits, '_', '.' or '-'"
    if f["name"] in RESERVED:
        return f"{f['name']!r} is reserved"
    if f.get("type") not in FIELD_TYPES:
        return f"type must be one of {', '.join(FIELD_TYPES)}"
    label = f.get("label")
    if label is not None and not (isinstance(label, str) and 1 <= len(label) <= NAME_MAX):
        return f"label must be 1 to {NAME_MAX} characters"
    if "required" in f and not isinstance(f["required"], bool):
        return "required must be true or false"
    options = f.get("options")
    if f["type"] == "select":
        if not isinstance(options, list) or not 1 <= len(options) <= OPTIONS_MAX or not all(
                isinstance(o, str) and 1 <= len(o) <= NAME_MAX for o in options):
            return f"a select field has 1 to {OPTIONS_MAX} options of 1 to {NAME_MAX} characters"
    elif options is not None:
        return "only a select field has options"
    unknown = set(f) - {"name", "label", "type", "options", "required"}
    if unknown:
        return f"unknown keys {', '.join(sorted(unknown))}"
    return None


def check_definitions(raw: object) -> list[dict[str, Any]]:
    """A department's field definitions to save, or InvalidInput naming the first bad one."""
    if not isinstance(raw, list) or len(raw) > FIELDS_MAX:
        raise InvalidInput(f"fields must be a list of at most {FIELDS_MAX}", "fields")
    names: set[str] = set()
    for i, f in enumerate(raw):
        if (problem := _definition_error(f)) is not None:
            raise InvalidInput(f"fields[{i}]: {problem}", "fields")
        if f["name"] in names:
            raise InvalidInput(f"fields[{i}]: {f['name']!r} is defined twice", "fields")
        names.add(f["name"])
    return list(raw)


def definitions_schema() -> dict[str, Any]:
    """What ``check_definitions`` reads, as JSON Schema."""
    text = {"type": "string", "minLength": 1, "maxLength": NAME_MAX}
    return {"type": "array", "maxItems": FIELDS_MAX, "items": {
        "type": "object", "required": ["name", "type"], "additionalProperties": False,
        "properties": {"name": {"type": "string", "pattern": _NAME.pattern},
                       "type": {"enum": list(FIELD_TYPES)}, "label": text,
                       "required": {"type": "boolean"},
                       "options": {"type": "array", "minItems": 1, "maxItems": OPTIONS_MAX,
                                   "items": text}}}}


def tags_schema() -> dict[str, Any]:
    """What ``tag_list`` reads."""
    return {"type": "array", "maxItems": TAGS_MAX, "items": {
        "type": "string", "minLength": 1, "maxLength": TAG_MAX, "pattern": _TAG.pattern}}


def values_schema() -> dict[str, Any]:
    """What ``check_values`` reads (each value as its field's definition says)."""
    return {"type": "object", "minProperties": 1, "maxProperties": FIELDS_MAX}


def definitions(stored: object) -> list[dict[str, Any]]:
    """The well-formed definitions of what a department stores (a bad entry is skipped)."""
    return [f for f in stored if _definition_error(f) is None] \
        if isinstance(stored, list) else []


def label(f: Mapping[str, Any]) -> str:
    return str(f.get("label") or f["name"])


def value(f: Mapping[str, Any], raw: object) -> object:
    """``raw`` as field ``f`` stores it (None clears), or InvalidInput naming the field."""
    name = str(f["name"])
    if raw is None or raw == "":
        return None
    kind = f["type"]
    wrong = BadValue(f"{label(f)} ({name}) must be {_expects(f)}", f"fields.{name}")
    match kind:
        case "text":
            if not isinstance(raw, str) or len(raw) > TEXT_VALUE_MAX or "\x00" in raw:
                raise wrong
            return raw.strip() or None
        case "number":
            if isinstance(raw, bool) or not isinstance(raw, int | float) \
                    or not -NUMBER_MAX <= raw <= NUMBER_MAX or raw != raw:
                raise wrong
            return raw
        case "select":
            if raw not in (f.get("options") or []):
                raise wrong
            return raw
        case "date":
            if not isinstance(raw, str) or len(raw) != 10:
                raise wrong
            try:
                return date.fromisoformat(raw).isoformat()
            except ValueError:
                raise wrong from None
        case _:
            if not isinstance(raw, bool):
                raise wrong
            return raw


def _expects(f: Mapping[str, Any]) -> str:
    match f["type"]:
        case "text":
            return f"text of at most {TEXT_VALUE_MAX} characters"
        case "number":
            return "a number"
        case "select":
            return "one of " + ", ".join(f.get("options") or [])
        case "date":
            return "a date YYYY-MM-DD"
    return "true or false"


def check_values(defs: Sequence[Mapping[str, Any]], raw: object) -> dict[str, object]:
    """An agent's edit: ``{name: value}`` with every name defined and every value checked."""
    if not isinstance(raw, dict) or not 1 <= len(raw) <= FIELDS_MAX:
        raise InvalidInput(f"fields must be an object of 1 to {FIELDS_MAX} values", "fields")
    by_name = {str(f["name"]): f for f in defs}
    out: dict[str, object] = {}
    for name, given in raw.items():
        f = by_name.get(name)
        if f is None:
            raise BadValue(f"{str(name)[:64]!r} is not a field of this department",
                           f"fields.{str(name)[:64]}")
        out[name] = value(f, given)
    return out


def missing_required(defs: Sequence[Mapping[str, Any]], stored: Mapping[str, Any]) -> list[str]:
    """The labels of required fields still empty (a resolve or close waits for them). An
    unticked required checkbox counts as empty: ticking it is what it asks."""
    return [label(f) for f in defs if f.get("required")
            and stored.get(str(f["name"])) in (None, "", False)]

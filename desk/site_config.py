"""The shape of a site's configuration: the pre-chat form and routing hints an admin writes as
JSON (pure).

Every key is optional::

    title        str
    greeting     str       shown above the form, <= NOTICE_MAX
    notice       str       shown when a case is filed (hours, what happens next), <= NOTICE_MAX
    color        "#rrggbb" the widget's accent (header, buttons)
    logo_url     str       an https:// (or site-relative /) image shown in the widget's header
    departments  [{"id": department id, "name": str}]
    topics       [topic]   topic = {"id": str, "label": str, "department_id": department id,
                                    "skills": {skill: level 1..10}, "fields": [field],
                                    "children": [topic]}   (nested at most TOPIC_DEPTH deep)
    fields       [field]   field = {"name": str, "label": str, "required": bool,
                                    "type": one of FIELD_TYPES (text when absent),
                                    "options": [str] (a select's choices, only there),
                                    "max_length": 1..ANSWER_MAX}
    language          str   the widget's language (desk.i18n.LANGUAGES), default "en"
    browser_language  bool  the widget follows the visitor's browser when it can (default true)
    language_routing  str   "off" (default), "preferred" or "required": a chat's language as a
                            routing skill (``language_skills``)

``check`` is what the admin API saves (a 422 naming the first bad field). The readers (the
widget's endpoints, the chat) take the config through ``topic_paths``, ``skills``,
``department_ids`` and ``fields``, which skip what a config stored before this check existed
holds wrongly: a bad entry is ignored, never a 500 or a closed socket. Both sides ask the same
per-entry functions, so what is saved and what is read agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from desk import visit_rules
from desk.errors import InvalidInput
from desk.i18n import DEFAULT, LANGUAGES, known
from desk.limits import NAME_MAX, is_id, is_skill_level

ANSWER_MAX = 1000
LANGUAGE_ROUTING = ("off", "preferred", "required")
# The skill an agent holds for a language (level 1 is enough); a preferred skill's name
# carries routing.policy.PREFERRED in front (desk imports no routing: the same marker).
LANGUAGE_SKILL = "lang:"
PREFERRED = "~"
TOPIC_DEPTH = 5
LIST_MAX = 200
TEXT_MAX = 120
NOTICE_MAX = 1000

OPTIONS_MAX = 50
LOGO_URL_MAX = 500
# What a questionnaire field asks for; the widget draws each as its kind of input and
# desk.site_form checks the answer the same way (a checkbox's answer is "yes" or none).
FIELD_TYPES = ("text", "textarea", "email", "select", "checkbox", "number", "date")
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_LOGO = re.compile(r"(https://[^\s\"'<>]+|/[^/\s\"'<>][^\s\"'<>]*)")

Path = tuple[dict[str, Any], ...]


def _text(value: object, max_len: int = TEXT_MAX) -> bool:
    return isinstance(value, str) and 0 < len(value) <= max_len


def _list(value: object) -> list[Any]:
    """A list entry as stored; anything else (a bad config) reads as empty."""
    return value if isinstance(value, list) else []


def department_error(d: object) -> str | None:
    if not isinstance(d, dict) or not is_id(d.get("id")):
        return "a department is {\"id\": department id, \"name\": text}"
    if "name" in d and not _text(d["name"], NAME_MAX):
        return f"name must be 1 to {NAME_MAX} characters"
    return None


def field_error(f: object) -> str | None:
    if not isinstance(f, dict) or not _text(f.get("name"), 64):
        return "a field is an object with a name of 1 to 64 characters"
    if "label" in f and not _text(f["label"]):
        return f"label must be 1 to {TEXT_MAX} characters"
    if "required" in f and not isinstance(f["required"], bool):
        return "required must be true or false"
    kind = f.get("type", "text")
    if kind not in FIELD_TYPES:
        return f"type must be one of {', '.join(FIELD_TYPES)}"
    options = f.get("options")
    if kind == "select" and not (isinstance(options, list) and 0 < len(options) <= OPTIONS_MAX
                                 and all(_text(o) for o in options)):
        return f"a select needs options: a list of 1 to {OPTIONS_MAX} texts of 1 to {TEXT_MAX}"
    if kind != "select" and options is not None:
        return "only a select has options"
    length = f.get("max_length")
    if length is not None and (type(length) is not int or not 1 <= length <= ANSWER_MAX):
        return f"max_length must be an integer 1 to {ANSWER_MAX}"
    return None


def skill_error(name: object, level: object) -> str | None:
    if not _text(name, 64):
        return "skill names must be 1 to 64 characters"
    if not is_skill_level(level):
        return f"the level of {name!r} must be an integer 1 to 10"
    return None


def topic_error(t: object) -> str | None:
    """What is wrong with a topic itself (its skills, fields and children are checked each):
    a reader skips such a topic with its children."""
    if not isinstance(t, dict) or not _text(t.get("id")):
        return f"a topic is an object with an id of 1 to {TEXT_MAX} characters"
    if "label" in t and not _text(t["label"]):
        return f"label must be 1 to {TEXT_MAX} characters"
    if t.get("department_id") is not None and not is_id(t["department_id"]):
        return "department_id must be a department id"
    return None


def _container_error(t: dict[str, Any]) -> str | None:
    """Saved: a topic's skills, fields and children of the right type (read: others as none)."""
    for key in ("skills", "fields", "children"):
        kind = dict if key == "skills" else list
        if t.get(key) is not None and not isinstance(t[key], kind):
            return f"{key} must be {'an object' if kind is dict else 'a list'}"
    return None


def check(config: object) -> dict[str, Any]:
    """The config to save, or InvalidInput naming the first bad field (``config.topics[0]...``)."""
    if not isinstance(config, dict):
        raise InvalidInput("config must be a JSON object")
    if "title" in config and not _text(config["title"]):
        raise InvalidInput(f"config.title must be 1 to {TEXT_MAX} characters")
    for key in ("notice", "greeting"):
        if key in config and not _text(config[key], NOTICE_MAX):
            raise InvalidInput(f"config.{key} must be 1 to {NOTICE_MAX} characters")
    if "color" in config and not (isinstance(config["color"], str)
                                  and _COLOR.fullmatch(config["color"])):
        raise InvalidInput("config.color must be a colour like #2f5bea")
    if "logo_url" in config and not (_text(config["logo_url"], LOGO_URL_MAX)
                                     and _LOGO.fullmatch(config["logo_url"])):
        raise InvalidInput("config.logo_url must be an https:// address or a path starting "
                           f"with /, at most {LOGO_URL_MAX} characters")
    _check_language(config)
    for key in ("departments", "topics", "fields"):
        if config.get(key) is not None and (not isinstance(config[key], list)
                                            or len(config[key]) > LIST_MAX):
            raise InvalidInput(f"config.{key} must be a list of at most {LIST_MAX}")
    _each(config.get("departments"), "config.departments", department_error)
    _each(config.get("fields"), "config.fields", field_error)
    _check_topics(_list(config.get("topics")), "config.topics", 1)
    visit_rules.check(config)
    return config


def _check_language(config: dict[str, Any]) -> None:
    if "language" in config and known(config["language"]) is None:
        raise InvalidInput(f"config.language must be one of {', '.join(LANGUAGES)}")
    if "browser_language" in config and not isinstance(config["browser_language"], bool):
        raise InvalidInput("config.browser_language must be true or false")
    if "language_routing" in config and config["language_routing"] not in LANGUAGE_ROUTING:
        raise InvalidInput(f"config.language_routing must be one of {', '.join(LANGUAGE_ROUTING)}")


def _each(items: object, where: str, error: Any) -> None:
    for i, item in enumerate(_list(items)):
        if (problem := error(item)) is not None:
            raise InvalidInput(f"{where}[{i}]: {problem}")


def _check_topics(topics: list[Any], where: str, depth: int) -> None:
    if depth > TOPIC_DEPTH:
        raise InvalidInput(f"{where}: topics nest at most {TOPIC_DEPTH} deep")
    for i, t in enumerate(topics):
        at = f"{where}[{i}]"
        if (problem := topic_error(t) or _container_error(t)) is not None:
            raise InvalidInput(f"{at}: {problem}")
        for name, level in (t.get("skills") or {}).items():
            if (problem := skill_error(name, level)) is not None:
                raise InvalidInput(f"{at}.skills: {problem}")
        _each(t.get("fields"), f"{at}.fields", field_error)
        _check_topics(_list(t.get("children")), f"{at}.children", depth + 1)


# --- readers: what a stored config holds, bad entries skipped --------------------------------


def topic_paths(config: dict[str, Any], trail: Path = ()) -> Iterator[Path]:
    """Every well-formed topic with the path of topics leading to it (root first); a bad topic
    is skipped with its children."""
    for t in _list(config.get("topics") if not trail else trail[-1].get("children")):
        if topic_error(t) is None and len(trail) < TOPIC_DEPTH:
            path = (*trail, t)
            yield path
            yield from topic_paths(config, path)


def skills(path: Path) -> dict[str, int]:
    """Skills a topic requires: its own and its parents' (a child's level wins)."""
    out: dict[str, int] = {}
    for t in path:
        skill_map = t.get("skills")
        if isinstance(skill_map, dict):
            out.update({k: v for k, v in skill_map.items() if skill_error(k, v) is None})
    return out


def title(config: dict[str, Any]) -> str:
    value = config.get("title")
    """The site's own title, or "" (the widget then shows its catalogue's)."""
    return value if isinstance(value, str) and _text(value) else ""


def language(config: dict[str, Any]) -> str:
    return known(config.get("language")) or DEFAULT


def browser_language(config: dict[str, Any]) -> bool:
    return config.get("browser_language") is not False


def language_routing(config: dict[str, Any]) -> str:
    value = config.get("language_routing")
    return value if isinstance(value, str) and value in LANGUAGE_ROUTING else "off"


def language_skills(config: dict[str, Any], lang: str | None) -> dict[str, int]:
    """The routing skill a chat in ``lang`` asks for: none when the site routes no language,
    ``lang:de`` when it is required, ``~lang:de`` when an agent with it is only preferred."""
    mode = language_routing(config)
    if lang is None or mode == "off":
        return {}
    return {(PREFERRED if mode == "preferred" else "") + LANGUAGE_SKILL + lang: 1}


def notice(config: dict[str, Any]) -> str:
    """What the site says once a case is filed ("" when it says nothing)."""
    value = config.get("notice")
    return value if isinstance(value, str) and _text(value, NOTICE_MAX) else ""


def appearance(config: dict[str, Any]) -> dict[str, str]:
    """The widget's look and greeting, each only when well-formed."""
    out: dict[str, str] = {}
    greeting = config.get("greeting")
    if isinstance(greeting, str) and _text(greeting, NOTICE_MAX):
        out["greeting"] = greeting
    color = config.get("color")
    if isinstance(color, str) and _COLOR.fullmatch(color):
        out["color"] = color
    logo = config.get("logo_url")
    if isinstance(logo, str) and _text(logo, LOGO_URL_MAX) and _LOGO.fullmatch(logo):
        out["logo_url"] = logo
    return out


def department_ids(config: dict[str, Any]) -> list[int]:
    return [d["id"] for d in _list(config.get("departments")) if department_error(d) is None]


def departments(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in _list(config.get("departments")) if department_error(d) is None]


def fields(holder: dict[str, Any]) -> list[dict[str, Any]]:
    """The well-formed fields of a topic or of the config itself."""
    return [f for f in _list(holder.get("fields")) if field_error(f) is None]


def field_labels(config: dict[str, Any]) -> dict[str, str]:
    """Every field's label by its name, over the topic tree and the common fields (a name
    without a label reads as itself)."""
    labels: dict[str, str] = {}
    for holder in (config, *(path[-1] for path in topic_paths(config))):
        for f in fields(holder):
            labels.setdefault(f["name"], f.get("label") or f["name"])
    return labels


def shown(value: object) -> str:
    """An answer as a person reads it: text as is, yes/no, lists and objects spelled out."""
    match value:
        case bool():
            return "yes" if value else "no"
        case str():
            return value
        case list() | tuple():
            return ", ".join(shown(v) for v in value)
        case dict():
            return "; ".join(f"{k}: {shown(v)}" for k, v in value.items())
        case None:
            return ""
    return str(value)


def answers(config: dict[str, Any], custom_fields: object) -> list[dict[str, str]]:
    """The pre-chat answers of a conversation as ``{name, label, value}`` rows, labelled from
    the site's form. A chat keeps them under ``answers``; a left message (and older records)
    keep them at the top level. Empty answers are left out."""
    stored = custom_fields if isinstance(custom_fields, dict) else {}
    inner = stored.get("answers")
    flat = {**{k: v for k, v in stored.items() if k != "answers"},
            **(inner if isinstance(inner, dict) else {})}
    labels = field_labels(config)
    rows = [{"name": str(k), "label": labels.get(str(k), str(k)), "value": shown(v)}
            for k, v in flat.items()]
    return [r for r in rows if r["value"]]

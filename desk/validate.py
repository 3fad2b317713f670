"""Field checks for API input: each failure names the field and the rule."""

from __future__ import annotations

import re
from typing import Any

from desk.errors import InvalidInput
from desk.limits import EMAIL_MAX, ID_MAX, ID_MIN, is_id, is_skill_level

EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"\\]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A host name is labels like this joined by dots; an IPv6 address (no brackets) is hex and colons.
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+")


def text(data: dict[str, Any], key: str, *, max_len: int, required: bool = True,
         min_len: int = 1) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidInput(f"{key} is required", key)
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string", key)
    value = value.strip()
    if "\x00" in value:
        raise InvalidInput(f"{key} must not contain NUL characters", key)
    if not min_len <= len(value) <= max_len:
        raise InvalidInput(f"{key} must be {min_len} to {max_len} characters", key)
    return value


def required_text(data: dict[str, Any], key: str, *, max_len: int) -> str:
    value = text(data, key, max_len=max_len)
    assert value is not None
    return value


def integer(data: dict[str, Any], key: str, *, lo: int, hi: int, default: int | None = None,
            required: bool = False) -> int | None:
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidInput(f"{key} is required", key)
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{key} must be an integer", key)
    if not lo <= value <= hi:
        raise InvalidInput(f"{key} must be between {lo} and {hi}", key)
    return value


def record_id(data: dict[str, Any], key: str, *, required: bool = False) -> int | None:
    """An id naming a record: an integer the id columns can hold (desk.limits)."""
    return integer(data, key, lo=ID_MIN, hi=ID_MAX, required=required)


def boolean(data: dict[str, Any], key: str, default: bool | None = None) -> bool | None:
    value = data.get(key, default)
    if value is not None and not isinstance(value, bool):
        raise InvalidInput(f"{key} must be true or false", key)
    return value


def choice(data: dict[str, Any], key: str, options: tuple[str, ...],
           default: str | None = None) -> str | None:
    value = data.get(key, default)
    if value is not None and value not in options:
        raise InvalidInput(f"{key} must be one of {', '.join(options)}", key)
    return value


def email(data: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = text(data, key, max_len=EMAIL_MAX, required=required)
    if value is None:
        return None
    if not is_email(value):
        raise InvalidInput(f"{key} is not a valid email address", key)
    return value.lower()


def is_email(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= EMAIL_MAX and bool(EMAIL.match(value))


def id_list(data: dict[str, Any], key: str, *, max_items: int = 100) -> list[int] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > max_items or not all(map(is_id, value)):
        raise InvalidInput(f"{key} must be a list of at most {max_items} ids "
                           f"(integers {ID_MIN} to {ID_MAX})", key)
    return list(dict.fromkeys(value))


def skill_levels(data: dict[str, Any], key: str) -> dict[str, int] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > 50:
        raise InvalidInput(f"{key} must be an object of at most 50 skill: level pairs", key)
    out: dict[str, int] = {}
    for name, level in value.items():
        if not isinstance(name, str) or not 1 <= len(name) <= 64:
            raise InvalidInput(f"{key}: skill names must be 1 to 64 characters", key)
        if not is_skill_level(level):
            raise InvalidInput(f"{key}: level of {name!r} must be an integer 1 to 10", key)
        out[name] = level
    return out


def origins(data: dict[str, Any], key: str) -> list[str] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 50:
        raise InvalidInput(f"{key} must be a list of at most 50 origins", key)
    out = []
    for item in value:
        if not isinstance(item, str) or not _ORIGIN.match(item.rstrip("/")):
            raise InvalidInput(f"{key}: {item!r} is not an origin like https://example.com", key)
        out.append(item.rstrip("/").lower())
    return out


def secret(data: dict[str, Any], key: str, *, max_len: int, required: bool = True
           ) -> str | None:
    """A password as given (no stripping); never echoed in a message."""
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidInput(f"{key} is required", key)
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= max_len:
        raise InvalidInput(f"{key} must be a string of 1 to {max_len} characters", key)
    if _CONTROL.search(value):
        raise InvalidInput(f"{key} must not contain control characters", key)
    return value


def line(data: dict[str, Any], key: str, *, max_len: int, required: bool = True,
         default: str | None = None) -> str | None:
    """One line of text that goes into a protocol command (IMAP): no control characters."""
    value = text(data, key, max_len=max_len, required=required and default is None)
    if value is None:
        return default
    if _CONTROL.search(value):
        raise InvalidInput(f"{key} must not contain control characters", key)
    return value


def host(data: dict[str, Any], key: str, *, max_len: int) -> str:
    """A host name or an IP address (a server to connect to), lower-cased."""
    value = line(data, key, max_len=max_len)
    if value is None or not _is_host(value):
        raise InvalidInput(f"{key} must be a host name or an IP address", key)
    return value.lower()


def _is_host(value: str) -> bool:
    if ":" in value:
        return _IPV6.fullmatch(value) is not None
    return all(_LABEL.fullmatch(label) for label in value.removesuffix(".").split("."))

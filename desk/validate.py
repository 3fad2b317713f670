"""Field checks for API input: each failure names the field and the rule."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from desk.errors import InvalidInput
from desk.limits import EMAIL_MAX, ID_MAX, ID_MIN, is_id, is_skill_level

EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"\\]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A host name is labels like this joined by dots; an IPv6 address (no brackets) is hex and colons.
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+")
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


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


# --- declarative bodies: one definition reads a body and describes it (desk.web's OpenAPI) ----


@dataclass(frozen=True, slots=True)
class Spec:
    """One field: how it is read (the functions above, so the same messages) and its JSON
    Schema. ``nullable``: null is a value (it clears the field) rather than "required"."""

    reader: Callable[[dict[str, Any], str, bool], Any]
    schema: dict[str, Any]
    nullable: bool = False

    def json_schema(self) -> dict[str, Any]:
        return {"anyOf": [self.schema, {"type": "null"}]} if self.nullable else self.schema


def _needed(data: dict[str, Any], key: str, required: bool) -> None:
    if required and data.get(key) is None:
        raise InvalidInput(f"{key} is required", key)


def Text(max_len: int, min_len: int = 1, nullable: bool = False) -> Spec:
    return Spec(lambda d, k, r: text(d, k, max_len=max_len, min_len=min_len, required=r),
                {"type": "string", "minLength": min_len, "maxLength": max_len}, nullable)


def Integer(lo: int, hi: int, nullable: bool = False) -> Spec:
    return Spec(lambda d, k, r: integer(d, k, lo=lo, hi=hi, required=r),
                {"type": "integer", "minimum": lo, "maximum": hi}, nullable)


def RecordId(nullable: bool = False) -> Spec:
    return Spec(lambda d, k, r: record_id(d, k, required=r),
                {"type": "integer", "minimum": ID_MIN, "maximum": ID_MAX}, nullable)


def Boolean() -> Spec:
    def read(d: dict[str, Any], k: str, r: bool) -> bool | None:
        _needed(d, k, r)
        return boolean(d, k)

    return Spec(read, {"type": "boolean"})


def Choice(options: tuple[str, ...]) -> Spec:
    def read(d: dict[str, Any], k: str, r: bool) -> str | None:
        _needed(d, k, r)
        return choice(d, k, options)

    return Spec(read, {"enum": list(options)})


def Email(nullable: bool = False) -> Spec:
    return Spec(lambda d, k, r: email(d, k, required=r),
                {"type": "string", "format": "email", "maxLength": EMAIL_MAX}, nullable)


def Secret(max_len: int, min_len: int = 1) -> Spec:
    def read(d: dict[str, Any], k: str, r: bool) -> str | None:
        value = secret(d, k, max_len=max_len, required=r)
        if value is not None and len(value) < min_len:
            raise InvalidInput(f"{k} must be a string of {min_len} to {max_len} characters", k)
        return value

    return Spec(read, {"type": "string", "minLength": min_len, "maxLength": max_len})


def IdList(max_items: int = 100) -> Spec:
    def read(d: dict[str, Any], k: str, r: bool) -> list[int] | None:
        _needed(d, k, r)
        return id_list(d, k, max_items=max_items)

    return Spec(read, {"type": "array", "maxItems": max_items, "items": {
        "type": "integer", "minimum": ID_MIN, "maximum": ID_MAX}})


def SkillLevels() -> Spec:
    def read(d: dict[str, Any], k: str, r: bool) -> dict[str, int] | None:
        _needed(d, k, r)
        return skill_levels(d, k)

    return Spec(read, {"type": "object", "maxProperties": 50, "additionalProperties": {
        "type": "integer", "minimum": 1, "maximum": 10}})


def Origins() -> Spec:
    def read(d: dict[str, Any], k: str, r: bool) -> list[str] | None:
        _needed(d, k, r)
        return origins(d, k)

    return Spec(read, {"type": "array", "maxItems": 50, "items": {
        "type": "string", "pattern": r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$"}})


def Custom(reader: Callable[[dict[str, Any], str], Any], schema: dict[str, Any],
           nullable: bool = False) -> Spec:
    """A field with a check of its own (a module's ``check_*``); its schema stated beside it."""
    def read(d: dict[str, Any], k: str, r: bool) -> Any:
        _needed(d, k, r and not nullable)
        return reader(d, k)

    return Spec(read, schema, nullable)


def Part(schema: dict[str, Any], nullable: bool = False) -> Spec:
    """A field a module's parser checks together with its siblings (a calendar's hours with
    its timezone, a rule's actions with its event): read as given; ``schema`` comes from that
    module, beside the parser."""
    return Custom(lambda d, k: d.get(k), schema, nullable)


@dataclass(frozen=True)
class Body:
    """A JSON body's fields. ``read(data, key)`` checks one field (``required`` ones must be
    there; any other present field must not be null unless it is nullable) and ``schema()``
    is its JSON Schema, so the API description comes from the definition the handler uses."""

    fields: dict[str, Spec]
    required: tuple[str, ...] = ()

    def read(self, data: dict[str, Any], key: str) -> Any:
        spec = self.fields[key]
        needed = key in self.required or (key in data and not spec.nullable)
        return spec.reader(data, key, needed)

    def given(self, data: dict[str, Any]) -> dict[str, Any]:
        """The body's fields present in ``data``, each read through its spec (for a module
        that checks the fields together afterwards)."""
        return {k: self.read(data, k) for k in self.fields if k in data}

    def schema(self) -> dict[str, Any]:
        return {"type": "object", "properties": {k: s.json_schema()
                                                 for k, s in self.fields.items()},
                "required": list(self.required)}

    def but(self, *, required: tuple[str, ...] | None = None, drop: tuple[str, ...] = (),
            **more: Spec) -> Body:
        """A variant (an update body of a create body, say)."""
        kept = {k: v for k, v in self.fields.items() if k not in drop}
        return Body({**kept, **more}, self.required if required is None else required)

    def result(self, **more: dict[str, Any]) -> dict[str, Any]:
        """The JSON Schema of a record as answered: these fields (null where nullable) plus
        ``more`` (the id, what the server adds), every one present."""
        props = {k: s.json_schema() for k, s in self.fields.items()} | more
        return {"type": "object", "properties": props, "required": list(props)}


def described(body: Body | None = None, response: dict[str, Any] | None = None,
              status: int = 200) -> Callable[[Endpoint], Endpoint]:
    """Attach the body an endpoint reads and what it answers, for the API description."""
    def mark(endpoint: Endpoint) -> Endpoint:
        endpoint.api_body = body  # type: ignore[attr-defined]
        endpoint.api_response = response  # type: ignore[attr-defined]
        endpoint.api_status = status  # type: ignore[attr-defined]
        return endpoint

    return mark

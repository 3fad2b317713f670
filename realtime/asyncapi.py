"""The WebSocket frames as an AsyncAPI 3.0 document (served at ``/api/asyncapi.json``), generated
from the frame dataclasses ``realtime.protocol`` parses and serializes: their fields, types and
the bounds in their metadata (``realtime.frame_meta.bounds``), so the description and the parser
read one definition. Pure.
"""

from __future__ import annotations

import types
from dataclasses import MISSING, fields
from typing import Any, Union, get_args, get_origin, get_type_hints

from realtime import protocol as p

# Which frames each endpoint takes (the visitor socket also serves the case page).
ENDPOINTS = {
    "/ws/visitor": "visitor",
    "/ws/agent": "agent",
    "/ws/supervisor": "supervisor",
}


def _type(hint: Any, meta: dict[str, Any] | None) -> dict[str, Any]:
    origin = get_origin(hint)
    args = get_args(hint)
    if origin in (Union, types.UnionType):
        inner = [_type(a, meta) for a in args if a is not type(None)]
        nullable = type(None) in args
        alternatives = inner + ([{"type": "null"}] if nullable else [])
        return alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        out: dict[str, Any] = {"type": "integer"}
        if meta:
            out |= {"minimum": meta["lo"], "maximum": meta["hi"]}
        return out
    if hint is float:
        return {"type": "number"}
    if hint is str:
        out = {"type": "string"}
        if meta:
            out |= {"minLength": meta["lo"], "maxLength": meta["hi"]}
            if meta["choices"]:
                out["enum"] = list(meta["choices"])
        return out
    if origin in (tuple, list) or hint in (tuple, list):
        item = args[0] if args else Any
        array: dict[str, Any] = {"type": "array", "items": _type(item, None)}
        if meta:
            array |= {"minItems": meta["lo"], "maxItems": meta["hi"]}
        return array
    if origin is dict or hint is dict:
        value = args[1] if len(args) == 2 else Any
        return {"type": "object", "additionalProperties": _type(value, None)}
    if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
        return frame_schema(hint, with_type=False)
    return {}


def frame_schema(cls: type[Any], with_type: bool = True) -> dict[str, Any]:
    """One frame's JSON Schema: ``type`` is its tag, the rest its dataclass fields."""
    hints = get_type_hints(cls)
    props: dict[str, Any] = {}
    required: list[str] = []
    if with_type:
        props["type"] = {"const": cls.TYPE}
        required.append("type")
    for f in fields(cls):
        props[f.name] = _type(hints[f.name], dict(f.metadata) or None)
        if f.default is MISSING and f.default_factory is MISSING:
            required.append(f.name)
    doc = (cls.__doc__ or "").strip()
    schema: dict[str, Any] = {"type": "object", "properties": props, "required": required,
                              "additionalProperties": False}
    if doc and not doc.startswith(cls.__name__ + "("):
        schema["description"] = " ".join(doc.split())
    return schema


def document() -> dict[str, Any]:
    client = {f"client.{name}": cls for name, cls in p.CLIENT_FRAMES.items()}
    server = {f"server.{name}": cls for name, cls in p.SERVER_FRAMES.items()}
    schemas = {key: frame_schema(cls) for key, cls in {**client, **server}.items()}
    messages = {key: {"name": key.split(".", 1)[1],
                      "payload": {"$ref": f"#/components/schemas/{key}"}} for key in schemas}
    channels = {
        role: {"address": path, "messages": {
            key: {"$ref": f"#/components/messages/{key}"} for key in schemas}}
        for path, role in ENDPOINTS.items()}
    operations = {}
    for role in ENDPOINTS.values():
        operations[f"{role}.send"] = {
            "action": "receive", "channel": {"$ref": f"#/channels/{role}"},
            "summary": "Frames a client sends (the server receives)",
            "messages": [{"$ref": f"#/channels/{role}/messages/{k}"} for k in client]}
        operations[f"{role}.receive"] = {
            "action": "send", "channel": {"$ref": f"#/channels/{role}"},
            "summary": "Frames the server sends",
            "messages": [{"$ref": f"#/channels/{role}/messages/{k}"} for k in server]}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Switchboard WebSocket frames", "version": "1",
                 "description": "Every frame is one JSON text message with a `type` member; "
                                "which role may send which client frame, and the order, are "
                                "in docs/protocol.md."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }

"""The API description is complete and true: every route of the app is in /api/openapi.json (its
WebSockets in /api/asyncapi.json) with a body schema for every write, the frame schemas agree
with the parser, and a bounded schemathesis run finds the answers of a real web process in line
with the described schemas."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import jsonschema_rs
import orjson
import pytest
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Mount, Route, WebSocketRoute

from desk.db import SessionMaker
from desk.errors import InvalidInput
from desk.settings import Settings
from desk.web import NO_BODY, RAW_BODIES
from realtime import protocol as p
from realtime.app import create_app
from realtime.errors import ProtocolError
from tests.desk.conftest import PASSWORD
from tests.desk.test_api_fuzz import _fuzz, _records, served  # noqa: F401  (fixture)

WRITES = {"POST", "PATCH", "PUT"}


async def _documents(settings: Settings) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sb.test") as http:
        openapi = (await http.get("/api/openapi.json")).json()
        asyncapi = (await http.get("/api/asyncapi.json")).json()
    return app, openapi, asyncapi


async def test_every_route_is_described(settings: Settings) -> None:
    """Walks the app's own routes, so a route someone adds fails here until it is described:
    a write's body comes from the ``validate.Body`` its handler reads with
    (``validate.described``); desk.web's tables name only file bodies and no body."""
    app, openapi, asyncapi = await _documents(settings)
    channels = {c["address"] for c in asyncapi["channels"].values()}
    missing = []
    for route in app.routes:
        if isinstance(route, WebSocketRoute):
            if route.path not in channels:
                missing.append(f"WS {route.path}: not in the AsyncAPI document")
            continue
        if isinstance(route, Mount):
            assert route.path == "/static", route.path  # static files only
            continue
        assert isinstance(route, Route), route
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            op = openapi["paths"].get(path, {}).get(method.lower())
            if op is None:
                missing.append(f"{method} {route.path}: not in the OpenAPI document")
                continue
            assert {"4XX", "503"} <= op["responses"].keys(), (method, path)
            if method not in WRITES or route.name in NO_BODY | RAW_BODIES:
                continue
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            if schema == {"type": "object"}:
                missing.append(f"{method} {route.path} ({route.name}): no body schema; mark its "
                               "handler with validate.described(<its validate.Body>)")
    assert not missing, "\n".join(missing)


async def test_every_body_is_its_validator(settings: Settings) -> None:
    """One source: each write's documented body is the schema of the ``validate.Body`` its
    handler reads with (``validate.described``); no hand-kept table of bodies remains."""
    from desk import validate, web

    assert not hasattr(web, "BODIES"), "desk.web describes bodies by hand again"
    app, openapi, _ = await _documents(settings)
    wrong = []
    for route in app.routes:
        if not isinstance(route, Route) or route.name in NO_BODY | RAW_BODIES:
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for method in sorted((route.methods or set()) & WRITES):
            body = getattr(route.endpoint, "api_body", None)
            if not isinstance(body, validate.Body):
                wrong.append(f"{method} {route.path} ({route.name}): its handler reads no "
                             "validate.Body (mark it validate.described(<the Body>))")
                continue
            op = openapi["paths"][path][method.lower()]
            if op["requestBody"]["content"]["application/json"]["schema"] != body.schema():
                wrong.append(f"{method} {route.path}: documented body is not its Body's")
    assert not wrong, "\n".join(wrong)


def test_rule_schema_is_what_the_rule_check_reads() -> None:
    """The rule editor and the API description read automation's own definitions: one
    example per condition field and per action passes ``automation.parse`` exactly when the
    schema says it is valid."""
    from desk import api_rules, automation

    schema = api_rules.RULE.schema()
    examples = {"department": 3, "group": 4, "priority": [1, 2], "tier": 1, "channel": "chat",
                "tag": "vip", "topic": "billing", "status": "queued", "custom_field": "x",
                "keyword": "refund", "sender_domain": "x.test", "business_hours": True}
    assert set(examples) == set(automation.FIELDS)
    actions = {"notify": "look", "set_priority": 3, "add_tag": "t", "transfer": 2,
               "assign": 5, "mail_customer": {"text": "hi"}, "set_status": "pending",
               "close": None}
    assert set(actions) == set(automation.ACTIONS)
    for field, value in examples.items():
        for action, arg in actions.items():
            rule = {"name": "r", "event": "created", "conditions": [
                {"field": field, "value": value, "op": "not_in",
                 **({"key": "plan"} if field == "custom_field" else {})}],
                "actions": [{"type": action, **({} if arg is None else {"value": arg})}]}
            assert jsonschema_rs.is_valid(schema, rule), rule
            automation.parse(0, 1, rule, True)
    for bad in ({"field": "priority", "value": "high"}, {"field": "colour", "value": "red"},
                {"field": "custom_field", "value": "x"}, {"field": "tag", "value": []}):
        rule = {"name": "r", "event": "created", "conditions": [bad],
                "actions": [{"type": "close"}]}
        assert not jsonschema_rs.is_valid(schema, rule), bad
        with pytest.raises(InvalidInput):
            automation.parse(0, 1, rule, True)


async def test_generated_bodies_are_the_validators(settings: Settings) -> None:
    """The admin bodies come from the handlers' own definitions, not a copy."""
    from desk import api_admin

    _, openapi, _ = await _documents(settings)
    body = openapi["paths"]["/api/groups"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert body == api_admin.GROUP.schema()
    assert body["required"] == ["department_id", "name"]
    assert body["properties"]["offer_timeout_s"] == {"type": "integer", "minimum": 5,
                                                     "maximum": 3600}
    answer = openapi["paths"]["/api/groups/{id}"]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"] == api_admin.GROUP_JSON


async def test_frames_described_from_the_protocol(settings: Settings) -> None:
    _, _, asyncapi = await _documents(settings)
    schemas = asyncapi["components"]["schemas"]
    assert {k.split(".", 1)[1] for k in schemas if k.startswith("client.")} == set(
        p.CLIENT_FRAMES)
    assert {k.split(".", 1)[1] for k in schemas if k.startswith("server.")} == set(
        p.SERVER_FRAMES)
    message = schemas["client.message"]
    good = {"type": "message", "conversation_id": 7, "client_id": "c1", "text": "hi"}
    assert jsonschema_rs.is_valid(message, good)
    p.parse(orjson.dumps(good))
    for bad in ({**good, "text": ""}, {**good, "text": "x" * (p.TEXT_MAX + 1)},
                {**good, "conversation_id": 0}, {**good, "extra": 1},
                {k: v for k, v in good.items() if k != "client_id"}):
        assert not jsonschema_rs.is_valid(message, bad), bad
        with pytest.raises(ProtocolError):
            p.parse(orjson.dumps(bad))


# --- answers against the schemas (a bounded run: a few positive examples per operation) ----

EXAMPLES = 3
CHECKS = [response_schema_conformance, status_code_conformance]


async def test_answers_match_the_schemas(served: str, org: dict[str, int],  # noqa: F811
                                         sm: SessionMaker) -> None:
    known = await _records(sm, org)
    async with httpx.AsyncClient(base_url=served) as http:
        r = await http.post("/api/auth/login",
                            json={"email": "admin@x.test", "password": PASSWORD})
        assert r.status_code == 200, r.text
        cookie, csrf = r.cookies["sb_session"], r.json()["csrf_token"]
        document = (await http.get("/api/openapi.json")).json()
    sent, problems = await asyncio.to_thread(
        _fuzz, served, document, cookie, csrf, known, modes=(GenerationMode.POSITIVE,),
        examples=EXAMPLES, checks=CHECKS)
    assert not problems, "\n".join(problems[:20])
    assert sent > 100


def test_body_reads_as_it_describes() -> None:
    from desk import validate

    body = validate.Body({"name": validate.Text(5), "note": validate.Text(5, nullable=True),
                          "n": validate.Integer(1, 3)}, required=("name",))
    assert body.schema() == {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 5},
        "note": {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 5},
                           {"type": "null"}]},
        "n": {"type": "integer", "minimum": 1, "maximum": 3}}}
    assert body.read({"name": " ab "}, "name") == "ab"
    assert body.read({"note": None}, "note") is None  # nullable: null clears
    assert body.read({}, "n") is None  # absent and optional
    for data, key, message in (({}, "name", "name is required"),
                               ({"n": None}, "n", "n is required"),  # present: not null
                               ({"n": 4}, "n", "n must be between 1 and 3"),
                               ({"name": "abcdef"}, "name", "name must be 1 to 5 characters")):
        with pytest.raises(InvalidInput, match=message):
            body.read(data, key)
    update = body.but(required=(), drop=("n",))
    assert set(update.fields) == {"name", "note"} and update.required == ()
    assert body.result(id={"type": "integer"})["required"] == ["name", "note", "n", "id"]

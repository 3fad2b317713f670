"""The desk's HTTP surface: every API route plus a generated OpenAPI description."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from desk import (
    api_admin,
    api_attachments,
    api_auth,
    api_conversations,
    api_customer,
    api_invitations,
    api_lookup,
    api_mailboxes,
    api_oidc,
    api_planning,
    api_reports,
    api_rules,
    api_search,
    api_sla,
    api_tickets,
    api_webhooks,
    api_work,
    calls,
    commitments,
    contracts,
    ticket_fields,
)
from desk.api_conversations import RESOLUTION_NOTE_MAX
from desk.http import JSONResponse
from desk.kb import api as kb_api
from desk.kb import api_assist as kb_assist
from desk.limits import (
    ARTICLE_BODY_MAX,
    ARTICLE_RELATED_MAX,
    ARTICLE_TAGS_MAX,
    ARTICLE_TITLE_MAX,
    BODY_MAX,
    EMAIL_MAX,
    ID_MAX,
    ID_MIN,
    MAILBOX_TEXT_MAX,
    NAME_MAX,
    PRIORITY_MAX,
    SLUG_MAX,
    TAG_MAX,
)
from desk.mail_rules import CC_MAX
from desk.models import (
    CHANNELS,
    DIRECTIONS,
    FACT_KINDS,
    MAILBOX_SECURITY,
    SCHEDULE_PERIODS,
    STATUSES,
)
from desk.models.integrations import WEBHOOK_URL_MAX
from desk.models.work import RESOLUTION_MAX, TASK_STATUSES, TITLE_MAX, WHY_MAX
from desk.search_query import (
    FIELD_NAME_MAX,
    FIELD_VALUE_MAX,
    LIMIT_MAX,
    TEXT_MAX,
    VALUES_MAX,
)
from desk.status_rules import STAFF_STATUSES
from desk.webhook_rules import EVENTS as WEBHOOK_EVENTS

_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}}}},
}
_ID = {"type": "integer", "minimum": ID_MIN, "maximum": ID_MAX}


def _text(lo: int, hi: int) -> dict[str, Any]:
    return {"type": "string", "minLength": lo, "maxLength": hi}


def _obj(*required: str, **props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required)}


_FIELD = f"^[A-Za-z0-9_.-]{{1,{FIELD_NAME_MAX}}}:.{{0,{FIELD_VALUE_MAX}}}$"


def _many(item: dict[str, Any]) -> dict[str, Any]:
    """A repeatable query parameter (``status=a&status=b``)."""
    return {"type": "array", "items": item, "maxItems": VALUES_MAX}


_NAME = _text(1, NAME_MAX)
_EMAIL = {"type": "string", "format": "email", "maxLength": EMAIL_MAX}
_MAILBOX = {"host": _text(1, MAILBOX_TEXT_MAX), "port": {"type": "integer", "minimum": 1,
                                                         "maximum": 65535},
            "poll_interval_s": {"type": "integer", "minimum": 10, "maximum": 86400},
            "security": {"enum": list(MAILBOX_SECURITY)}, "username": _text(1, MAILBOX_TEXT_MAX),
            "password": _text(1, MAILBOX_TEXT_MAX), "folder": _text(1, MAILBOX_TEXT_MAX),
            "enabled": {"type": "boolean"}, "rules": {"type": "array"}, "department_id": _ID}
_HHMM = {"type": "string", "pattern": "^([01][0-9]|2[0-4]):[0-5][0-9]$"}
_CALENDAR = {"name": _NAME, "timezone": {"enum": ["UTC", "Europe/Berlin", "America/New_York"]},
             "always_open": {"type": "boolean"},
             "hours": {"type": "object", "properties": {d: {"type": "array", "maxItems": 8,
                       "items": {"type": "array", "items": _HHMM, "minItems": 2,
                                 "maxItems": 2}} for d in ("mon", "tue", "wed", "thu", "fri",
                                                           "sat", "sun")}},
             "holidays": {"type": "array", "maxItems": 20,
                          "items": {"type": "string", "format": "date"}}}
_SECONDS = {"type": "integer", "minimum": 60, "maximum": 90 * 86400}
_POLICY = {"name": _NAME, "department_id": {"anyOf": [_ID, {"type": "null"}]},
           "calendar_id": {"anyOf": [_ID, {"type": "null"}]},
           "position": {"type": "integer", "minimum": 0, "maximum": 10_000},
           "enabled": {"type": "boolean"},
           "targets": {"type": "object", "properties": {
               t: _SECONDS for t in ("first_response", "next_response", "resolution")}},
           "conditions": {"type": "object", "properties": {
               "priorities": {"type": "array", "items": {"type": "integer"}, "maxItems": 50},
               "tiers": {"type": "array", "items": {"type": "integer"}, "maxItems": 50},
               "channels": {"type": "array", "items": {"enum": list(CHANNELS)}},
               "topics": {"type": "array", "items": _text(1, 200), "maxItems": 50}}}}
_RULE = {"name": _NAME, "enabled": {"type": "boolean"},
         "event": {"enum": ["created", "customer_replied", "agent_replied", "status_changed",
                            "assigned", "updated", "sla_breached"]},
         "params": {"type": "object"},
         "conditions": {"type": "array", "maxItems": 5, "items": _obj(
             "field", "value", field={"enum": ["priority", "channel", "tag", "keyword"]},
             op={"enum": ["in", "not_in"]}, value={"type": "array", "minItems": 1,
                                                    "maxItems": 5, "items": _text(1, 20)})},
         "actions": {"type": "array", "minItems": 1, "maxItems": 3, "items": _obj(
             "type", type={"enum": ["add_tag", "close"]}, value=_text(1, 64))}}
_TAGS = {"type": "array", "maxItems": ticket_fields.TAGS_MAX, "items": _text(1, TAG_MAX)}
# The bodies of handlers not yet reading through a ``validate.Body`` (a copy of their checks, so
# generated bodies get past the first field). A handler marked ``validate.described`` is
# described from its own definition instead and leaves this table; new routes should do that.
BODIES: dict[str, dict[str, Any]] = {
    "create_mailbox": _obj("department_id", "host", "username", "password", **_MAILBOX),
    "update_mailbox": _obj(**_MAILBOX),
    "post_message": _obj("body", body=_text(1, BODY_MAX),
                         visibility={"enum": ["public", "internal"]}, client_id=_text(1, 64)),
    "create_calendar": _obj("name", "hours", **_CALENDAR),
    "update_calendar": _obj(**_CALENDAR),
    "create_policy": _obj("name", "targets", **_POLICY),
    "update_policy": _obj(**_POLICY),
    "set_ladder": _obj("steps", steps={"anyOf": [{"type": "null"}, {
        "type": "array", "maxItems": 10, "items": _obj(
            "days", "action", days={"type": "integer", "minimum": 1, "maximum": 365},
            action={"enum": ["remind", "close"]})}]}),
    "create_rule": _obj("name", "event", "actions", **_RULE),
    "update_rule": _obj(**_RULE),
    "try_rule": _obj("conversation_id", conversation_id=_ID),
    "log_time": _obj("minutes", minutes={"type": "integer", "minimum": 1,
                                          "maximum": contracts.MINUTES_MAX},
                     note={"type": "string", "maxLength": contracts.NOTE_MAX}),
    "create_schedule": _obj("recipients", period={"enum": list(SCHEDULE_PERIODS)},
                            tz=_text(1, 64), group_id=_ID,
                            recipients={"type": "array", "minItems": 1, "maxItems": 10,
                                        "items": {"type": "string", "format": "email",
                                                  "maxLength": 254}}),
    "create_contract": _obj("kind", "name", "starts_on", kind={"enum": list(contracts.KINDS)},
                            name=_NAME, starts_on={"type": "string", "format": "date"},
                            ends_on={"anyOf": [{"type": "string", "format": "date"},
                                               {"type": "null"}]},
                            hours={"anyOf": [{"type": "number", "minimum": 0,
                                              "maximum": 100_000}, {"type": "null"}]}),
    "update_conversation": _obj(status={"enum": list(STAFF_STATUSES)},
                                priority={"type": "integer", "minimum": 0,
                                          "maximum": PRIORITY_MAX},
                                resolution_note=_text(1, RESOLUTION_NOTE_MAX)),
    "change_tags": _obj(add=_TAGS, remove=_TAGS),
    "edit_fields": _obj("fields", fields={"type": "object", "minProperties": 1,
                                          "maxProperties": ticket_fields.FIELDS_MAX}),
    "set_cc": _obj("cc", cc={"type": "array", "maxItems": CC_MAX, "items": _EMAIL}),
    "forward": _obj("to", to=_EMAIL, note=_text(0, api_tickets.NOTE_MAX),
                    seq={"type": "integer", "minimum": 1, "maximum": ID_MAX}),
    "merge": _obj("into", into={"anyOf": [_ID, {"type": "string",
                                                 "pattern": r"^(SB-)?[0-9]{7}$"}]}),
    "split": _obj("seq", seq={"type": "integer", "minimum": 1, "maximum": ID_MAX}),
    "log_call": _obj("department_id", "direction", "phone", "duration_s",
                     department_id=_ID, direction={"enum": list(DIRECTIONS)},
                     phone={"type": "string", "pattern": r"^\+?[0-9 ().-]{3,32}$"},
                     duration_s={"type": "integer", "minimum": 0,
                                 "maximum": calls.DURATION_MAX},
                     notes=_text(0, calls.NOTES_MAX), resolution=_text(1, RESOLUTION_MAX),
                     group_id=_ID, contact_id=_ID, name=_NAME, email=_EMAIL,
                     fields={"type": "object", "maxProperties": ticket_fields.FIELDS_MAX}),
    "department_fields": _obj("fields", fields={
        "type": "array", "maxItems": ticket_fields.FIELDS_MAX, "items": _obj(
            "name", "type", name={"type": "string", "pattern": "^[a-z0-9_]{1,64}$"},
            type={"enum": list(ticket_fields.FIELD_TYPES)}, label=_NAME,
            required={"type": "boolean"})}),
}
BODIES["call_fields"] = BODIES["department_fields"]
_DUE = {"type": "string", "format": "date-time", "maxLength": 40}
BODIES["case_commitments"] = _obj("kind", "due_at", kind=_NAME, due_at=_DUE, owner_id=_ID,
                                  public={"type": "boolean"})
_MAYBE_DUE = {"anyOf": [_DUE, {"type": "null"}]}
BODIES["create_task"] = _obj("title", title=_text(1, TITLE_MAX), owner_id=_ID, due_at=_MAYBE_DUE,
                             remind_at=_MAYBE_DUE, related={"type": "array", "maxItems": 20,
                                                            "items": _ID})
BODIES["change_task"] = _obj(status={"enum": list(TASK_STATUSES)}, owner_id=_ID,
                             due_at=_MAYBE_DUE, remind_at=_MAYBE_DUE)
BODIES["change_commitment"] = _obj(due_at=_DUE, why=_text(1, WHY_MAX), owner_id=_ID,
                                   status={"enum": list(commitments.ENDS)})
_LANG = {"type": "string", "pattern": "^[a-z]{2,3}(-[a-z0-9]{2,4})?$"}
_ARTICLE = {"title": _text(1, ARTICLE_TITLE_MAX), "body": _text(0, ARTICLE_BODY_MAX),
            "language": _LANG, "audience": {"enum": ["public", "internal"]},
            "slug": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,78}[a-z0-9])?$"},
            "topic_id": {"anyOf": [_ID, {"type": "null"}]},
            "tags": {"type": "array", "maxItems": ARTICLE_TAGS_MAX, "items": _text(1, TAG_MAX)},
            "related_ids": {"type": "array", "maxItems": ARTICLE_RELATED_MAX, "items": _ID},
            "publish": {"type": "boolean"}}
BODIES.update({
    "create_article": _obj("site_id", "title", "body", "language", site_id=_ID,
                           translation_of=_ID, **_ARTICLE),
    "update_article": _obj(**_ARTICLE),
    "publish_article": _obj(revision=_ID),
    "put_kb_site": _obj(languages={"type": "array", "minItems": 1, "maxItems": 20,
                                   "items": _LANG},
                        default_language=_LANG, agents_publish={"type": "boolean"},
                        synonyms={"type": "array", "maxItems": 500, "items": {
                            "type": "array", "minItems": 2, "maxItems": 20,
                            "items": _text(1, 64)}}),
    "record_event": _obj("kind", "article_id", "conversation_id", kind={"const": "insert"},
                         article_id=_ID, conversation_id=_ID),
    "create_topic": _obj("site_id", "name", site_id=_ID, name=_NAME, parent_id=_ID,
                         position={"type": "integer", "minimum": 0, "maximum": 10_000}),
    "preview": _obj("body", body=_text(1, ARTICLE_BODY_MAX)),
    "update_topic": _obj(name=_NAME, slug=_text(1, SLUG_MAX),
                         position={"type": "integer", "minimum": 0, "maximum": 10_000}),
})
QUERIES: dict[str, dict[str, Any]] = {
    "list_conversations": {
        "status": {"enum": list(STATUSES)}, "channel": {"enum": list(CHANNELS)},
        "group_id": _ID, "assignee_id": {"anyOf": [_ID, {"const": "me"}]},
        "priority": {"type": "integer", "minimum": 0, "maximum": PRIORITY_MAX}},
    "list_canned": {"department_id": _ID},
    "list_topics": {"site_id": _ID},
    "list_articles": {"site_id": _ID, "status": {"enum": ["draft", "published", "archived"]},
                      "language": _LANG, "topic_id": _ID},
    "upload_image": {"site_id": _ID},
    "upload_attachment": {"name": _text(1, 255), "visibility": {"enum": ["public", "internal"]},
               "client_id": _text(1, 64)},
    "search_conversations": {
        "q": {"type": "string", "maxLength": TEXT_MAX},
        "number": {"type": "string", "pattern": r"^(SB-)?[0-9]{7}$"},
        "email": {"type": "string", "maxLength": EMAIL_MAX},
        "contact": {"type": "string", "maxLength": NAME_MAX},
        "organisation_id": _ID, "organisation": {"type": "string", "maxLength": NAME_MAX},
        "assignee_id": {"anyOf": [_ID, {"enum": ["me", "none"]}]}, "group_id": _ID,
        "status": _many({"enum": list(STATUSES)}), "channel": _many({"enum": list(CHANNELS)}),
        "priority": _many({"type": "integer", "minimum": 0, "maximum": PRIORITY_MAX}),
        "tag": _many({"type": "string", "maxLength": 64}),
        "field": _many({"type": "string", "pattern": _FIELD}),
        "from": {"type": "string", "maxLength": 40,
                 "description": "last activity from (YYYY-MM-DD or ISO 8601)"},
        "to": {"type": "string", "maxLength": 40,
               "description": "last activity before (YYYY-MM-DD: to the end of that day)"},
        "cursor": {"type": "string", "maxLength": 100},
        "limit": {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX}},
    "staff_search": {"site_id": _ID, "q": _text(0, 500), "language": _LANG},
    "assist": {"conversation_id": _ID},
    "reports": {"site_id": _ID, "from": {"type": "string", "format": "date"},
                "to": {"type": "string", "format": "date"},
                "grain": {"enum": ["hour", "day", "week", "month"]}, "tz": _text(1, 64)},
}
_REPORT_RANGE = {
    "from": {"type": "string", "maxLength": 40,
             "description": "YYYY-MM-DD (midnight in tz) or ISO 8601"},
    "to": {"type": "string", "maxLength": 40, "description": "exclusive; as from"},
    "tz": _text(1, 64), "agent_id": _ID, "group_id": _ID, "channel": {"enum": list(CHANNELS)},
    "topic": _text(1, NAME_MAX), "organisation_id": _ID, "field": _text(1, NAME_MAX),
    "value": _text(0, NAME_MAX)}
_REPORT = {**_REPORT_RANGE, "group_by": {"enum": ["hour", "day", "week", "month"]},
           "compare": {"enum": ["previous"]}, "format": {"enum": ["json", "csv"]},
           "table": {"enum": ["series", "rows", "targets"]}}
QUERIES |= {f"report_{name}": _REPORT for name in api_reports.REPORTS}
QUERIES["report_drilldown"] = {**_REPORT_RANGE, "kind": {"enum": list(FACT_KINDS)}}
QUERIES["pending_commitments"] = {"owner_id": {"type": "string", "pattern": "^(me|[0-9]{1,9})$"}}
QUERIES["list_tasks"] = {**QUERIES["pending_commitments"], "status": {"enum": ["open", "done"]}}
QUERIES["export_conversations"] = _REPORT_RANGE
QUERIES["report_invitations"] = _REPORT_RANGE
QUERIES["forecast"] = {"tz": _text(1, 64), "group_id": _ID,
                       "weeks": {"type": "integer", "minimum": 1, "maximum": 52},
                       "handle_s": {"type": "integer", "minimum": 10, "maximum": 86_400},
                       "target_wait_s": {"type": "integer", "minimum": 0, "maximum": 3600},
                       "level": {"type": "integer", "minimum": 1, "maximum": 99}}
QUERIES["contracts_report"] = {"tz": _text(1, 64),
                               "days": {"type": "integer", "minimum": 0, "maximum": 366}}
QUERIES["today"] = {"tz": _text(1, 64)}
QUERIES["oidc_start"] = {"next": _text(1, 500)}
QUERIES["oidc_callback"] = {"code": _text(1, 2000), "state": _text(1, 200),
                            "error": _text(1, 100)}
_WEBHOOK = {"name": _NAME, "url": {"type": "string", "format": "uri", "minLength": 8,
                                   "maxLength": WEBHOOK_URL_MAX},
            "events": {"type": "array", "maxItems": len(WEBHOOK_EVENTS),
                       "items": {"enum": list(WEBHOOK_EVENTS)}},
            "active": {"type": "boolean"},
            "secret": _text(api_webhooks.SECRET_MIN, api_webhooks.SECRET_MAX)}
BODIES.update({"create_webhook": _obj("name", "url", **_WEBHOOK),
               "update_webhook": _obj(**_WEBHOOK), "redeliver_delivery": _obj()})
# Operations whose body is a file, not JSON.
RAW_BODIES = frozenset({"upload_attachment", "upload_image", "visitor_upload", "post_file"})
# Writes that read no body.
NO_BODY = frozenset({"logout", "promote_conversation", "archive_article", "test_mailbox"})


_PAGE_PARAM = {"type": "string", "minLength": 1, "maxLength": 200}
_ANY_JSON: dict[str, Any] = {}
# What routes outside the JSON API answer (pages, the help centre, probes, metrics).
_MEDIA = {"/kb/": "text/html", "/c/": "text/html", "/metrics": "text/plain"}


def _response(route: Route, method: str) -> dict[str, Any]:
    """The answers an operation may give: its declared 2xx (``validate.described``: the schema
    of the record it answers) or any JSON, the API's error shape for 4xx, 503 when a store
    is away; pages also redirect."""
    endpoint = route.endpoint
    schema = getattr(endpoint, "api_response", None) or _ANY_JSON
    status = str(getattr(endpoint, "api_status", 200)) if schema is not _ANY_JSON else "2XX"
    media = next((m for prefix, m in _MEDIA.items() if route.path.startswith(prefix)),
                 "application/json" if route.path.startswith(("/api/", "/healthz", "/readyz"))
                 else "text/html")
    ok: dict[str, Any] = {"description": "OK", "content": {media: {"schema": schema}}}
    error = {"description": "Error", "content": {"application/json": {"schema": _ERROR}}}
    if method == "OPTIONS":
        return {"204": {"description": "CORS preflight"}, "4XX": error, "503": error}
    out = {status: ok, "4XX": error, "503": error}
    if status != "2XX":
        out["2XX"] = {"description": "OK"}
    if media == "text/html":
        out["3XX"] = {"description": "Redirect"}
    return out


def request_body(route: Route) -> dict[str, Any] | None:
    """The body schema: the endpoint's own ``validate.Body`` when it has one (the definition
    the handler reads with), else this module's table; None for operations without one."""
    body = getattr(route.endpoint, "api_body", None)
    if body is not None:
        schema: dict[str, Any] = body.schema()
        return schema
    return BODIES.get(route.name)


def openapi_document(routes: list[BaseRoute], title: str = "Switchboard API") -> dict[str, Any]:
    """Every HTTP route of ``routes`` (WebSockets: the AsyncAPI document, realtime.asyncapi)."""
    paths: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for route in routes:
        if not isinstance(route, Route):
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        params = [{"name": n, "in": "path", "required": True,
                   "schema": _ID if f"{{{n}:int}}" in route.path else _PAGE_PARAM}
                  for n in re.findall(r"\{(\w+)(?::\w+)?\}", route.path)]
        params += [{"name": n, "in": "query", "required": False, "schema": schema}
                   for n, schema in QUERIES.get(route.name, {}).items()]
        for method in sorted((route.methods or set()) - {"HEAD"}):
            doc = (route.endpoint.__doc__ or route.name.replace("_", " ")).strip()
            op_id = route.name
            if op_id in seen:  # shared handler names (pages): made unique by the path
                op_id = f"{route.name}_{method.lower()}{re.sub(r'[^a-z0-9]+', '_', path)}"
            seen.add(op_id)
            op: dict[str, Any] = {
                "operationId": op_id,
                "summary": doc.splitlines()[0],
                "parameters": params,
                "responses": _response(route, method),
            }
            body = request_body(route)
            if route.name in RAW_BODIES:
                op["requestBody"] = {"required": True, "content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}}}}
            elif method in {"POST", "PATCH", "PUT"} and route.name not in NO_BODY:
                op["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": body if body is not None else {"type": "object"}}}}
            if path.startswith("/api/") and path != "/api/auth/login":
                op["security"] = [{"session": []}]
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1",
                 "description": "HTTP API. The WebSocket frames are /api/asyncapi.json."},
        "paths": paths,
        "components": {"securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "sb_session",
                        "description": "Writes also need the X-CSRF-Token header from login."}
        }},
    }


def description_routes(routes: list[BaseRoute], asyncapi: dict[str, Any]) -> list[BaseRoute]:
    """``/api/openapi.json`` over ``routes`` (the whole app's) and ``/api/asyncapi.json``."""
    documents: dict[str, dict[str, Any]] = {"asyncapi": asyncapi}
    own: list[BaseRoute] = [
        Route(f"/api/{name}.json", _serve(documents, name), methods=["GET"], name=name)
        for name in ("openapi", "asyncapi")]
    documents["openapi"] = openapi_document([*routes, *own])
    return own


def _serve(documents: dict[str, dict[str, Any]], name: str
           ) -> Callable[[Request], Awaitable[Response]]:
    async def serve(_: Request) -> Response:
        """The API description (OpenAPI for HTTP, AsyncAPI for the WebSocket frames)."""
        return JSONResponse(documents[name])

    return serve


def desk_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = [*api_auth.routes, *api_oidc.routes, *api_admin.routes,
                               *api_mailboxes.routes,
                               *api_search.routes, *api_customer.routes, *api_tickets.routes,
                               *api_conversations.routes,
                               *kb_api.routes, *api_sla.routes, *api_rules.routes,
                               *api_attachments.routes, *kb_assist.routes,
                               *api_reports.routes, *api_planning.routes,
                               *api_invitations.routes, *api_work.routes,
                               *api_webhooks.routes, *api_lookup.routes]
    return routes

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
    api_field_visits,
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
)
from desk.http import JSONResponse
from desk.kb import api as kb_api
from desk.kb import api_assist as kb_assist
from desk.limits import (
    EMAIL_MAX,
    ID_MAX,
    ID_MIN,
    NAME_MAX,
    PRIORITY_MAX,
)
from desk.models import (
    CHANNELS,
    FACT_KINDS,
    STATUSES,
    VISIT_STATUSES,
)
from desk.search_query import (
    FIELD_NAME_MAX,
    FIELD_VALUE_MAX,
    LIMIT_MAX,
    TEXT_MAX,
    VALUES_MAX,
)

_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}}}},
}
_ID = {"type": "integer", "minimum": ID_MIN, "maximum": ID_MAX}


def _text(lo: int, hi: int) -> dict[str, Any]:
    return {"type": "string", "minLength": lo, "maxLength": hi}


_FIELD = f"^[A-Za-z0-9_.-]{{1,{FIELD_NAME_MAX}}}:.{{0,{FIELD_VALUE_MAX}}}$"


def _many(item: dict[str, Any]) -> dict[str, Any]:
    """A repeatable query parameter (``status=a&status=b``)."""
    return {"type": "array", "items": item, "maxItems": VALUES_MAX}


_LANG = {"type": "string", "pattern": "^[a-z]{2,3}(-[a-z0-9]{2,4})?$"}
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
_REPORT_RANGE_SPAN = {
    "from": {"type": "string", "maxLength": 40,
             "description": "YYYY-MM-DD (midnight in tz) or ISO 8601"},
    "to": {"type": "string", "maxLength": 40, "description": "exclusive; as from"},
    "tz": _text(1, 64)}
_REPORT_RANGE = {
    **_REPORT_RANGE_SPAN, "agent_id": _ID, "group_id": _ID, "channel": {"enum": list(CHANNELS)},
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
QUERIES["list_visits"] = {**_REPORT_RANGE_SPAN, "technician_id": {
    "type": "string", "pattern": "^(me|[0-9]{1,9})$"}, "status": {"enum": list(VISIT_STATUSES)}}
QUERIES["print_order"] = {"tz": _text(1, 64)}
QUERIES["oidc_start"] = {"next": _text(1, 500)}
QUERIES["oidc_callback"] = {"code": _text(1, 2000), "state": _text(1, 200),
                            "error": _text(1, 100)}
# Operations whose body is a file, not JSON.
RAW_BODIES = frozenset({"upload_attachment", "upload_image", "visitor_upload", "post_file"})
# Writes that read no body.
NO_BODY = frozenset({"logout", "promote_conversation", "archive_article", "test_mailbox",
                     "redeliver_delivery"})


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
    """The body schema: the endpoint's own ``validate.Body`` (``validate.described``, the
    definition the handler reads with); None for operations without one."""
    body = getattr(route.endpoint, "api_body", None)
    return None if body is None else dict(body.schema())


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
                               *api_field_visits.routes,
                               *api_webhooks.routes, *api_lookup.routes]
    return routes

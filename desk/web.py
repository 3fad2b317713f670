"""The desk's HTTP surface: every API route plus a generated OpenAPI description."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from desk import api_admin, api_auth, api_conversations, api_mailboxes
from desk.http import JSONResponse

_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}}}},
}


def openapi_document(routes: list[BaseRoute], title: str = "Switchboard API") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route) or not route.path.startswith("/api/"):
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "integer"}}
                  for n in re.findall(r"\{(\w+)\}", path)]
        for method in sorted((route.methods or set()) - {"HEAD"}):
            doc = (route.endpoint.__doc__ or route.name.replace("_", " ")).strip()
            op: dict[str, Any] = {
                "operationId": f"{route.name}",
                "summary": doc.splitlines()[0],
                "parameters": params,
                "responses": {
                    "200": {"description": "OK"},
                    "4XX": {"description": "Error",
                            "content": {"application/json": {"schema": _ERROR}}},
                },
            }
            if method in {"POST", "PATCH", "PUT"}:
                op["requestBody"] = {"content": {"application/json": {"schema": {
                    "type": "object"}}}}
            if path != "/api/auth/login":
                op["security"] = [{"session": []}]
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "paths": paths,
        "components": {"securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "sb_session",
                        "description": "Writes also need the X-CSRF-Token header from login."}
        }},
    }


def desk_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = [*api_auth.routes, *api_admin.routes, *api_mailboxes.routes,
                               *api_conversations.routes]
    document = openapi_document(routes)

    async def openapi(_: Request) -> Response:
        return JSONResponse(document)

    return [*routes, Route("/api/openapi.json", openapi, methods=["GET"])]

"""The web process: Starlette app with the HTTP API, health checks, static UI and WebSockets.

``create_app(settings)`` is the only entry point; everything the handlers need hangs off
``app.state`` (settings, engine, session maker, Redis client, the Hub), built in the lifespan.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from desk.catalogues import shipped
from desk.db import make_engine, make_sessionmaker
from desk.errors import DeskError, Unavailable
from desk.hooks import DeskHooks
from desk.http import Deps, JSONResponse, desk_error_response, error_response, status_code
from desk.kb import pages as kb_pages
from desk.metrics import Metrics
from desk.settings import Settings
from desk.web import description_routes, desk_routes
from realtime import asyncapi
from realtime.client_limits import kb_limited
from realtime.endpoints import routes as hub_routes
from realtime.kb_http import kb_routes
from realtime.lookup_http import lookup_routes
from realtime.metrics_http import HttpMetrics, metrics_routes, route_templates
from realtime.portal_http import portal_routes
from realtime.public_files import file_routes
from realtime.public_http import public_routes
from realtime.runtime import running
from realtime.visit_beacon import routes as beacon_routes
from routing import connect

log = logging.getLogger("switchboard.web")

STATIC_DIR = Path(__file__).resolve().parent.parent / "widget" / "static"


class SecurityHeaders:
    """nosniff everywhere, no framing of the console, no referrer leaks."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"same-origin"))
                if not path.startswith(("/static/widget", "/demo")):
                    headers.append((b"x-frame-options", b"DENY"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class InternalErrors:
    """500 is a bug, but it still answers like the API: JSON ``{"error": {"code": "internal",
    ...}}`` (inside SecurityHeaders, so with the usual headers), never a traceback. Every
    response carries ``X-Request-Id``; the log line of a failure names the same id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        started = False

        async def tagged(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        except Exception:
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"),
                          extra={"request_id": request_id})
            if started:
                raise  # half a response is out: only dropping the connection is left
            response = error_response(500, "internal",
                                      f"internal error (request {request_id})")
            await response(scope, receive, tagged)


async def _http_error(_: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, method not allowed) in the API's error shape."""
    assert isinstance(exc, HTTPException)
    response = error_response(exc.status_code, status_code(exc.status_code), exc.detail)
    response.headers.update(exc.headers or {})
    return response


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    state = request.app.state
    checks: dict[str, str] = {}
    try:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; say which
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await state.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)


async def unavailable(request: HTTPConnection, exc: Exception) -> Response:
    """Redis down (after the client's retries) or the routing state not rebuilt yet: a 503 the
    caller may retry, never a 500. A DeskError escaping a handler gets its own status."""
    if isinstance(exc, DeskError):
        return desk_error_response(exc)
    log.warning("%s %s: redis unavailable (%r)", request.scope.get("method", "WS"),
                request.url.path, exc)
    return desk_error_response(Unavailable("a service is briefly unavailable; retry shortly"))


EXCEPTION_HANDLERS = {RedisConnectionError: unavailable, RedisTimeoutError: unavailable,
                      DeskError: unavailable}


def _page(name: str) -> Route:
    async def page(_: Request) -> Response:
        return RedirectResponse(f"/static/{name}.html")

    return Route(f"/{name}", page, methods=["GET"])


def create_app(settings: Settings, hooks: DeskHooks | None = None,
               metrics: Metrics | None = None) -> Starlette:
    """``metrics``: the process's series (desk.metrics); made here when not given, so one
    per process either way (``serve`` calls this once per process)."""
    if settings.redis_url is None:
        raise ValueError("the web app needs REDIS_URL (the CLI starts an embedded Redis)")
    metrics = metrics or Metrics.build(settings, "web")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        shipped()  # the message catalogues parse at start-up: a broken one stops it here
        engine = make_engine(settings)
        sm = make_sessionmaker(engine)
        redis = connect.async_client(settings.redis_url or "", max_connections=64, wait_s=10)
        app.state.settings = settings
        app.state.metrics = metrics
        app.state.engine = engine
        app.state.sm = sm
        app.state.redis = redis
        app.state.deps = Deps(settings=settings, sm=sm, hooks=hooks or DeskHooks())
        # --- realtime: hub start-up (owned by the realtime package) -----------------------
        async with _realtime_lifespan(app, settings):
            yield
        # --- end realtime -----------------------------------------------------------------
        await redis.aclose()
        await engine.dispose()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        *desk_routes(),
        *(Route(r.path, kb_limited(r.endpoint), methods=r.methods, name=r.name)
          for r in kb_pages.routes() if isinstance(r, Route)),
        *_realtime_routes(settings),
        *metrics_routes(),
        _page("console"),
        _page("supervisor"),
        _page("admin"),
        _page("reports"),
        _page("demo"),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR, check_dir=False), name="static"),
    ]
    routes += description_routes(routes, asyncapi.document())
    return Starlette(routes=routes, lifespan=lifespan,
                     middleware=[Middleware(HttpMetrics, metrics=metrics,
                                            templates=route_templates(routes)),
                                 Middleware(SecurityHeaders), Middleware(InternalErrors)],
                     exception_handlers={**EXCEPTION_HANDLERS, HTTPException: _http_error})


# --- realtime integration points (the realtime package fills these in) --------------------


@contextlib.asynccontextmanager
async def _realtime_lifespan(app: Starlette, settings: Settings) -> AsyncIterator[None]:
    async with running(app, settings):
        yield


def _realtime_routes(settings: Settings) -> list[BaseRoute]:
    return [*public_routes(), *beacon_routes(), *portal_routes(), *file_routes(), *kb_routes(),
            *lookup_routes(), *hub_routes()]

"""Request plumbing shared by the HTTP API: JSON in/out, errors, the caller, CSRF.

Every failure becomes ``{"error": {"code": ..., "message": ...}}`` with a 4xx status; nothing
internal leaks and no handler returns a 500 for bad input.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk.auth import COOKIE_NAME, Principal, csrf_ok, resolve_session, session_id_from_cookie
from desk.db import SessionMaker
from desk.errors import (
    AuthError,
    Conflict,
    DeskError,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unavailable,
)
from desk.hooks import DeskHooks
from desk.limits import ID_MAX, ID_MIN, is_id
from desk.models import Base
from desk.settings import Settings
from desk.validate import Body, described

MAX_BODY = 256 * 1024
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True, slots=True)
class Deps:
    """What handlers need, put on ``app.state.deps`` by the app factory."""

    settings: Settings
    sm: SessionMaker
    hooks: DeskHooks


def deps(request: Request) -> Deps:
    value: Deps = request.app.state.deps
    return value


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None,
                   field: str | None = None) -> JSONResponse:
    error = {"code": code, "message": message, **({"field": field} if field else {})}
    return JSONResponse({"error": error}, status_code=status,
                        headers={"Cache-Control": "no-store", **(headers or {})})


_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large",
          415: "unsupported_type", 422: "invalid", 429: "rate_limited",
          503: "unavailable"}


def status_code(status: int) -> str:
    """The ``error.code`` for an HTTP status."""
    return _CODES.get(status, "internal" if status >= 500 else "error")


def desk_error_response(exc: DeskError) -> JSONResponse:
    # Both say when to come back: a client (or proxy) waits that long instead of hammering.
    headers = ({"Retry-After": str(exc.retry_after_s)}
               if isinstance(exc, Unavailable | RateLimited) else None)
    field = exc.field if isinstance(exc, InvalidInput) else None
    return error_response(exc.status, status_code(exc.status), exc.message, headers, field)


async def read_bounded(request: Request, limit: int) -> bytes | None:
    """The body, or None once it is past ``limit`` bytes, or says it will be (a declared
    length is believed before reading, a wrong one never: the stream is counted too)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def read_json(request: Request) -> dict[str, Any]:
    if "json" not in request.headers.get("content-type", ""):
        raise InvalidInput("send a JSON object with Content-Type: application/json")
    body = await read_bounded(request, MAX_BODY)
    if body is None:
        raise InvalidInput(f"request body larger than {MAX_BODY} bytes")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("request body must be a JSON object")
    return data


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def current_principal(request: Request) -> Principal:
    """The logged-in agent; enforces CSRF on cookie-authenticated writes."""
    d = deps(request)
    sid = session_id_from_cookie(d.settings, request.cookies.get(COOKIE_NAME))
    principal = await resolve_session(d.sm, sid) if sid else None
    if principal is None:
        raise AuthError("log in first")
    if request.method not in SAFE_METHODS and not csrf_ok(
        principal, request.headers.get("x-csrf-token")
    ):
        raise Forbidden("missing or wrong X-CSRF-Token header")
    return principal


async def require_admin(request: Request) -> Principal:
    principal = await current_principal(request)
    if not principal.is_admin:
        raise Forbidden("admins only")
    return principal


Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T", bound=Base)


def api(handler: Handler) -> Handler:
    """Wrap a handler so DeskErrors and constraint violations become clean 4xx answers."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except DeskError as exc:
            return desk_error_response(exc)
        except IntegrityError:
            return desk_error_response(Conflict("conflicts with an existing record"))

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


async def get_or_404(s: AsyncSession, model: type[T], obj_id: int, what: str | None = None) -> T:
    """The record, or NotFound naming it (``what``; by default its table's singular)."""
    obj = await s.get(model, obj_id)
    if obj is None:
        name = what or str(model.__tablename__)[:-1]
        raise NotFound(f"{name} {obj_id} not found")
    return obj


async def commit_unique(s: AsyncSession, what: str) -> None:
    """Commit; a unique name already taken is a Conflict saying so (the session rolled back)."""
    try:
        await s.commit()
    except IntegrityError:
        await s.rollback()
        raise Conflict(f"a {what} with this name exists already") from None


def path_int(request: Request, name: str) -> int:
    """The record id in the path; one outside the id columns' range names nothing (404)."""
    raw = request.path_params.get(name)
    if not is_id(raw):
        raise NotFound(f"no record has {name} {str(raw)[:40]}")
    assert isinstance(raw, int)
    return raw


def query_int(request: Request, name: str, *, lo: int = ID_MIN,
              hi: int = ID_MAX) -> int | None:
    """An integer query parameter within [lo, hi] (by default: an id, desk.limits)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"query parameter {name} must be an integer") from None
    if not lo <= value <= hi:
        raise InvalidInput(f"query parameter {name} must be between {lo} and {hi}")
    return value


# --- the admin CRUD of a kind of record --------------------------------------------------


Apply = Callable[[AsyncSession, Any, dict[str, Any], bool], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class AdminCrud:
    """The four handlers of ``admin_crud`` (create and update None without an ``apply``)."""

    index: Handler
    create: Handler | None
    update: Handler | None
    delete: Handler

    def routes(self, path: str) -> list[Route]:
        """GET and POST ``path``, PATCH and DELETE ``path/{id}``, of the handlers there are."""
        pairs: list[tuple[str, str, Handler | None]] = [
            (path, "GET", self.index), (path, "POST", self.create),
            (f"{path}/{{id:int}}", "PATCH", self.update),
            (f"{path}/{{id:int}}", "DELETE", self.delete)]
        return [Route(p, h, methods=[m]) for p, m, h in pairs if h is not None]


def admin_crud(model: type[T], noun: str, plural: str, view: Callable[[T, Any], Any], *,
               order_by: tuple[Any, ...], apply: Apply | None = None,
               bodies: tuple[Body, Body] | None = None, docs: tuple[str, str] = ("", ""),
               guard: Callable[[AsyncSession, T], Awaitable[None]] | None = None) -> AdminCrud:
    """List, create, update and delete records of ``model``, admins only. ``apply(s, row,
    data, partial)`` checks the body onto the row (``partial`` on update) and what it returns
    goes to ``view(row, it)``, the answer; a name already taken is a Conflict naming
    ``noun``; ``guard`` may refuse a delete. ``bodies`` (create, update) describe the writes;
    ``docs`` are their summaries; ``order_by`` the list's order. The handlers are named
    list_<plural>, create_<noun>, update_<noun> and delete_<noun> (the operation ids)."""

    async def listed(request: Request) -> Response:
        await require_admin(request)
        async with deps(request).sm() as s:
            rows = await s.scalars(select(model).order_by(*order_by))
            return JSONResponse([view(r, None) for r in rows])

    async def create(request: Request) -> Response:
        assert apply is not None
        await require_admin(request)
        data = await read_json(request)
        async with deps(request).sm() as s:
            row = model()
            shown = await apply(s, row, data, False)
            s.add(row)
            await commit_unique(s, noun)
            return JSONResponse(view(row, shown), status_code=201)

    async def update(request: Request) -> Response:
        assert apply is not None
        await require_admin(request)
        data = await read_json(request)
        async with deps(request).sm() as s:
            row = await get_or_404(s, model, path_int(request, "id"), noun)
            shown = await apply(s, row, data, True)
            await commit_unique(s, noun)
            return JSONResponse(view(row, shown))

    async def delete(request: Request) -> Response:
        await require_admin(request)
        async with deps(request).sm() as s:
            row = await get_or_404(s, model, path_int(request, "id"), noun)
            if guard is not None:
                await guard(s, row)
            await s.delete(row)
            await s.commit()
        return Response(status_code=204)

    def named(handler: Handler, name: str, doc: str = "") -> Handler:
        handler.__name__, handler.__doc__ = name, doc or None
        return api(handler)

    made = AdminCrud(named(listed, f"list_{plural}"), None, None,
                     named(delete, f"delete_{noun}"))
    if apply is None:
        return made
    create_body, update_body = bodies or (None, None)
    return AdminCrud(
        made.index, described(create_body, status=201)(named(create, f"create_{noun}", docs[0])),
        described(update_body)(named(update, f"update_{noun}", docs[1])), made.delete)

"""Login, logout, whoami and password change over HTTP."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import auth, validate
from desk.errors import InvalidInput
from desk.http import JSONResponse, api, client_address, current_principal, deps, read_json
from desk.settings import Settings


def _principal_json(p: auth.Principal) -> dict[str, object]:
    return {
        "id": p.agent_id,
        "display_name": p.display_name,
        "role": p.role,
        "group_ids": sorted(p.group_ids),
        "csrf_token": p.csrf_token,
    }


def _given_password(data: dict[str, Any], key: str) -> str:
    """Any password as typed (a login checks it, not its strength)."""
    value = data.get(key)
    if not isinstance(value, str) or not 1 <= len(value) <= auth.PASSWORD_MAX:
        raise InvalidInput(f"{key} is required", key)
    return value


_GIVEN = {"type": "string", "minLength": 1, "maxLength": auth.PASSWORD_MAX}
LOGIN = validate.Body({"email": validate.Text(254),
                       "password": validate.Custom(_given_password, _GIVEN)},
                      required=("email", "password"))
PASSWORD_CHANGE = validate.Body({"old_password": validate.Custom(_given_password, _GIVEN),
                                 "new_password": validate.Custom(_given_password, _GIVEN)},
                                required=("old_password", "new_password"))


@validate.described(LOGIN)
@api
async def login(request: Request) -> Response:
    """Log in with email and password; sets the session cookie."""
    d = deps(request)
    data = await read_json(request)
    email = LOGIN.read(data, "email")
    password = LOGIN.read(data, "password")
    cookie, principal = await auth.login(d.sm, d.settings, email, password,
                                         client_address(request))
    response = JSONResponse(_principal_json(principal))
    set_session_cookie(response, d.settings, cookie)
    return response


def set_session_cookie(response: Response, settings: Settings, cookie: str) -> None:
    response.set_cookie(auth.COOKIE_NAME, cookie, max_age=settings.session_max_age_s,
                        httponly=True, samesite="strict",
                        secure=settings.public_url.startswith("https://"), path="/")


@api
async def logout(request: Request) -> Response:
    """End this session everywhere (open sockets of it are closed)."""
    d = deps(request)
    principal = await current_principal(request)
    await auth.logout(d.sm, principal.session_id)
    await d.hooks.session_ended(principal.agent_id, principal.session_id)
    response = JSONResponse({"ok": True})
    response.delete_cookie(auth.COOKIE_NAME, path="/")
    return response


@api
async def me(request: Request) -> Response:
    """The logged-in agent, with the CSRF token to send on writes."""
    return JSONResponse(_principal_json(await current_principal(request)))


@validate.described(PASSWORD_CHANGE)
@api
async def change_password(request: Request) -> Response:
    """Change my password; ends every session of mine, this one included."""
    d = deps(request)
    principal = await current_principal(request)
    data = await read_json(request)
    old = PASSWORD_CHANGE.read(data, "old_password")
    new = PASSWORD_CHANGE.read(data, "new_password")  # its strength: auth.change_password
    await auth.change_password(d.sm, principal.agent_id, old, new)
    await d.hooks.session_ended(principal.agent_id, None)
    response = JSONResponse({"ok": True})
    response.delete_cookie(auth.COOKIE_NAME, path="/")
    return response


routes = [
    Route("/api/auth/login", login, methods=["POST"]),
    Route("/api/auth/logout", logout, methods=["POST"]),
    Route("/api/auth/me", me, methods=["GET"]),
    Route("/api/auth/password", change_password, methods=["POST"]),
]

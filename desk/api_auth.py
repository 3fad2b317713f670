"""Login, logout, whoami and password change over HTTP."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import auth, validate
from desk.errors import InvalidInput
from desk.http import JSONResponse, api, client_address, current_principal, deps, read_json


def _principal_json(p: auth.Principal) -> dict[str, object]:
    return {
        "id": p.agent_id,
        "display_name": p.display_name,
        "role": p.role,
        "group_ids": sorted(p.group_ids),
        "csrf_token": p.csrf_token,
    }


@api
async def login(request: Request) -> Response:
    """Log in with email and password; sets the session cookie."""
    d = deps(request)
    data = await read_json(request)
    email = validate.required_text(data, "email", max_len=254)
    password = data.get("password")
    if not isinstance(password, str) or not 1 <= len(password) <= auth.PASSWORD_MAX:
        raise InvalidInput("password is required")
    cookie, principal = await auth.login(d.sm, d.settings, email, password,
                                         client_address(request))
    response = JSONResponse(_principal_json(principal))
    response.set_cookie(
        auth.COOKIE_NAME,
        cookie,
        max_age=d.settings.session_max_age_s,
        httponly=True,
        samesite="strict",
        secure=d.settings.public_url.startswith("https://"),
        path="/",
    )
    return response


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


@api
async def change_password(request: Request) -> Response:
    """Change my password; ends every session of mine, this one included."""
    d = deps(request)
    principal = await current_principal(request)
    data = await read_json(request)
    old, new = data.get("old_password"), data.get("new_password")
    if not isinstance(old, str) or not isinstance(new, str):
        raise InvalidInput("old_password and new_password are required strings")
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

"""Agent single sign-on over HTTP (desk.oidc): where the login page learns it is offered, the
start that sends the browser to the issuer, and the callback it comes back to.

The callback answers a small page that moves on to the console rather than a redirect: the
session cookie is SameSite=Strict, and a browser does not send it on a navigation that a
cross-site redirect chain (the issuer's) started; the page's own navigation is same-site.
"""

from __future__ import annotations

import html
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from desk import auth, oidc
from desk.api_auth import set_session_cookie
from desk.errors import AuthError, NotFound
from desk.http import JSONResponse, api, deps
from desk.settings import Settings


def _require(settings: Settings) -> None:
    if not settings.oidc_enabled:
        raise NotFound("single sign-on is not set up")


def _move_on(settings: Settings, to: str) -> HTMLResponse:
    target = html.escape(to, quote=True)
    response = HTMLResponse(
        f'<!doctype html><meta http-equiv="refresh" content="0;url={target}">'
        f'<title>Signing in…</title><a href="{target}">Continue</a>',
        headers={"cache-control": "no-store", "referrer-policy": "no-referrer"})
    response.delete_cookie(oidc.COOKIE, path=oidc.COOKIE_PATH)
    return response


@api
async def sso_options(request: Request) -> Response:
    """Which sign-in methods the login page offers besides the password."""
    return JSONResponse({"oidc": deps(request).settings.oidc_enabled})


@api
async def oidc_start(request: Request) -> Response:
    """Go to the identity provider (``next``: the page to come back to)."""
    settings = deps(request).settings
    _require(settings)
    flow = oidc.new_flow(request.query_params.get("next"))
    doc = await oidc.discover(settings)
    response = RedirectResponse(oidc.authorization_url(settings, doc, flow), status_code=302)
    # Lax, not Strict: it must come back on the issuer's top-level redirect to the callback.
    response.set_cookie(oidc.COOKIE, oidc.dump_flow(settings, flow), max_age=oidc.FLOW_TTL_S,
                        httponly=True, samesite="lax", path=oidc.COOKIE_PATH,
                        secure=settings.public_url.startswith("https://"))
    return response


@api
async def oidc_callback(request: Request) -> Response:
    """Where the identity provider sends the browser back with a code."""
    d = deps(request)
    _require(d.settings)
    flow = oidc.load_flow(d.settings, request.cookies.get(oidc.COOKIE))
    back = flow.next if flow else oidc.safe_next(None)
    q = request.query_params
    try:
        if q.get("error"):
            raise AuthError(f"the sign-in provider said: {q['error'][:100]}")
        claims = await oidc.finish(d.settings, flow, q.get("code"), q.get("state"))
        async with d.sm() as s:
            agent = await oidc.agent_for(s, d.settings, claims)
            cookie, _ = await auth.open_session(s, d.settings, agent)
    except AuthError as exc:
        sep = "&" if "?" in back else "?"
        return _move_on(d.settings, f"{back}{sep}sso_error={quote(str(exc))}")
    response = _move_on(d.settings, back)
    set_session_cookie(response, d.settings, cookie)
    return response


routes = [
    Route("/api/auth/sso", sso_options, methods=["GET"]),
    Route("/api/auth/oidc/start", oidc_start, methods=["GET"]),
    Route("/api/auth/oidc/callback", oidc_callback, methods=["GET"]),
]

"""Admin API for a site's external lookup provider (``desk.lookup_rules``; docs/lookup.md).

``GET|PUT|DELETE /api/sites/{id}/lookup``. The secret signing the requests is generated unless
given, shown whole once (in the answer that set it) and then only by its last four characters;
a change without a secret keeps the one in place.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import lookup_rules, validate
from desk.http import JSONResponse, api, deps, get_or_404, path_int, read_json, require_admin
from desk.lookup_rules import CACHE_TTL_S, SECRET_MAX, SECRET_MIN, TIMEOUT_MS, URL_MAX
from desk.models import Site

LOOKUP = validate.Body({
    "url": validate.Text(URL_MAX),
    "secret": validate.Secret(SECRET_MAX, SECRET_MIN),
    "timeout_ms": validate.Integer(TIMEOUT_MS[0], TIMEOUT_MS[1]),
    "cache_ttl_s": validate.Integer(CACHE_TTL_S[0], CACHE_TTL_S[1])}, required=("url",))


def lookup_json(p: lookup_rules.Provider | None, *, with_secret: bool = False) -> dict[str, Any]:
    if p is None:
        return {"configured": False}
    out: dict[str, Any] = {"configured": True, "url": p.url, "timeout_ms": p.timeout_ms,
                           "cache_ttl_s": p.cache_ttl_s, "secret_hint": "…" + p.secret[-4:]}
    if with_secret:
        out["secret"] = p.secret
    return out


@api
async def get_lookup(request: Request) -> Response:
    await require_admin(request)
    async with deps(request).sm() as s:
        site = await get_or_404(s, Site, path_int(request, "id"), "site")
        return JSONResponse(lookup_json(lookup_rules.stored(site.lookup)))


@validate.described(LOOKUP)
@api
async def set_lookup(request: Request) -> Response:
    """Set the site's provider: URL, timeout (ms), cache TTL (s), secret (generated if none)."""
    await require_admin(request)
    data = await read_json(request)
    given = LOOKUP.read(data, "secret")
    async with deps(request).sm() as s:
        site = await get_or_404(s, Site, path_int(request, "id"), "site")
        before = lookup_rules.stored(site.lookup)
        secret = given or (before.secret if before else secrets.token_urlsafe(32))
        provider = lookup_rules.check(data, secret)
        site.lookup = provider.as_json()
        await s.commit()
    return JSONResponse(lookup_json(provider, with_secret=before is None or given is not None))


@api
async def delete_lookup(request: Request) -> Response:
    await require_admin(request)
    async with deps(request).sm() as s:
        site = await get_or_404(s, Site, path_int(request, "id"), "site")
        site.lookup = None
        await s.commit()
    return Response(status_code=204)


routes = [
    Route("/api/sites/{id:int}/lookup", get_lookup, methods=["GET"]),
    Route("/api/sites/{id:int}/lookup", set_lookup, methods=["PUT"]),
    Route("/api/sites/{id:int}/lookup", delete_lookup, methods=["DELETE"]),
]

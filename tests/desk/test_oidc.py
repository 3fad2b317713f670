"""Agent sign-in with OpenID Connect against a small in-process issuer (a Starlette app serving
discovery, JWKS and the token endpoint, signing with a generated RSA key): the code flow with
PKCE signs a known agent in; an ID token for another audience, from another issuer, with another
nonce or expired is refused, as are a wrong state and an email the issuer does not vouch for;
it is on only where the environment sets it up."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from desk.db import SessionMaker
from desk.errors import SettingsError
from desk.models import Agent
from desk.settings import Settings
from realtime.app import create_app
from tests.support.local_http import serving

CLIENT_ID, CLIENT_SECRET = "switchboard-desk", "issuer-side secret"


@dataclass
class Issuer:
    """Issues codes; ``tamper`` changes the claims of the next ID token."""

    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={
        "kid": "k1", "use": "sig", "alg": "RS256"}))
    url: str = ""
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tamper: Callable[[dict[str, Any]], None] = lambda claims: None
    email: str = "agent@x.test"

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/jwks", self.jwks), Route("/token", self.token, methods=["POST"])])

    async def discovery(self, _: Request) -> Response:
        return JSONResponse({"issuer": self.url, "authorization_endpoint": self.url + "/auth",
                             "token_endpoint": self.url + "/token", "jwks_uri": self.url + "/jwks",
                             "response_types_supported": ["code"],
                             "code_challenge_methods_supported": ["S256"]})

    async def jwks(self, _: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    def authorize(self, url: str) -> str:
        """What the issuer's login page does: a code for the request, the redirect back."""
        q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert q["client_id"] == CLIENT_ID and q["code_challenge_method"] == "S256"
        assert "openid" in q["scope"].split()
        code = f"code-{len(self.codes)}"
        self.codes[code] = q
        return f"{q['redirect_uri']}?code={code}&state={q['state']}"

    async def token(self, request: Request) -> Response:
        form = await request.form()
        basic = base64.b64decode(request.headers["authorization"].split()[1]).decode()
        asked = self.codes.pop(str(form["code"]), None)
        verifier = str(form["code_verifier"]).encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if basic != f"{CLIENT_ID}:{CLIENT_SECRET}" or asked is None or \
                challenge.decode() != asked["code_challenge"] or \
                form["redirect_uri"] != asked["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.url, "aud": CLIENT_ID, "sub": "u-1",
                                  "nonce": asked["nonce"], "iat": now, "exp": now + 300,
                                  "email": self.email, "email_verified": True, "name": "Ana B"}
        self.tamper(claims)
        token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
        return JSONResponse({"access_token": "at", "token_type": "Bearer", "id_token": token})


@pytest.fixture
async def issuer() -> AsyncIterator[Issuer]:
    i = Issuer()
    async with serving(i.app()) as base:
        i.url = base
        yield i


@pytest.fixture
async def desk(settings: Settings, engine: AsyncEngine,
               issuer: Issuer) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.with_(oidc_issuer=issuer.url, oidc_client_id=CLIENT_ID,
                                    oidc_client_secret=CLIENT_SECRET,
                                    public_url="http://testserver"))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://testserver") as c:
            yield c


async def _sign_in(desk: httpx.AsyncClient, issuer: Issuer, *,
                   state: str | None = None) -> httpx.Response:
    r = await desk.get("/api/auth/oidc/start", params={"next": "/supervisor"})
    assert r.status_code == 302, r.text
    assert r.headers["location"].startswith(issuer.url + "/auth?")
    back = issuer.authorize(r.headers["location"])
    if state is not None:
        back = back.rsplit("state=", 1)[0] + f"state={state}"
    return await desk.get(back.removeprefix("http://testserver"))


def _sso_error(r: httpx.Response) -> str | None:
    assert r.status_code == 200, r.text
    target = r.text.split('url=', 1)[1].split('"', 1)[0]
    q = parse_qs(urlsplit(target.replace("&amp;", "&")).query)
    return unquote(q["sso_error"][0]) if "sso_error" in q else None


async def test_the_code_flow_signs_a_known_agent_in(
        desk: httpx.AsyncClient, issuer: Issuer, org: dict[str, int]) -> None:
    assert (await desk.get("/api/auth/sso")).json() == {"oidc": True}
    r = await _sign_in(desk, issuer)
    assert _sso_error(r) is None and "/supervisor" in r.text
    me = await desk.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["id"] == org["agent"]
    # The code was used once: replaying the callback is refused.
    assert issuer.codes == {}


@pytest.mark.parametrize(("tamper", "why"), [
    (lambda c: c.update(aud="another-client"), "aud"),
    (lambda c: c.update(iss="https://evil.example"), "iss"),
    (lambda c: c.update(nonce="not-the-one-sent"), "nonce"),
    (lambda c: c.update(exp=int(time.time()) - 3600), "expired"),
    (lambda c: c.update(email_verified=False), "did not vouch"),
])
async def test_a_bad_id_token_is_refused(desk: httpx.AsyncClient, issuer: Issuer,
                                         org: dict[str, int],
                                         tamper: Callable[[dict[str, Any]], None],
                                         why: str) -> None:
    issuer.tamper = tamper
    error = _sso_error(await _sign_in(desk, issuer))
    assert error is not None and why in error.lower(), error
    assert (await desk.get("/api/auth/me")).status_code == 401


async def test_a_wrong_state_or_an_unknown_agent_is_refused(
        desk: httpx.AsyncClient, issuer: Issuer, org: dict[str, int], sm: SessionMaker) -> None:
    error = _sso_error(await _sign_in(desk, issuer, state="forged"))
    assert error is not None and "state" in error
    issuer.email = "stranger@x.test"
    error = _sso_error(await _sign_in(desk, issuer))
    assert error is not None and "no active agent" in error
    async with sm() as s:
        assert await s.scalar(select(Agent).where(Agent.email == "stranger@x.test")) is None
    assert (await desk.get("/api/auth/me")).status_code == 401


def test_sso_comes_from_the_environment(tmp_path: Path) -> None:
    base = {"SWITCHBOARD_DATA_DIR": str(tmp_path), "SWITCHBOARD_MODE": "test"}
    assert not Settings.from_env(base).oidc_enabled
    on = Settings.from_env({**base, "SWITCHBOARD_OIDC_ISSUER": "https://id.example.com/",
                            "SWITCHBOARD_OIDC_CLIENT_ID": "desk",
                            "SWITCHBOARD_OIDC_CLIENT_SECRET": "s3cret"})
    assert on.oidc_enabled and on.oidc_issuer == "https://id.example.com"
    assert "s3cret" not in repr(on) and not on.oidc_auto_create
    with pytest.raises(SettingsError, match="OIDC_ISSUER must be an https URL"):
        Settings.from_env({**base, "SWITCHBOARD_MODE": "production", "SWITCHBOARD_SECRET_KEY":
                           "x" * 40, "SWITCHBOARD_OIDC_ISSUER": "http://id.example.com"})

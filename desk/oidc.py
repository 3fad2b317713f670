"""Agent sign-in with OpenID Connect (authorization code + PKCE), beside password login.

The flow (docs/oidc.md): ``start`` draws a state, a nonce and a PKCE verifier, keeps them in a
short-lived signed cookie and sends the browser to the issuer's authorization endpoint (from its
discovery document, whose ``issuer`` must be the configured one). ``finish`` takes the code back:
the state must match the cookie's, the code is exchanged (with the verifier and the client
secret) at the token endpoint, and the ID token is checked against the issuer's JWKS — signature,
issuer, audience (our client id), nonce, expiry. The agent is the active one with the token's
email, which the issuer must say is verified; nobody else gets in unless
``SWITCHBOARD_OIDC_AUTO_CREATE`` lets the issuer's users become agents. PKCE's S256 challenge is
authlib's; the JOSE checks are joserfc's (authlib's own successor for JOSE).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.auth import hash_password
from desk.errors import AuthError
from desk.limits import EMAIL_MAX, NAME_MAX
from desk.models import Agent
from desk.settings import Settings

COOKIE = "sb_oidc"
COOKIE_PATH = "/api/auth/oidc"
FLOW_TTL_S = 600
ANSWER_MAX = 256 * 1024
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
LEEWAY_S = 60


@dataclass(frozen=True)
class Flow:
    """What the browser carries between start and finish (signed, in COOKIE)."""

    state: str
    nonce: str
    verifier: str
    next: str


def redirect_uri(settings: Settings) -> str:
    return settings.public_url + "/api/auth/oidc/callback"


def safe_next(value: str | None) -> str:
    """Only a path of this site (no scheme, no ``//host``): an open redirect otherwise."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value \
            or len(value) > 500:
        return "/console"
    return value


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="oidc-flow")


def new_flow(next_path: str | None) -> Flow:
    return Flow(state=generate_token(32), nonce=generate_token(32), verifier=generate_token(64),
                next=safe_next(next_path))


def dump_flow(settings: Settings, flow: Flow) -> str:
    return _serializer(settings).dumps([flow.state, flow.nonce, flow.verifier, flow.next])


def load_flow(settings: Settings, cookie: str | None) -> Flow | None:
    if not cookie or len(cookie) > 2000:
        return None
    try:
        value = _serializer(settings).loads(cookie, max_age=FLOW_TTL_S)
    except BadSignature:
        return None
    if not (isinstance(value, list) and len(value) == 4 and all(isinstance(v, str)
                                                                 for v in value)):
        return None
    return Flow(*value)


async def _get_json(client: httpx.AsyncClient, method: str, url: str,
                    **kw: Any) -> dict[str, Any]:
    try:
        r = await client.request(method, url, **kw)
    except httpx.HTTPError as exc:
        raise AuthError(f"the sign-in provider did not answer ({type(exc).__name__})") from None
    if len(r.content) > ANSWER_MAX or r.status_code != 200:
        raise AuthError(f"the sign-in provider answered {r.status_code} at {url}")
    try:
        data = r.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise AuthError(f"the sign-in provider's answer at {url} is not a JSON object")
    return data


def _client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=settings.outbound_timeout_s, trust_env=False)


async def discover(settings: Settings) -> dict[str, Any]:
    issuer = settings.oidc_issuer
    async with _client(settings) as c:
        doc = await _get_json(c, "GET", issuer + "/.well-known/openid-configuration")
    if doc.get("issuer") != issuer:
        raise AuthError("the sign-in provider's discovery names another issuer")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(doc.get(key), str):
            raise AuthError(f"the sign-in provider's discovery has no {key}")
    return doc


def authorization_url(settings: Settings, doc: dict[str, Any], flow: Flow) -> str:
    query = {"response_type": "code", "client_id": settings.oidc_client_id,
             "redirect_uri": redirect_uri(settings), "scope": "openid email profile",
             "state": flow.state, "nonce": flow.nonce,
             "code_challenge": create_s256_code_challenge(flow.verifier),
             "code_challenge_method": "S256"}
    sep = "&" if "?" in doc["authorization_endpoint"] else "?"
    return f"{doc['authorization_endpoint']}{sep}{urlencode(query)}"


def check_id_token(settings: Settings, raw: str, keys: dict[str, Any],
                   nonce: str) -> dict[str, Any]:
    """The ID token's claims once signature, issuer, audience, nonce and expiry hold."""
    try:
        token = jwt.decode(raw, KeySet.import_key_set(keys), algorithms=ALGORITHMS)  # type: ignore[arg-type]
        jwt.JWTClaimsRegistry(
            leeway=LEEWAY_S, iss={"essential": True, "value": settings.oidc_issuer},
            aud={"essential": True, "value": settings.oidc_client_id},
            nonce={"essential": True, "value": nonce}, exp={"essential": True},
            sub={"essential": True}).validate(token.claims)
    except (JoseError, ValueError, TypeError) as exc:
        raise AuthError(f"the ID token was refused: {exc.__class__.__name__} "
                        f"{getattr(exc, 'description', '') or exc}".strip()) from None
    return dict(token.claims)


async def finish(settings: Settings, flow: Flow | None, code: str | None,
                 state: str | None) -> dict[str, Any]:
    """The verified ID token claims for the code the issuer sent back."""
    if flow is None:
        raise AuthError("the sign-in took too long or came from elsewhere; start again")
    if not state or not secrets.compare_digest(state, flow.state):
        raise AuthError("the sign-in's state does not match; start again")
    if not code or len(code) > 2000:
        raise AuthError("the sign-in provider sent no code")
    doc = await discover(settings)
    async with _client(settings) as c:
        tokens = await _get_json(c, "POST", doc["token_endpoint"], data={
            "grant_type": "authorization_code", "code": code,
            "redirect_uri": redirect_uri(settings), "code_verifier": flow.verifier},
            auth=(settings.oidc_client_id, settings.oidc_client_secret))
        keys = await _get_json(c, "GET", doc["jwks_uri"])
    raw = tokens.get("id_token")
    if not isinstance(raw, str):
        raise AuthError("the sign-in provider sent no ID token")
    return check_id_token(settings, raw, keys, flow.nonce)


async def agent_for(s: AsyncSession, settings: Settings, claims: dict[str, Any]) -> Agent:
    """The active agent the verified email names (or a new one, when allowed)."""
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is not True:
        raise AuthError("the sign-in provider did not vouch for an email address")
    email = email.strip().lower()
    agent = await s.scalar(select(Agent).where(func.lower(Agent.email) == email))
    if agent is None and settings.oidc_auto_create and len(email) <= EMAIL_MAX:
        name = claims.get("name")
        agent = Agent(email=email, role="agent",
                      display_name=(name if isinstance(name, str) and name else email)[:NAME_MAX],
                      groups=[], skills=[],
                      # Unusable: this agent signs in through the issuer until given one.
                      password_hash=hash_password(secrets.token_urlsafe(32)))
        s.add(agent)
        await s.flush()
    if agent is None or not agent.is_active:
        raise AuthError(f"no active agent has the email {email}")
    return agent

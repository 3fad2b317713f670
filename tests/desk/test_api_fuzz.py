"""Every API route answers junk with a clean 4xx, never a 500: hand-picked junk in process (as
admin, so auth is no shield), then schemathesis against a real web process, as admin and as a
plain agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import redis.asyncio as aioredis
import requests
import schemathesis
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure
from schemathesis.core.result import Err
from sqlalchemy.ext.asyncio import AsyncEngine

from desk.auth import hash_password
from desk.conversations import create_conversation
from desk.db import SessionMaker
from desk.models import Agent, AgentGroup, CannedResponse, Site
from desk.settings import Settings
from desk.web import desk_routes
from tests.desk.conftest import PASSWORD, login
from tests.support.processes import WEBPROC, python_module, stop, wait_http, web_env

JUNK: list[object] = [
    {}, {"name": None}, {"name": 123}, {"name": ["x"]}, {"name": {"a": 1}},
    {"name": "x" * 5000}, {"name": "\x00"}, {"department_id": "1"}, {"department_id": -1},
    {"department_id": 2**70}, {"group_ids": "1,2"}, {"group_ids": [True]},
    {"skills": {"x": 11}}, {"skills": []}, {"allowed_origins": "https://x"},
    {"email": "a@b.c", "password": 5, "display_name": "x"}, {"config": []},
    {"status": "exploded"}, {"priority": 1.5}, {"body": ""}, {"visibility": "whisper", "body": "x"},
    {"policy": "random"}, {"offer_timeout_s": 0}, {"front_group_id": 99999},
]
RAW = [b"", b"null", b"[]", b"{", b"\xff\xfe", b'{"name": "\\ud800"}', b"1e999999"]


async def test_no_route_returns_500_for_junk(client: httpx.AsyncClient,
                                             org: dict[str, int]) -> None:
    csrf = await login(client, "admin@x.test")
    h = {"x-csrf-token": csrf}
    seen = 0
    for route in desk_routes():
        path = getattr(route, "path", "")
        methods = (getattr(route, "methods", None) or set()) - {"HEAD"}
        if not path.startswith("/api/") or path == "/api/auth/logout" or \
                path == "/api/auth/password":
            continue
        for id_value in ("1", "999999"):
            url = path.replace("{id:int}", id_value)
            for method in methods:
                bodies: list[tuple[bytes | None, object | None]] = [
                    *((None, j) for j in JUNK), *((r, None) for r in RAW)
                ] if method in {"POST", "PATCH"} else [(None, None)]
                for raw, js in bodies:
                    if raw is not None:
                        r = await client.request(method, url, content=raw,
                                                 headers={**h, "content-type": "application/json"})
                    else:
                        r = await client.request(method, url, json=js, headers=h)
                    seen += 1
                    assert r.status_code < 500, (method, url, raw, js, r.text)
                    if r.status_code >= 400:
                        assert r.json()["error"]["message"], (method, url)
                    # Logging in again keeps the admin session alive if a junk login ran.
                    if url == "/api/auth/login":
                        csrf = await login(client, "admin@x.test")
                        h = {"x-csrf-token": csrf}
    assert seen > 300


# --- schemathesis against a real web process ----------------------------------------------

# A fixed number of examples per operation and generation mode keeps the run bounded (about a
# minute per principal on SQLite) and, derandomized, the same on every run.
EXAMPLES = 12
# Operations that would end the fuzzing principal's own session.
SKIP = {("POST", "/api/auth/logout")}


@pytest.fixture
async def served(settings: Settings, engine: AsyncEngine, redis: aioredis.Redis,
                 tmp_path: Path) -> AsyncIterator[str]:
    """One real ``switchboard web`` process (uvicorn) on the test database and Redis."""
    env = web_env(tmp_path / "web", settings.database_url, settings.redis_url)
    proc = python_module(WEBPROC, env, tmp_path / "web.log")
    url = f"http://127.0.0.1:{env['SWITCHBOARD_PORT']}"
    try:
        await asyncio.to_thread(wait_http, url + "/readyz", proc)
        yield url
    finally:
        stop(proc)


async def _records(sm: SessionMaker, org: dict[str, int]) -> dict[str, int]:
    """Real ids for the path parameters: half the examples reach past the lookup."""
    conv = await create_conversation(sm, channel="email", department_id=org["d1"],
                                     group_id=org["ga"], subject="Fuzzed")
    async with sm() as s:
        spare = Agent(email="spare@x.test", display_name="Spare", role="agent",
                      password_hash=hash_password(PASSWORD),
                      groups=[AgentGroup(group_id=org["ga"])])
        site = Site(key="site_fuzz", name="Fuzz", allowed_origins=["https://fuzz.test"])
        canned = CannedResponse(department_id=org["d1"], shortcut="hi", title="Hi", body="Hello")
        s.add_all([spare, site, canned])
        await s.commit()
        # Agents: only the spare one, so no example demotes or disables the fuzzing principal.
        return {"departments": org["d1"], "groups": org["ga"], "agents": spare.id,
                "sites": site.id, "canned": canned.id, "conversations": conv.id}


def _problem(r: schemathesis.Response) -> str | None:
    if r.status_code >= 500:
        return f"{r.status_code} {r.text[:300]}"
    if "x-content-type-options" not in r.headers or "x-request-id" not in r.headers:
        return f"{r.status_code} without the security headers"
    if r.status_code >= 400:
        try:
            error = r.json()["error"]
            assert error["code"] and error["message"]
        except (ValueError, KeyError, TypeError, AssertionError):
            return f"{r.status_code} not in the API's error shape: {r.text[:200]}"
    return None


def _fuzz(base_url: str, document: dict[str, Any], cookie: str, csrf: str,
          known: dict[str, int], *, modes: tuple[GenerationMode, ...] = (
              GenerationMode.POSITIVE, GenerationMode.NEGATIVE), examples: int = EXAMPLES,
          checks: list[Any] | None = None) -> tuple[int, list[str]]:
    """Every operation, positive and negative examples: (requests made, problems found).
    ``checks``: schemathesis checks each answer must also pass (test_api_description)."""
    schema = schemathesis.openapi.from_dict(document)
    http = requests.Session()  # one keep-alive connection: a refusal must not break the next
    http.cookies.set("sb_session", cookie)
    headers = {"X-CSRF-Token": csrf}
    problems: list[str] = []
    sent = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        op = result.ok()
        if (op.method.upper(), op.path) in SKIP or not op.path.startswith("/api/"):
            continue  # pages and probes are in the description too
        kind = op.path.split("/")[2]
        # Free ids, and a real record's id (for agents only the spare one: a free id could
        # demote or disable the fuzzing principal itself).
        has_id = "{id}" in op.path
        strategies = [] if has_id and kind == "agents" else [
            op.as_strategy(generation_mode=m) for m in modes]
        if has_id:
            strategies += [op.as_strategy(generation_mode=m,
                                          path_parameters={"id": known.get(kind, 1)})
                           for m in modes]
        for strategy in strategies:

            @hypothesis.settings(max_examples=examples, deadline=None, database=None,
                                 derandomize=True, phases=[hypothesis.Phase.generate],
                                 suppress_health_check=list(hypothesis.HealthCheck))
            @hypothesis.given(case=strategy)
            def call(case: schemathesis.Case[Any]) -> None:
                nonlocal sent
                sent += 1
                r = case.call(base_url=base_url, session=http, headers=headers, timeout=30)
                problem = _problem(r)
                if problem is None and checks:
                    try:
                        case.validate_response(r, checks=checks)
                    except (Failure, BaseExceptionGroup) as exc:  # one failure, or several
                        problem = f"{r.status_code}: {str(exc)[:600]}"
                if problem is not None:
                    problems.append(f"{case.method} {case.formatted_path}: {problem}\n"
                                    f"  {case.as_curl_command()}")

            call()
    return sent, problems


@pytest.mark.parametrize("email", ["admin@x.test", "agent@x.test"])
async def test_fuzzed_requests_never_get_a_5xx(served: str, org: dict[str, int],
                                               sm: SessionMaker, email: str) -> None:
    known = await _records(sm, org)
    async with httpx.AsyncClient(base_url=served) as http:
        r = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        cookie, csrf = r.cookies["sb_session"], r.json()["csrf_token"]
        document = (await http.get("/api/openapi.json")).json()
    sent, problems = await asyncio.to_thread(_fuzz, served, document, cookie, csrf, known)
    assert not problems, "\n".join(problems[:20])
    assert sent > 500

from __future__ import annotations

import httpx

from desk.db import SessionMaker
from tests.desk.conftest import PASSWORD, login


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "redis": "ok"}
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_login_logout_and_me(client: httpx.AsyncClient, org: dict[str, int]) -> None:
    assert (await client.get("/api/auth/me")).status_code == 401
    await login(client, "AGENT@x.test")
    me = (await client.get("/api/auth/me")).json()
    assert me["id"] == org["agent"] and me["group_ids"] == [org["ga"]]
    set_cookie = (await client.post("/api/auth/login", json={
        "email": "agent@x.test", "password": PASSWORD})).headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie
    cookie = client.cookies.get("sb_session")
    assert cookie
    assert "password" not in str(me)
    # Writes need the CSRF header.
    assert (await client.post("/api/auth/logout")).status_code == 403
    csrf = (await client.get("/api/auth/me")).json()["csrf_token"]
    r = await client.post("/api/auth/logout", headers={"x-csrf-token": csrf})
    assert r.status_code == 200
    # The old cookie is dead even if replayed.
    client.cookies.set("sb_session", cookie)
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_bad_logins_and_rate_limit(client: httpx.AsyncClient, org: dict[str, int]) -> None:
    r = await client.post("/api/auth/login", json={"email": "agent@x.test", "password": "nope"})
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "invalid email or password"
    r2 = await client.post("/api/auth/login", json={"email": "ghost@x.test", "password": "nope"})
    assert r2.json() == r.json()
    for _ in range(10):
        await client.post("/api/auth/login", json={"email": "agent@x.test", "password": "x"})
    r = await client.post("/api/auth/login", json={"email": "agent@x.test", "password": PASSWORD})
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "60"  # the attempts are counted over a minute


async def test_password_change_revokes_sessions(
    client: httpx.AsyncClient, org: dict[str, int], settings: object
) -> None:
    csrf = await login(client, "agent@x.test")
    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    await login(other, "agent@x.test")
    r = await client.post("/api/auth/password", headers={"x-csrf-token": csrf},
                          json={"old_password": PASSWORD, "new_password": "a brand new secret"})
    assert r.status_code == 200
    assert (await other.get("/api/auth/me")).status_code == 401
    await other.aclose()
    await login(client, "agent@x.test", "a brand new secret")


async def test_malformed_bodies_get_clear_4xx(client: httpx.AsyncClient,
                                              org: dict[str, int]) -> None:
    csrf = await login(client, "admin@x.test")
    h = {"x-csrf-token": csrf}
    cases = [
        (b"not json", "application/json", 422),
        (b"[1,2]", "application/json", 422),
        (b'{"name": 5}', "application/json", 422),
        (b'{"name": "x"}', "text/plain", 422),
        (b'{"name": "' + b"x" * 300 + b'"}', "application/json", 422),
        (b'{"name": "' + b"x" * 300_000 + b'"}', "application/json", 422),
    ]
    for body, ctype, status in cases:
        r = await client.post("/api/departments", content=body,
                              headers={**h, "content-type": ctype})
        assert r.status_code == status, (body[:40], r.text)
        assert "error" in r.json()
    assert (await client.post("/api/departments", json={"name": "Sales"},
                              headers=h)).status_code == 409
    assert (await client.get("/api/departments/99999")).status_code == 404
    r = await client.post("/api/agents", headers=h, json={
        "email": "new@x.test", "display_name": "N", "password": "long enough pw",
        "group_ids": [99999]})
    assert r.status_code == 404
    r = await client.post("/api/agents", headers=h, json={
        "email": "not-an-email", "display_name": "N", "password": "long enough pw"})
    assert r.status_code == 422
    r = await client.post("/api/agents", headers=h, json={
        "email": "n@x.test", "display_name": "N", "password": "short"})
    assert r.status_code == 422


async def test_admin_crud_and_no_partial_writes(client: httpx.AsyncClient, sm: SessionMaker,
                                                org: dict[str, int]) -> None:
    csrf = await login(client, "admin@x.test")
    h = {"x-csrf-token": csrf}
    dept = (await client.post("/api/departments", headers=h, json={
        "name": "Billing", "email_address": "billing@x.test"})).json()
    group = (await client.post("/api/groups", headers=h, json={
        "department_id": dept["id"], "name": "Front", "policy": "round_robin"})).json()
    assert group["policy"] == "round_robin"
    r = await client.patch(f"/api/departments/{dept['id']}", headers=h,
                           json={"front_group_id": group["id"]})
    assert r.json()["front_group_id"] == group["id"]
    r = await client.patch(f"/api/departments/{dept['id']}", headers=h,
                           json={"front_group_id": org["ga"]})
    assert r.status_code == 422
    assert (await client.post("/api/skills", headers=h, json={"name": "german"})).status_code == 201
    agent = (await client.post("/api/agents", headers=h, json={
        "email": "zoe@x.test", "display_name": "Zoe", "password": "long enough pw",
        "group_ids": [group["id"]], "skills": {"german": 4}, "chat_capacity": 5})).json()
    assert agent["skills"] == {"german": 4} and agent["group_ids"] == [group["id"]]
    assert "password" not in agent and "password_hash" not in agent
    # An update that fails validation halfway leaves the record untouched.
    r = await client.patch(f"/api/agents/{agent['id']}", headers=h, json={
        "display_name": "Changed", "skills": {"klingon": 3}})
    assert r.status_code == 404
    same = (await client.get(f"/api/agents/{agent['id']}")).json()
    assert same["display_name"] == "Zoe"
    site = (await client.post("/api/sites", headers=h, json={
        "name": "Shop", "allowed_origins": ["https://shop.example"]})).json()
    assert site["key"].startswith("site_")
    r = await client.post("/api/sites", headers=h, json={
        "name": "Bad", "allowed_origins": ["javascript:alert(1)"]})
    assert r.status_code == 422
    # A config is checked when saved: a 422 naming the field, and nothing stored.
    bad_topic = {"topics": [{"id": "buy", "skills": {"orders": "high"}}]}
    r = await client.post("/api/sites", headers=h, json={"name": "Bad", "config": bad_topic})
    assert r.status_code == 422 and "config.topics[0].skills" in r.json()["error"]["message"]
    r = await client.patch(f"/api/sites/{site['id']}", headers=h, json={
        "name": "Renamed", "config": {"departments": [{"id": "one"}]}})
    assert r.status_code == 422 and "config.departments[0]" in r.json()["error"]["message"]
    assert [x["name"] for x in (await client.get("/api/sites")).json()] == ["Shop"]
    good = {"departments": [{"id": org["d1"], "name": "Sales"}],
            "topics": [{"id": "buy", "label": "Buying", "skills": {"german": 2}}]}
    r = await client.patch(f"/api/sites/{site['id']}", headers=h, json={"config": good})
    assert r.status_code == 200 and r.json()["config"] == good
    spec = (await client.get("/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.") and "/api/agents/{id}" in spec["paths"]


async def test_agents_see_only_their_groups(client: httpx.AsyncClient,
                                            org: dict[str, int]) -> None:
    csrf = await login(client, "agent@x.test")
    groups = (await client.get("/api/groups")).json()
    assert [g["id"] for g in groups] == [org["ga"]]
    assert (await client.get(f"/api/groups/{org['gb']}")).status_code == 403
    assert (await client.get(f"/api/departments/{org['d2']}")).status_code == 403
    assert (await client.get(f"/api/departments/{org['d1']}")).status_code == 200
    assert (await client.get(f"/api/agents/{org['admin']}")).status_code == 403
    assert (await client.post("/api/departments", headers={"x-csrf-token": csrf},
                              json={"name": "Mine"})).status_code == 403
    assert (await client.get(f"/api/conversations?group_id={org['gb']}")).status_code == 403

"""Every API route answers junk with a clean 4xx, never a 500 (as admin, so auth is no shield)."""

from __future__ import annotations

import httpx

from desk.web import desk_routes
from tests.desk.conftest import login

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

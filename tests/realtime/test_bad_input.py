"""Bad input against a real web process: ids past what the columns hold, cursors past the end,
and every kind of bad frame. Each is answered (4xx JSON, error frame) and the connection goes on.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx

from desk.db import SessionMaker
from desk.limits import ID_MAX
from desk.models import Conversation, Site
from desk.web import desk_routes
from realtime import protocol as p
from realtime.session import ROLE_FRAMES, Role
from tests.realtime.conftest import (
    CONSOLE,
    SITE_KEY,
    Client,
    Clients,
    Org,
    WebFactory,
    accepted_chat,
    login,
    update_row,
)
from tests.support.redis_server import PrivateRedis

HUGE = (2**31, 2**63, 2**70)  # past an INTEGER column: never reaches the driver
UNKNOWN = ID_MAX  # a valid id that names nothing
ID_FIELDS = ("department_id", "front_group_id", "group_id", "agent_id", "assignee_id")
QUERY_IDS = {("/api/conversations", "group_id"), ("/api/conversations", "assignee_id"),
             ("/api/conversations", "priority"), ("/api/canned", "department_id")}
SECURITY_HEADERS = ("x-content-type-options", "referrer-policy", "x-request-id")


def _answered(r: httpx.Response, what: object) -> None:
    """A clean refusal: 4xx, the API's JSON error shape, the usual headers."""
    assert 400 <= r.status_code < 500, (what, r.status_code, r.text)
    assert r.json()["error"]["message"], what
    for name in SECURITY_HEADERS:
        assert name in r.headers, (what, name)


async def test_huge_ids_anywhere_in_the_api_are_4xx(web: WebFactory, clients: Clients,
                                                    org: Org) -> None:
    [w] = await web(1)
    _, _, cid = await accepted_chat(clients, org, w, w, "hello")
    cookie, csrf = await login(w, "adm@x.test")
    known = {"departments": org.dept, "groups": org.group, "agents": org.ana,
             "sites": org.site, "conversations": cid}
    # ONE keep-alive connection for everything: a refusal must not break the next request.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=w.http, cookies={"sb_session": cookie}, limits=limits,
                                 headers={"X-CSRF-Token": csrf, "Origin": CONSOLE}) as http:
        seen = 0
        for route in desk_routes():
            path: str = getattr(route, "path", "")
            methods = sorted((getattr(route, "methods", None) or set()) - {"HEAD"})
            if not path.startswith("/api/") or path.startswith("/api/auth/"):
                continue
            for method in methods:
                if "{id:int}" in path:
                    for bad in (*HUGE, UNKNOWN):
                        url = path.replace("{id:int}", str(bad))
                        r = await http.request(method, url, json={})
                        _answered(r, (method, url))
                        # 404, or 422 where the body is checked first
                        assert r.status_code in (404, 422), (method, url, r.text)
                        seen += 1
                if method in {"POST", "PATCH"}:
                    kind = path.split("/")[2]
                    url = path.replace("{id:int}", str(known.get(kind, 1)))
                    for bad in HUGE:
                        for body in ({"group_ids": [bad]}, *({f: bad} for f in ID_FIELDS)):
                            r = await http.request(method, url, json=body)
                            assert r.status_code < 500, (method, url, body, r.text)
                            if r.status_code >= 400:
                                _answered(r, (method, url, body))
                            seen += 1
                if method == "GET" and "{" not in path:
                    for name in (*ID_FIELDS, "priority"):
                        for bad in HUGE:
                            r = await http.get(path, params={name: str(bad)})
                            if (path, name) in QUERY_IDS:
                                _answered(r, (path, name))
                            assert r.status_code < 500, (path, name, r.text)
                            seen += 1
        # Valid but unknown ids in a body are a 404 too.
        r = await http.patch(f"/api/agents/{org.bob}", json={"group_ids": [UNKNOWN]})
        _answered(r, "unknown group")
        assert r.status_code == 404
        r = await http.post("/api/groups", json={"department_id": UNKNOWN, "name": "x"})
        assert r.status_code == 404
        # The public widget form: its department must be one of the site's, and an id.
        for bad in (*HUGE, UNKNOWN):
            r = await http.post(f"/api/public/sites/{SITE_KEY}/messages", json={
                "department_id": bad, "email": "v@example.com", "name": "V", "text": "hi"})
            _answered(r, ("leave a message", bad))
        assert seen > 150
        me = await http.get("/api/auth/me")
        assert me.status_code == 200, me.text


def _frame(cls: type[Any], **values: Any) -> dict[str, Any]:
    """A well-formed frame of ``cls`` with ``values`` for the fields named."""
    out: dict[str, Any] = {"type": cls.TYPE}
    for f in dataclasses.fields(cls):
        if f.name in values:
            out[f.name] = values[f.name]
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            out[f.name] = {"rating": 3, "status": "online", "group_ids": []}.get(
                f.name, "x1" if f.name in ("client_id", "token") else "hi")
    return out


def _id_fields(cls: type[Any]) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)
            if f.name.endswith(("_id", "_ids", "seq")) and f.name != "client_id"]


async def _still_served(c: Client) -> None:
    """The socket answers the very next ping: nothing went silent, nothing closed."""
    await c.send(type="ping")
    await c.expect("pong")


async def _refused(c: Client, frame: dict[str, Any] | str) -> dict[str, Any]:
    await c.ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    error = await c.expect("error")
    await _still_served(c)
    return error


async def test_huge_and_unknown_ids_in_every_frame_get_error_frames(
        web: WebFactory, clients: Clients, org: Org) -> None:
    [w] = await web(1)
    v, _, cid = await accepted_chat(clients, org, w, w, "hello")
    checked = 0
    for role, email, path in ((Role.VISITOR, None, None), (Role.AGENT, "ana@x.test", "agent"),
                              (Role.SUPERVISOR, "sam@x.test", "supervisor")):
        frame_types: list[type[Any]] = list(ROLE_FRAMES[role])
        for cls in sorted(frame_types, key=lambda c: str(c.TYPE)):
            fields = _id_fields(cls)
            if not fields:
                continue
            # A socket per frame type keeps every frame within the per-socket frame budget.
            # start_chat: a visitor without a chat (with one, the same chat comes back).
            token = None if cls is p.StartChat else v.token
            c = await clients.visitor(w, token) if email is None \
                else await clients.staff(w, email, path or "agent")
            for name in fields:
                # A seq past the end is refused where it moves a cursor (resume, tested
                # below); a read receipt only relays it.
                for bad in (*HUGE, UNKNOWN) if name != "seq" else HUGE:
                    value: Any = [bad] if name.endswith("_ids") else bad
                    base = {"conversation_id": cid} if name != "conversation_id" else {}
                    if cls is p.Transfer and name == "conversation_id":
                        base = {"agent_id": org.bob}
                    error = await _refused(c, _frame(cls, **base, **{name: value}))
                    assert error["ref"] in (None, cls.TYPE), error
                    checked += 1
    assert checked > 100


async def test_resume_past_the_end_is_refused_and_the_socket_goes_on(
        web: WebFactory, clients: Clients, org: Org) -> None:
    [w] = await web(1)
    v, ana, cid = await accepted_chat(clients, org, w, w, "hello")
    for c in (v, ana):
        for after in (2, ID_MAX, 2**31):
            error = await _refused(c, {"type": "resume", "conversation_id": cid,
                                       "after_seq": after})
            assert error["code"] == "bad_field", error
        # A good resume afterwards replays and goes live as usual.
        await c.send(type="resume", conversation_id=cid, after_seq=0)
        assert (await c.expect("state", conversation_id=cid))["last_seq"] == 1
        await c.expect("message", seq=1)
    await v.send(type="message", conversation_id=cid, client_id="v2", text="still here?")
    await ana.expect("message", text="still here?")
    await ana.send(type="message", conversation_id=cid, client_id="a1", text="yes")
    await v.expect("message", text="yes")


async def test_every_kind_of_bad_frame_leaves_the_socket_answering(
        web: WebFactory, clients: Clients, org: Org) -> None:
    [w] = await web(1)
    v, _, cid = await accepted_chat(clients, org, w, w, "hello")
    other, _, foreign = await accepted_chat(clients, org, w, w, "other")  # Ana's second chat
    del other
    long = "x" * (p.TEXT_MAX + 1)  # over the field's limit, far under the frame's
    common: list[dict[str, Any] | str] = [
        "not json", "[1, 2]", '"a string"', "{}", '{"type": 5}', '{"type": "bogus"}',
        {"type": "ping", "extra": 1},
        {"type": "message", "conversation_id": str(cid), "client_id": "c", "text": "x"},
        {"type": "message", "conversation_id": True, "client_id": "c", "text": "x"},
        {"type": "message", "conversation_id": cid, "client_id": "c", "text": long},
        {"type": "message", "conversation_id": cid, "client_id": "c" * 65, "text": "x"},
        {"type": "message", "conversation_id": 2**31, "client_id": "c", "text": "x"},
        {"type": "resume", "conversation_id": cid, "after_seq": 2**31},
        {"type": "resume", "conversation_id": cid, "after_seq": -1},
        {"type": "typing", "conversation_id": cid, "draft": "x" * (p.DRAFT_MAX + 1)},
        {"type": "read", "conversation_id": cid, "seq": 1.5},
    ]
    ana = await clients.staff(w, "ana@x.test")
    sam = await clients.staff(w, "sam@x.test", "supervisor")
    per_role: dict[str, tuple[Client, list[dict[str, Any] | str]]] = {
        "visitor": (v, [
            {"type": "auth", "token": "again"},
            {"type": "resume", "conversation_id": cid, "after_seq": 99},
            {"type": "message", "conversation_id": foreign, "client_id": "f", "text": "x"},
            {"type": "message", "conversation_id": cid, "client_id": "n", "text": "x",
             "internal": True},
            {"type": "whisper", "conversation_id": cid, "client_id": "w", "text": "x"},
            {"type": "accept", "conversation_id": cid},
            {"type": "rate", "conversation_id": cid, "rating": 6},
            {"type": "start_chat", "client_id": "s", "text": "x", "department_id": 2**31},
            {"type": "start_chat", "client_id": "s", "text": "x", "answers": {"k": 1}},
        ]),
        "agent": (ana, [
            {"type": "resume", "conversation_id": cid, "after_seq": 99},
            {"type": "monitor", "conversation_id": cid},
            {"type": "transfer", "conversation_id": cid},
            {"type": "transfer", "conversation_id": cid, "agent_id": org.ana},
            {"type": "active_groups", "group_ids": [org.other_group]},
            {"type": "active_groups", "group_ids": list(range(1, 200))},
            {"type": "presence", "status": "busy"},
        ]),
        "supervisor": (sam, [
            {"type": "whisper", "conversation_id": cid, "client_id": "w", "text": "x"},
            {"type": "unmonitor", "conversation_id": 2**31},
            {"type": "board", "follow": "yes"},
            {"type": "monitor", "conversation_id": ID_MAX},
        ]),
    }
    for who, (c, own) in per_role.items():
        for frame in [*common, *own]:
            error = await _refused(c, frame)
            assert error["code"] != "internal", (who, frame, error)


async def test_a_failing_command_answers_an_error_frame_and_the_socket_stays(
        web: WebFactory, clients: Clients, org: Org) -> None:
    with PrivateRedis() as private:
        [w] = await web(1, redis_url=private.url())
        sam = await clients.staff(w, "sam@x.test", "supervisor")
        private.stop()  # Redis gone: the board cannot be read
        await sam.send(type="board")
        error = await sam.expect("error", within=20, ref="board")
        assert error["code"] and error["message"], error  # "internal", or a code of its own
        await _still_served(sam)


async def test_a_site_config_stored_before_validation_is_read_leniently(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    """Non-numeric skill levels, a bad department id, a string where a list goes: the chat,
    the form and "leave a message" skip the bad entries (no 1011, no 500)."""
    await update_row(sm, Site, org.site, config={
        "departments": [{"id": "x"}, {"id": org.dept, "name": "Support"}, "Sales"],
        "topics": [{"id": "billing", "label": "Billing", "skills": {"billing": "high"},
                    "fields": [{"name": "invoice", "max_length": "long"}], "children": "x"}],
        "fields": "none"})
    [w] = await web(1)
    v = await clients.visitor(w)
    await v.send(type="start_chat", client_id="v1", text="My invoice", topic="billing")
    started = await v.expect("started")
    await v.expect("ack", client_id="v1")
    async with sm() as s:
        conv = await s.get(Conversation, started["conversation_id"])
        assert conv is not None and conv.topic == "Billing" and conv.required_skills == {}
    base = f"{w.http}/api/public/sites/{SITE_KEY}"
    async with httpx.AsyncClient() as http:
        form = (await http.get(base)).json()
        assert [d["id"] for d in form["departments"]] == [org.dept] and form["fields"] == []
        r = await http.post(base + "/messages", json={
            "department_id": org.dept, "topic": "billing", "answers": {"invoice": "42"},
            "email": "cust@example.org", "text": "Call me"})
        assert r.status_code == 201, r.text

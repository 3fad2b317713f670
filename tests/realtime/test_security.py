"""Who may open a socket and what reaches it: Origin, authentication, tokens, rights, whispers."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from desk.db import SessionMaker
from desk.models import Site
from realtime.public_http import VISITOR_SESSIONS_PER_MIN
from tests.realtime.conftest import (
    CONSOLE,
    SHOP,
    SITE_KEY,
    Clients,
    Org,
    WebFactory,
    accepted_chat,
    api,
    login,
    login_cookie,
    start_chat,
    update_row,
)


async def _status(url: str, origin: str, cookie: str | None = None) -> int:
    headers = {"Cookie": f"sb_session={cookie}"} if cookie else {}
    try:
        async with connect(url, origin=origin, additional_headers=headers):  # type: ignore[arg-type]
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def test_origin_and_cookie_checked_before_accept(web: WebFactory, org: Org) -> None:
    [w] = await web(1)
    cookie = await login_cookie(w, "sam@x.test")
    visitor = f"{w.ws}/ws/visitor?site={SITE_KEY}"
    assert await _status(visitor, SHOP) == 101
    assert await _status(visitor, "http://evil.test") == 403
    assert await _status(visitor, CONSOLE) == 403  # the console is not the site
    assert await _status(f"{w.ws}/ws/visitor?site=nope", SHOP) == 403
    assert await _status(f"{w.ws}/ws/visitor", SHOP) == 403
    # CSWSH: a valid cookie from a foreign page is refused before accept.
    assert await _status(f"{w.ws}/ws/agent", "http://evil.test", cookie) == 403
    assert await _status(f"{w.ws}/ws/agent", CONSOLE, cookie) == 101
    assert await _status(f"{w.ws}/ws/agent", CONSOLE, None) == 403
    assert await _status(f"{w.ws}/ws/agent", CONSOLE, "forged") == 403
    assert await _status(f"{w.ws}/ws/supervisor", CONSOLE, cookie) == 101
    ana = await login_cookie(w, "ana@x.test")
    assert await _status(f"{w.ws}/ws/supervisor", CONSOLE, ana) == 403
    # The visitor-session endpoint refuses foreign origins too.
    async with httpx.AsyncClient() as http:
        r = await http.post(w.http + "/api/visitor/session", json={"site_key": SITE_KEY},
                            headers={"Origin": "http://evil.test"})
        assert r.status_code == 403
        # Its body is bounded (a site key and a token): past 4 KiB it is not read on.
        big = await http.post(w.http + "/api/visitor/session", headers={"Origin": SHOP},
                              json={"site_key": SITE_KEY, "token": "x" * 5000})
        bad = await http.post(w.http + "/api/visitor/session", headers={"Origin": SHOP},
                              content=b"[1, 2]")
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    assert big.headers["access-control-allow-origin"] == SHOP
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid"
    # New sessions per client address are budgeted: past it a 429 saying when (Retry-After).
    async with httpx.AsyncClient() as http:
        answers = [await http.post(w.http + "/api/visitor/session", json={"site_key": SITE_KEY},
                                   headers={"Origin": SHOP})
                   for _ in range(VISITOR_SESSIONS_PER_MIN + 1)]
    refused = answers[-1]
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["access-control-allow-origin"] == SHOP
    assert answers[0].status_code == 200


async def test_unauthenticated_socket_closed_in_time(web: WebFactory, clients: Clients,
                                                     org: Org) -> None:
    [w] = await web(1)
    silent = await clients.visitor(w, auth=False)
    start = time.monotonic()
    with pytest.raises(ConnectionClosed) as info:
        await asyncio.wait_for(silent.ws.recv(), 8)
    assert time.monotonic() - start <= 5.5
    assert info.value.rcvd is not None and info.value.rcvd.code == 4401
    for token in ("", "garbage", "x" * 600):
        bad = await clients.visitor(w, auth=False)
        await bad.send(type="auth", token=token) if token else await bad.ws.send('{"type":"auth"}')
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(bad.ws.recv(), 3)
    # Anything but auth first closes at once.
    early = await clients.visitor(w, auth=False)
    await early.send(type="resume", conversation_id=1)
    with pytest.raises(ConnectionClosed) as info:
        await asyncio.wait_for(early.ws.recv(), 3)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4401


async def test_token_a_cannot_reach_conversation_b(web: WebFactory, clients: Clients,
                                                   org: Org) -> None:
    [w] = await web(1)
    a = await clients.visitor(w)
    b = await clients.visitor(w)
    cid_b = await start_chat(b, org.dept, "private to B")
    for frame in ({"type": "resume", "conversation_id": cid_b},
                  {"type": "message", "conversation_id": cid_b, "client_id": "x", "text": "hi"},
                  {"type": "typing", "conversation_id": cid_b, "draft": "x"},
                  {"type": "transcript", "conversation_id": cid_b, "email": "a@x.test"},
                  {"type": "end", "conversation_id": cid_b}):
        await a.send(**frame)
        if frame["type"] != "typing":
            assert (await a.expect("error"))["code"] == "forbidden"
    await a.quiet(0.3)
    assert "private to B" not in str(a.frames)
    # B's token on a new socket sees B's chat; A's does not.
    again = await clients.visitor(w, token=b.token)
    assert again.frames[-1]["conversations"] == [cid_b]
    assert (await clients.visitor(w, token=a.token)).frames[-1]["conversations"] == []


async def test_whisper_never_reaches_the_visitor(web: WebFactory, clients: Clients,
                                                 org: Org) -> None:
    a, b = await web(2)
    v, ana, cid = await accepted_chat(clients, org, a, b)
    sam = await clients.staff(a, "sam@x.test", "supervisor")
    await sam.send(type="monitor", conversation_id=cid)
    await sam.expect("done", op="monitor")
    await sam.send(type="whisper", conversation_id=cid, client_id="w1", text="WHISPER-123")
    seq = (await sam.expect("ack", client_id="w1"))["seq"]
    assert (await ana.expect("message", seq=seq))["visibility"] == "whisper"
    await ana.send(type="message", conversation_id=cid, client_id="n1", text="NOTE-456",
                   internal=True)
    await ana.send(type="message", conversation_id=cid, client_id="p1", text="public")
    await v.expect("message", client_id="p1")
    # Monitoring is silent: no participant_joined, no typing from the supervisor.
    await sam.send(type="typing", conversation_id=cid, draft="hmm")
    await v.quiet(0.3)
    # Replay from zero on a new socket holds no whisper either (nor does the mailed transcript:
    # tests/realtime/test_mail.py).
    v2 = await clients.visitor(b, token=v.token)
    await v2.send(type="resume", conversation_id=cid, after_seq=0)
    await v2.expect("message", client_id="p1")
    for frames in (v.frames, v2.frames):
        text = str(frames)
        assert "WHISPER-123" not in text and "NOTE-456" not in text
        assert "participant_joined" not in text and "hmm" not in text
    assert [m["seq"] for m in v2.of("message")] == [1, seq + 2]
    # The agent's transcript has all three.
    await ana.send(type="transcript", conversation_id=cid)
    got = await ana.expect("transcript")
    assert {"WHISPER-123", "NOTE-456", "public"} <= {m["text"] for m in got["messages"]}


async def _closed_with(c: object, code: int, within: float = 5) -> None:
    ws = c.ws  # type: ignore[attr-defined]
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), within)
    assert info.value.rcvd is not None and info.value.rcvd.code == code


async def test_rights_rechecked_logout_password_group_removal(
        web: WebFactory, clients: Clients, org: Org) -> None:
    a, b = await web(2)
    # Logout on process A closes that session's socket on process B.
    cookie, csrf = await login(a, "bob@x.test")
    from websockets.asyncio.client import connect as ws_connect
    bob_ws = await ws_connect(f"{b.ws}/ws/agent", origin=CONSOLE,  # type: ignore[arg-type]
                              additional_headers={"Cookie": f"sb_session={cookie}"})
    await bob_ws.recv()
    async with httpx.AsyncClient(cookies={"sb_session": cookie}) as http:
        r = await http.post(a.http + "/api/auth/logout",
                            headers={"X-CSRF-Token": csrf, "Origin": CONSOLE})
        assert r.status_code == 200, r.text
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(bob_ws.recv(), 5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4403

    # Password reset by an admin closes every socket of that agent.
    ana = await clients.staff(b, "ana@x.test")
    r = await api(a, "POST", f"/api/agents/{org.ana}/password", "adm@x.test",
                  {"password": "another long password"})
    assert r.status_code == 200, r.text
    await _closed_with(ana, 4403)

    # A supervisor removed from the group stops receiving the monitored chat at once.
    v = await clients.visitor(a)
    cid = await start_chat(v, org.dept)
    sam = await clients.staff(b, "sam@x.test", "supervisor")
    await sam.send(type="monitor", conversation_id=cid)
    await sam.expect("done", op="monitor")
    r = await api(a, "PATCH", f"/api/agents/{org.sam}", "adm@x.test",
                  {"group_ids": [org.other_group]})
    assert r.status_code == 200, r.text
    await asyncio.sleep(0.5)
    await v.send(type="message", conversation_id=cid, client_id="after", text="AFTER-REMOVAL")
    await v.expect("ack", client_id="after")
    await sam.quiet(0.5)
    assert "AFTER-REMOVAL" not in str(sam.frames)
    await sam.send(type="monitor", conversation_id=cid)
    assert (await sam.expect("error"))["code"] == "forbidden"


async def test_a_refused_page_learns_why_and_development_mode_takes_loopback_names(
        web: WebFactory, org: Org, sm: SessionMaker) -> None:
    local = "http://127.0.0.1:7000"
    await update_row(sm, Site, org.site, allowed_origins=[SHOP, local])
    [strict] = await web(1, SWITCHBOARD_CONSOLE_ORIGINS=local)
    [dev] = await web(1, SWITCHBOARD_CONSOLE_ORIGINS=local, SWITCHBOARD_MODE="development")
    alias, other_port = "http://localhost:7000", "http://localhost:7001"
    for w, takes_alias in ((strict, False), (dev, True)):
        cookie = await login_cookie(w, "ana@x.test")
        assert await _status(f"{w.ws}/ws/agent", local, cookie) == 101
        assert await _status(f"{w.ws}/ws/agent", alias, cookie) == (101 if takes_alias else 403)
        assert await _status(f"{w.ws}/ws/agent", other_port, cookie) == 403
        visitor = f"{w.ws}/ws/visitor?site={SITE_KEY}"
        assert await _status(visitor, alias) == (101 if takes_alias else 403)
        async with httpx.AsyncClient() as http:
            check = (await http.get(w.http + "/api/public/origin-check",
                                    params={"origin": alias})).json()
            session = await http.post(w.http + "/api/visitor/session",
                                      json={"site_key": SITE_KEY}, headers={"Origin": alias})
            foreign = await http.post(w.http + "/api/visitor/session",
                                      json={"site_key": SITE_KEY},
                                      headers={"Origin": other_port})
        assert check["console"] is takes_alias
        assert session.status_code == (200 if takes_alias else 403)
        assert foreign.status_code == 403
        assert foreign.json()["error"]["message"] == (
            f"this page's origin ({other_port}) is not allowed for this site")
        if not takes_alias:  # what the console shows instead of "Connecting…"
            assert f"this page is {alias}" in check["message"]
            assert f"Open the console at {local}/console" in check["message"]

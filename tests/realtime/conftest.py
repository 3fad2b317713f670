"""Realtime fixtures: real web processes (uvicorn) on loopback, a seeded organisation, clients."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from sqlalchemy import update
from websockets.asyncio.client import ClientConnection, connect

from desk.auth import hash_password
from desk.db import SessionMaker
from desk.models import Agent, AgentGroup, Department, Group, Site
from desk.settings import Settings
from tests.support.processes import WEBPROC, python_module, stop, wait_http, web_env

SHOP = "http://shop.test"
CONSOLE = "http://console.test"
PASSWORD = "correct horse battery"
SITE_KEY = "site_rt"


@dataclass
class Org:
    site: int
    dept: int
    group: int
    other_group: int
    ana: int
    bob: int
    sam: int
    zed: int
    admin: int


@pytest.fixture
async def org(sm: SessionMaker) -> Org:
    h = hash_password(PASSWORD)
    async with sm() as s:
        dept = Department(name="Support")
        s.add(dept)
        await s.flush()
        g, other = Group(department_id=dept.id, name="L1"), Group(department_id=dept.id, name="L2")
        s.add_all([g, other])
        await s.flush()
        dept.front_group_id = g.id
        site = Site(key=SITE_KEY, name="Shop", allowed_origins=[SHOP], typing_preview=True)

        def agent(email: str, name: str, role: str, group: int) -> Agent:
            return Agent(email=email, display_name=name, role=role, password_hash=h,
                         groups=[AgentGroup(group_id=group)])

        ana = agent("ana@x.test", "Ana", "agent", g.id)
        bob = agent("bob@x.test", "Bob", "agent", g.id)
        sam = agent("sam@x.test", "Sam", "supervisor", g.id)
        zed = agent("zed@x.test", "Zed", "agent", other.id)
        admin = Agent(email="adm@x.test", display_name="Admin", role="admin", password_hash=h)
        s.add_all([site, ana, bob, sam, zed, admin])
        await s.commit()
        return Org(site.id, dept.id, g.id, other.id, ana.id, bob.id, sam.id, zed.id, admin.id)


@dataclass
class Web:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


WebFactory = Callable[..., Awaitable[list[Web]]]


@pytest.fixture
async def web(settings: Settings, tmp_path: Path, org: Org,
              redis: aioredis.Redis) -> AsyncIterator[WebFactory]:
    """Start ``n`` web processes on the test DB and (flushed) Redis; stopped at teardown."""
    started: list[Web] = []

    async def start(n: int = 1, redis_url: str | None = None, **extra: str) -> list[Web]:
        procs = []
        for i in range(n):
            env = web_env(tmp_path / f"web{len(started) + i}", settings.database_url,
                          redis_url or settings.redis_url)
            env["SWITCHBOARD_CONSOLE_ORIGINS"] = CONSOLE
            env.update(extra)
            log = tmp_path / f"web{len(started) + i}.log"
            procs.append(Web(int(env["SWITCHBOARD_PORT"]), python_module(WEBPROC, env, log), log))
        started.extend(procs)
        await asyncio.gather(*(asyncio.to_thread(wait_http, w.http + "/readyz", w.proc)
                               for w in procs))
        return procs

    yield start
    for w in started:
        stop(w.proc)


class Client:
    """A WebSocket client that keeps every frame it received, for precise assertions."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.token: str | None = None

    async def send(self, **frame: Any) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

    async def next(self, within: float = 5.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), within)
        frame: dict[str, Any] = orjson.loads(raw)
        self.frames.append(frame)
        return frame

    async def expect(self, kind: str, within: float = 5.0, **match: Any) -> dict[str, Any]:
        """The next frame of ``kind`` (matching ``match``), skipping others (still recorded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            try:
                frame = await self.next(max(0.01, deadline - loop.time()))
            except TimeoutError:
                raise AssertionError(f"no {kind} {match} among {self.frames}") from None
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def quiet(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Every frame arriving within ``seconds``."""
        got = []
        try:
            while True:
                got.append(await self.next(seconds))
        except TimeoutError:
            return got

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]

    async def close(self) -> None:
        await self.ws.close()


@dataclass
class Clients:
    opened: list[Client] = field(default_factory=list)

    async def visitor(self, w: Web, token: str | None = None, *, origin: str = SHOP,
                      auth: bool = True) -> Client:
        ws = await connect(f"{w.ws}/ws/visitor?site={SITE_KEY}", origin=origin)  # type: ignore[arg-type]
        c = Client(ws)
        self.opened.append(c)
        if auth:
            c.token = token or await visitor_token(w)
            await c.send(type="auth", token=c.token)
            await c.expect("welcome")
        return c

    async def staff(self, w: Web, email: str, path: str = "agent") -> Client:
        cookie = await login_cookie(w, email)
        ws = await connect(f"{w.ws}/ws/{path}", origin=CONSOLE,  # type: ignore[arg-type]
                           additional_headers={"Cookie": f"sb_session={cookie}"})
        c = Client(ws)
        self.opened.append(c)
        await c.expect("welcome")
        return c


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    cs = Clients()
    yield cs
    for c in cs.opened:
        await c.ws.close()


async def visitor_token(w: Web, origin: str = SHOP) -> str:
    async with httpx.AsyncClient() as http:
        r = await http.post(w.http + "/api/visitor/session", json={"site_key": SITE_KEY},
                            headers={"Origin": origin})
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


async def login_cookie(w: Web, email: str) -> str:
    return (await login(w, email))[0]


async def login(w: Web, email: str) -> tuple[str, str]:
    """(session cookie, CSRF token)."""
    async with httpx.AsyncClient() as http:
        r = await http.post(w.http + "/api/auth/login",
                            json={"email": email, "password": PASSWORD},
                            headers={"Origin": CONSOLE})
        assert r.status_code == 200, r.text
        return r.cookies["sb_session"], r.json()["csrf_token"]


async def api(w: Web, method: str, path: str, email: str, body: Any = None) -> httpx.Response:
    cookie, csrf = await login(w, email)
    async with httpx.AsyncClient(cookies={"sb_session": cookie}) as http:
        return await http.request(method, w.http + path, json=body,
                                  headers={"X-CSRF-Token": csrf, "Origin": CONSOLE})


async def update_row(sm: SessionMaker, model: Any, row_id: int, **values: Any) -> None:
    async with sm() as s:
        await s.execute(update(model).where(model.id == row_id).values(**values))
        await s.commit()


async def start_chat(v: Client, dept: int, text: str = "Hello", client_id: str = "v1") -> int:
    await v.send(type="start_chat", client_id=client_id, text=text, department_id=dept)
    started = await v.expect("started")
    await v.expect("ack", client_id=client_id)
    cid: int = started["conversation_id"]
    return cid


async def accepted_chat(clients: Clients, org: Org, visitor_web: Web, agent_web: Web,
                        text: str = "Hello") -> tuple[Client, Client, int]:
    """A visitor's chat (first message ``text``) accepted by Ana: (visitor, Ana, its id)."""
    v = await clients.visitor(visitor_web)
    cid = await start_chat(v, org.dept, text)
    ana = await clients.staff(agent_web, "ana@x.test")
    await ana.send(type="accept", conversation_id=cid)
    await v.expect("assigned")
    return v, ana, cid

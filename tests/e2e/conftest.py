"""Browser tests: real web process and router timers on loopback, Debian chromium via playwright.

Each test gets a fresh deployment: new SQLite file (a copy of the demo organisation seeded once
per session, its site opened to the test's origin), flushed Redis DB index (on a private
redis-server), the web process started on a free port. The browser is shared by the session.
Never ``playwright install``: the tests drive /usr/bin/chromium.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
from sqlalchemy import update

from desk.db import SessionMaker, make_engine, make_sessionmaker
from desk.embedded import free_port
from desk.models import Site
from desk.schema import create_all
from desk.seed import DEMO_PASSWORD, DEMO_SITE_KEY, seed_demo
from desk.settings import Settings
from tests.support.processes import ROOT
from tests.support.redis_server import PrivateRedis

REDIS_DB = int(os.environ.get("SWITCHBOARD_TEST_REDIS_DB", "14"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
T = TypeVar("T")
WEB = ("-c", "import os; from desk.settings import Settings; "
       "from realtime.server import serve; serve(Settings.from_env(os.environ))")


def in_thread(func: Callable[[], T]) -> T:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(func).result()


@dataclass
class Server:
    url: str
    env: dict[str, str]
    settings: Settings
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def run(self, work: Callable[[SessionMaker], Awaitable[T]]) -> T:
        """Run ``work(sm)`` against the server's database from the (sync) test.

        Sync playwright keeps an event loop running in the test's thread, so the coroutine
        gets a thread (and loop) of its own.
        """

        async def main() -> T:
            engine = make_engine(self.settings)
            try:
                return await work(make_sessionmaker(engine))
            finally:
                await engine.dispose()

        return in_thread(lambda: asyncio.run(main()))

    def start(self, *argv: str) -> subprocess.Popen[bytes]:
        log = Path(self.env["SWITCHBOARD_DATA_DIR"]) / f"proc{len(self.procs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, *argv], env=self.env, cwd=ROOT,
                                    stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs.append(proc)
        return proc

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[0].poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("web process did not become ready:\n" + self.output())

    def restart_web(self) -> None:
        """SIGKILL the web process (every socket drops at once) and start it again."""
        web = self.procs[0]
        web.kill()
        web.wait()
        fresh = self.start(*WEB)
        self.procs.remove(fresh)
        self.procs[0] = fresh
        self.wait_ready()

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in self.logs if p.exists())

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _schema_and_seed(sm: SessionMaker, url: str) -> None:
    # The schema straight from the models, with the search indexes (as the other suites do):
    # tests/desk checks that the migrations agree with them.
    await create_all(sm.kw["bind"])
    await seed_demo(sm, url)


async def _open_site_to(sm: SessionMaker, url: str) -> None:
    async with sm() as s:
        await s.execute(update(Site).where(Site.key == DEMO_SITE_KEY)
                        .values(allowed_origins=[url]))
        await s.commit()


def _sqlite_env(data: Path) -> dict[str, str]:
    return {"SWITCHBOARD_DATA_DIR": str(data),
            "DATABASE_URL": f"sqlite+aiosqlite:///{data / 'switchboard.db'}"}


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo organisation seeded once (password hashing is the slow part); tests copy it."""
    data = tmp_path_factory.mktemp("seed") / "data"
    data.mkdir()
    env = {**os.environ, "SWITCHBOARD_MODE": "test", "SWITCHBOARD_SECRET_KEY": "s" * 50,
           **_sqlite_env(data)}
    template = Server(url="", env=env, settings=Settings.from_env(env))
    template.run(lambda sm: _schema_and_seed(sm, "http://template.invalid"))
    return data / "switchboard.db"


# The router's timer loop (offer expiry, heartbeat lapse): ``routing.timers:run`` when that entry
# point exists, else the Router's own loop.
TIMERS = ("-c", """
import asyncio, os
from desk.settings import Settings
settings = Settings.from_env(os.environ)
try:
    from routing.timers import run
except ImportError:
    import redis.asyncio as aioredis
    from desk.db import make_engine, make_sessionmaker
    from routing.router import Router

    async def main():
        redis = aioredis.Redis.from_url(settings.redis_url)
        router = Router(settings, redis, make_sessionmaker(make_engine(settings)))
        await router.run_timers(0.2)

    asyncio.run(main())
else:
    run(settings)
""")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A private redis-server for the browser tests.

    Pub/sub channels are server-wide (not per DB index), so a shared server would let other
    suites' hub traffic reach these processes; a private one keeps the e2e run self-contained.
    """
    with PrivateRedis() as server:
        yield server.url(REDIS_DB)


@pytest.fixture
def server(tmp_path: Path, redis_url: str, seeded_db: Path) -> Iterator[Server]:
    """Fresh demo deployment: web process and routing timers."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SWITCHBOARD_MODE": "test",
        "SWITCHBOARD_SECRET_KEY": "e2e-secret-" + "x" * 40,
        **_sqlite_env(tmp_path / "data"),
        "REDIS_URL": redis_url,
        "SWITCHBOARD_HOST": "127.0.0.1",
        "SWITCHBOARD_PORT": str(port),
        "SWITCHBOARD_PUBLIC_URL": url,
        "SWITCHBOARD_LOG_LEVEL": "warning",
        # A reading session counts as deflected at once (not after half an hour).
        "SWITCHBOARD_KB_DEFLECTION_WINDOW": "0",
        # The tests' own local HTTP servers (a lookup provider) are on loopback.
        "SWITCHBOARD_OUTBOUND_ALLOW_NETWORKS": "127.0.0.1/32",
    }
    settings = Settings.from_env(env)
    srv = Server(url=url, env=env, settings=settings)
    (tmp_path / "data").mkdir()
    shutil.copyfile(seeded_db, tmp_path / "data" / "switchboard.db")
    srv.run(lambda sm: _open_site_to(sm, url))
    srv.start(*WEB)
    try:
        srv.wait_ready()
        srv.start(*TIMERS)
        yield srv
    finally:
        srv.stop()
        client.flushdb()
        client.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def login(page: Any, server: Server, path: str, email: str) -> None:
    """Open the console or supervisor view and log in as a demo user."""
    page.goto(server.url + path)
    page.fill("#login-email", email)
    page.fill("#login-password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#app-ready", state="attached")

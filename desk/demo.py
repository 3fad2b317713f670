"""``switchboard demo``: the whole product on embedded defaults, the email half included.

Besides web, worker and poller it starts a mail catcher (``ingest.catcher``: the desk's outbound
SMTP, with a page listing what was sent) and an in-memory IMAP server (pymap) holding a few
customer mails, which the seeded Support mailbox reads, so replies and transcripts are delivered
somewhere visible and tickets exist on first open. The banner prints only once every process
answers: web ready, worker registered, the mailbox synced, both mail servers listening.
"""

from __future__ import annotations

import asyncio
import imaplib
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import func, select

from desk.db import make_engine, make_sessionmaker
from desk.embedded import free_port, redis_for
from desk.errors import SettingsError
from desk.models import InboundMail
from desk.schema import upgrade
from desk.seed import (
    DEMO_MAILBOX_USER,
    DEMO_MAILS,
    DEMO_PASSWORD,
    DEMO_SITE_KEY,
    DemoLogin,
    demo_mail,
    seed_demo,
    seed_demo_mailbox,
)
from desk.settings import Settings

log = logging.getLogger("switchboard.demo")
READY_TIMEOUT_S = 90.0
PYMAP = "from pymap.main import main; main()"


def run(settings: Settings) -> int:
    upgrade(settings)
    imap_password = secrets.token_urlsafe(12)
    imap_port = free_port()
    # One metrics directory for the run: web's /metrics then shows the worker and poller too.
    with tempfile.TemporaryDirectory(prefix="switchboard-metrics-") as metrics_dir, \
            redis_for(settings.with_(smtp_host="127.0.0.1", smtp_port=free_port(),
                                     smtp_tls="none", smtp_user="",
                                     metrics_dir=settings.metrics_dir or Path(metrics_dir))
                       ) as s:
        procs: list[subprocess.Popen[bytes]] = []
        try:
            procs += [_spawn(s, ["mailcatcher"]),
                      _spawn(s, ["-c", PYMAP, "--host", "127.0.0.1", "--port", str(imap_port),
                                 "--no-tls", "--no-service", "admin", "dict",
                                 "--demo-user", DEMO_MAILBOX_USER,
                                 "--demo-password", imap_password], module=False)]
            _wait_until("the mail catcher", procs, lambda: _listening(s.smtp_port)
                        and _listening(s.port + 1))
            _wait_until("the IMAP server", procs, lambda: _listening(imap_port))
            logins, address = asyncio.run(_seed(s, imap_port, imap_password))
            _fill_mailbox(imap_port, imap_password, address)
            procs += [_spawn(s, [name]) for name in ("web", "worker", "poll")]
            _wait_until("web", procs, lambda: _http_ok(_local_url(s) + "/readyz"))
            _wait_until("the worker", procs, lambda: _worker_registered(s))
            _wait_until("the poller", procs, lambda: asyncio.run(_imported(s)) >= len(DEMO_MAILS))
            _print_banner(s, logins)
            _supervise(procs)
        except SettingsError as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return 1
        finally:
            _stop(procs)
    return 0


def _env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "REDIS_URL": settings.redis_url or "",
            "DATABASE_URL": settings.database_url, "SWITCHBOARD_SECRET_KEY": settings.secret_key,
            "SWITCHBOARD_DATA_DIR": str(settings.data_dir), "SWITCHBOARD_PORT": str(settings.port),
            "SWITCHBOARD_HOST": settings.host, "SWITCHBOARD_PUBLIC_URL": settings.public_url,
            "SWITCHBOARD_SMTP_HOST": settings.smtp_host,
            "SWITCHBOARD_SMTP_PORT": str(settings.smtp_port),
            "SWITCHBOARD_SMTP_TLS": settings.smtp_tls, "SWITCHBOARD_SMTP_USER": "",
            "SWITCHBOARD_METRICS_DIR": str(settings.metrics_dir or "")}


def _spawn(settings: Settings, args: list[str], module: bool = True) -> subprocess.Popen[bytes]:
    argv = [sys.executable, *(["-m", "desk.cli"] if module else []), *args]
    return subprocess.Popen(argv, env=_env(settings), start_new_session=True,
                            stdin=subprocess.DEVNULL)


async def _seed(settings: Settings, imap_port: int,
                password: str) -> tuple[list[DemoLogin], str]:
    engine = make_engine(settings)
    try:
        sm = make_sessionmaker(engine)
        logins = await seed_demo(sm, settings.public_url)
        return logins, await seed_demo_mailbox(sm, imap_port, password)
    finally:
        await engine.dispose()


def _fill_mailbox(port: int, password: str, address: str) -> None:
    with imaplib.IMAP4("127.0.0.1", port, timeout=10) as imap:
        imap.login(DEMO_MAILBOX_USER, password)
        for i in range(len(DEMO_MAILS)):
            imap.append("INBOX", None, None, demo_mail(i, address))


async def _imported(settings: Settings) -> int:
    """Mails stored by the poller (a restarted demo finds the demo mails stored already)."""
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as s:
            return int((await s.execute(select(func.count(InboundMail.id)))).scalar_one())
    finally:
        await engine.dispose()


def _worker_registered(settings: Settings) -> bool:
    from redis import Redis
    from rq import Worker

    with Redis.from_url(settings.redis_url or "") as r:
        return Worker.count(connection=r) > 0


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _local_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("", "0.0.0.0", "::") else settings.host
    return f"http://{host}:{settings.port}"


def _wait_until(what: str, procs: Sequence[subprocess.Popen[bytes]],
                answers: Callable[[], bool]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise SettingsError(f"a demo process ({_name(p)}) exited with code "
                                    f"{p.returncode} before {what} answered")
        if answers():
            return
        time.sleep(0.2)
    raise SettingsError(f"{what} did not answer within {READY_TIMEOUT_S:.0f} s")


def _name(proc: subprocess.Popen[bytes]) -> str:
    args = [str(a) for a in proc.args] if isinstance(proc.args, list) else [str(proc.args)]
    return "imap" if "-c" in args else Path(args[-1]).name


def _print_banner(settings: Settings, logins: Sequence[DemoLogin]) -> None:
    url = settings.public_url
    lines = [
        "",
        "Switchboard demo is running. Open:",
        f"  Visitor (sample shop page with the widget): {url}/demo",
        f"  Agent console:                              {url}/console",
        f"  Supervisor view:                            {url}/supervisor",
        f"  Administration (log in as the admin):       {url}/admin",
        f"  Help centre (the demo shop's articles):     {url}/kb/{DEMO_SITE_KEY}",
        f"  Mail catcher (every mail the desk sent):    http://127.0.0.1:{settings.port + 1}/",
        f"  API description:                            {url}/api/openapi.json",
        f"  Metrics (Prometheus, from loopback):        {url}/metrics",
        f"  Widget site key: {DEMO_SITE_KEY}",
        f"  Support mailbox: {len(DEMO_MAILS)} customer mails imported as tickets; the "
        "desk's replies land in the mail catcher",
        f"Logins (password for all: {DEMO_PASSWORD}):",
        *(f"  {x.email:<34} {x.role:<10} {x.groups}" for x in logins),
        "Press Ctrl-C to stop everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


def _supervise(procs: list[subprocess.Popen[bytes]]) -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        for p in procs:
            if p.poll() is not None:
                print(f"a demo process ({_name(p)}) exited with code {p.returncode}; stopping",
                      file=sys.stderr)
                return
        stop.wait(0.5)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

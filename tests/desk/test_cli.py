"""The CLI against real processes: web on uvicorn, migrate, create-admin, the demo."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from desk.embedded import embedded_redis
from tests.support.processes import ROOT, stop, switchboard, wait_http, web_env


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    log = tmp_path / "run.log"
    proc = switchboard(args, env, log)
    proc.wait(timeout=60)
    return subprocess.CompletedProcess(args, proc.returncode, log.read_text(), "")


def test_bad_settings_exit_2_with_a_message(tmp_path: Path) -> None:
    env = web_env(tmp_path, "mysql://nope/x", None)
    result = _run(["migrate"], env, tmp_path)
    assert result.returncode == 2
    assert "DATABASE_URL scheme 'mysql' is not supported" in result.stdout


def test_migrate_and_create_admin(tmp_path: Path) -> None:
    env = web_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", None)
    assert _run(["migrate"], env, tmp_path).returncode == 0
    env["SWITCHBOARD_ADMIN_PASSWORD"] = "a long admin password"
    ok = _run(["create-admin", "--email", "Root@Example.org"], env, tmp_path)
    assert ok.returncode == 0, ok.stdout
    again = _run(["create-admin", "--email", "root@example.org"], env, tmp_path)
    assert again.returncode == 1 and "already exists" in again.stdout


@pytest.mark.parametrize("args", [[], ["--processes", "2"]])
def test_web_serves_health_and_stops_on_sigterm(tmp_path: Path, redis_url: str,
                                                args: list[str]) -> None:
    # A fresh database: in development mode `web` migrates it before serving.
    env = web_env(tmp_path, f"sqlite:///{tmp_path / 'web.db'}", redis_url)
    proc = switchboard(["web", *args], env, tmp_path / "web.log")
    children: list[str] = []
    try:
        base = f"http://127.0.0.1:{env['SWITCHBOARD_PORT']}"
        wait_http(f"{base}/healthz", proc)
        ready = wait_http(f"{base}/readyz", proc).json()
        assert ready["checks"] == {"database": "ok", "redis": "ok"}
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    finally:
        # uvicorn re-raises the signal after a graceful shutdown, so -SIGTERM is a clean exit.
        assert stop(proc) in (0, -signal.SIGTERM), (tmp_path / "web.log").read_text()
    if args:
        assert len(children) == 2
        assert not [c for c in children if Path(f"/proc/{c}").exists()]  # all stopped


def test_web_processes_must_be_positive(tmp_path: Path) -> None:
    env = web_env(tmp_path, f"sqlite:///{tmp_path / 'web.db'}", None)
    done = _run(["web", "--processes", "0"], env, tmp_path)
    assert done.returncode == 2 and "must be 1..256" in done.stdout


def _eventually(read: Callable[[], list[Any]], n: int, timeout: float = 30) -> list[Any]:
    deadline = time.monotonic() + timeout
    while len(got := read()) < n and time.monotonic() < deadline:
        time.sleep(0.2)
    return got


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_demo_runs_everything_on_embedded_defaults(tmp_path: Path) -> None:
    """The README's first command, minus the install: SQLite + private Redis, all processes."""
    env = web_env(tmp_path / "data", "", None)
    del env["DATABASE_URL"]
    env["SWITCHBOARD_MODE"] = "development"
    del env["SWITCHBOARD_SECRET_KEY"]
    log = tmp_path / "demo.log"
    proc = switchboard(["demo"], env, log)
    base = env["SWITCHBOARD_PUBLIC_URL"]
    try:
        deadline = time.monotonic() + 90
        while "Press Ctrl-C" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        # The banner comes once every process answers: nothing to wait for after it.
        assert httpx.get(f"{base}/readyz").status_code == 200
        text = log.read_text()
        for path in ("/demo", "/console", "/supervisor", "/kb/site_demo"):
            assert f"{base}{path}" in text
        assert httpx.get(f"{base}/kb/site_demo/en").status_code == 200
        assert "switchboard-demo" in text and "ana@demo.switchboard.local" in text
        r = httpx.post(f"{base}/api/auth/login", json={
            "email": "sam@demo.switchboard.local", "password": "switchboard-demo"})
        assert r.status_code == 200 and r.json()["role"] == "supervisor"
        tickets = httpx.get(f"{base}/api/conversations", cookies=r.cookies,
                            params={"channel": "email"}).json()
        assert len(tickets["items"] if isinstance(tickets, dict) else tickets) == 3
        catcher = re.search(r"Mail catcher \(every mail the desk sent\): +(\S+)", text)
        assert catcher is not None
        caught = _eventually(lambda: httpx.get(f"{catcher.group(1)}api/mails").json(), 3)
        assert sorted(m["to"][0] for m in caught) == [
            "marco@customer.example", "olivia@acme.example", "priya@customer.example"]
        redis_ports = [int(p) for p in re.findall(r"embedded Redis at redis://127\.0\.0\.1:(\d+)",
                                                  text)]
        time.sleep(2)  # let worker and poller settle: they must still be running
        assert proc.poll() is None, text
        # A quiet start: at the tests' log level (warning) the banner is all there is.
        noise = [line for line in log.read_text().splitlines() if line.startswith(("{", "Trace"))]
        assert noise == [], noise
    finally:
        code = stop(proc, signal.SIGINT, timeout=30)
    assert code == 0, log.read_text()
    assert not _port_open(int(env["SWITCHBOARD_PORT"]))
    for port in redis_ports:
        assert not _port_open(port)


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "switchboard"
    assert script.exists(), "pip install -e . should install the switchboard command"
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    assert "demo" in out.stdout


def test_embedded_redis_starts_under_a_relative_data_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default data dir is ./data: redis-server enters --dir before opening its log."""
    monkeypatch.chdir(tmp_path)
    with embedded_redis(Path("data")) as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        assert _port_open(port)
    assert (tmp_path / "data" / "redis" / "redis.log").exists()

"""Start real Switchboard processes on loopback for tests, and stop them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from desk.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
WEBPROC = "tests.support.webproc"  # a web process on the schema the tests created


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` over this environment without any Switchboard setting: a child process sees
    exactly the settings it is given, whatever the shell running the tests exported."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("SWITCHBOARD_") and k not in {"DATABASE_URL", "REDIS_URL"}}
    return {**base, **env}


def python_module(module: str, env: Mapping[str, str], log: Path,
                  *args: str) -> subprocess.Popen[bytes]:
    """``python -m MODULE ARGS`` in the project root with ``child_env(env)``, output to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args], env=child_env(env), cwd=ROOT,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )


def switchboard(args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m desk.cli ARGS``."""
    return python_module("desk.cli", env, log, *args)


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0,
              status: int = 200) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            r = httpx.get(url, timeout=2)
            if r.status_code == status:
                return r
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer {status} within {timeout}s ({last})")


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


def web_env(data_dir: Path, database_url: str, redis_url: str | None,
            port: int | None = None) -> dict[str, str]:
    port = port or free_port()
    env = {
        "SWITCHBOARD_MODE": "test",
        "SWITCHBOARD_SECRET_KEY": "test-secret-" + "y" * 40,
        "SWITCHBOARD_DATA_DIR": str(data_dir),
        "SWITCHBOARD_PORT": str(port),
        "SWITCHBOARD_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SWITCHBOARD_LOG_LEVEL": "warning",
        "DATABASE_URL": database_url,
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env

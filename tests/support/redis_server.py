"""A redis-server of our own, for tests and benches that cut, restart or measure Redis.

The shared server must never be stopped or flushed whole, and its pub/sub channels are
server-wide, so whatever needs either gets a private one. It runs the system's redis-server (the
version deployments run), started the way the embedded default starts its own.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import redis

from desk.embedded import free_port, start_redis_server, stop_redis_server

SYSTEM_BINARY = "/usr/bin/redis-server"


class PrivateRedis:
    """On a free loopback port, in a temporary directory (removed by ``close``).

    With ``persist``, every write goes to an append-only file and ``stop`` shuts the server down
    cleanly: a restart keeps every key (an outage, not a flush)."""

    def __init__(self, *, persist: bool = False) -> None:
        self.persist = persist
        self.binary = SYSTEM_BINARY if Path(SYSTEM_BINARY).exists() else (
            shutil.which("redis-server") or SYSTEM_BINARY)
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="sb-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not running"
        return self.proc.pid

    def start(self) -> None:
        self.proc = start_redis_server(self.binary, self.port, self.dir, self.persist)

    def stop(self) -> None:
        """SIGKILL without ``persist`` (nothing kept, nothing to shut down cleanly), else a
        clean shutdown that has every write on disk."""
        if self.proc is not None:
            if self.persist:
                stop_redis_server(self.proc)
            else:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        """Stop and start again on the same port: every key is gone (unless ``persist``)."""
        self.stop()
        self.start()

    def cpu_seconds(self) -> float:
        client = redis.Redis(port=self.port)
        try:
            info: Any = client.info("cpu")
            return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        finally:
            client.close()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""A Redis primary, a replica and a Sentinel watching them, on loopback ports, for the tests
and benches that fail Redis over mid-traffic.

One Sentinel with quorum 1 decides alone (a production set has three); it is told of the replica
in its configuration, so a failover can be asked for at once instead of after its first
discovery round (ten seconds).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from desk.embedded import free_port, start_redis_server, stop_redis_server
from tests.support.redis_server import SYSTEM_BINARY

SERVICE = "switchboard"


class SentinelSet:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sb-sentinel-"))
        self.ports = [free_port(), free_port()]
        self.sentinel_port = free_port()
        self.procs: list[subprocess.Popen[bytes]] = []

    def url(self, db: int = 0) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{SERVICE}/{db}"

    def start(self) -> None:
        primary, replica = self.ports
        self.procs.append(start_redis_server(SYSTEM_BINARY, primary, self.dir / "a"))
        self.procs.append(start_redis_server(
            SYSTEM_BINARY, replica, self.dir / "b",
            extra=("--replicaof", "127.0.0.1", str(primary))))
        conf = self.dir / "sentinel.conf"
        conf.write_text("\n".join([
            f"port {self.sentinel_port}", "bind 127.0.0.1", f"dir {self.dir}",
            f"logfile {self.dir / 'sentinel.log'}",
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary} 1",
            f"sentinel known-replica {SERVICE} 127.0.0.1 {replica}",
            f"sentinel down-after-milliseconds {SERVICE} 1000",
            f"sentinel failover-timeout {SERVICE} 10000", ""]))
        self.procs.append(self._sentinel(conf))
        self._until(lambda: self._synced(replica), "the replica to sync")

    def _sentinel(self, conf: Path) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([SYSTEM_BINARY, str(conf), "--sentinel"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self._until(lambda: self._answers(self.sentinel_port), "Sentinel to answer")
        return proc

    def primary_port(self) -> int:
        with redis.Redis(port=self.sentinel_port) as s:
            _host, port = s.sentinel_get_master_addr_by_name(SERVICE)
        return int(port)

    def kill_primary(self) -> int:
        """SIGKILL the primary (the fault Sentinel is for); returns the promoted replica's port
        once Sentinel names it and it takes writes (about down-after + an election)."""
        old = self.primary_port()
        proc = self.procs[self.ports.index(old)]
        proc.kill()
        proc.wait()
        new = next(p for p in self.ports if p != old)
        self._until(lambda: self.primary_port() == new and self._role(new) == "master",
                    "Sentinel to promote the replica")
        return new

    def revive(self) -> None:
        """Start the killed server again as a replica of the current primary (Sentinel then
        counts it as the next failover's candidate) and wait until it has synced."""
        primary = self.primary_port()
        dead = next(i for i, p in enumerate(self.procs[:2]) if p.poll() is not None)
        port = self.ports[dead]
        self.procs[dead] = start_redis_server(
            SYSTEM_BINARY, port, self.dir / "ab"[dead],
            extra=("--replicaof", "127.0.0.1", str(primary)))
        self._until(lambda: self._synced(port), "the revived server to sync")

    def _role(self, port: int) -> str:
        with redis.Redis(port=port) as r:
            info: Any = r.info("replication")
            return str(info["role"])

    def _synced(self, port: int) -> bool:
        with redis.Redis(port=port) as r:
            info: Any = r.info("replication")
            return bool(info["role"] == "slave" and info.get("master_link_status") == "up")

    @staticmethod
    def _answers(port: int) -> bool:
        try:
            with redis.Redis(port=port, socket_timeout=0.2) as r:
                return bool(r.ping())
        except redis.RedisError:
            return False

    @staticmethod
    def _until(check: Any, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"waited {timeout:.0f} s for {what}")

    def close(self) -> None:
        for proc in self.procs:
            stop_redis_server(proc)
        self.procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> SentinelSet:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The poller and the mail worker as separate OS processes, for crash and takeover tests.

``python -m tests.ingest.procs poll LEASE_MS`` runs ``ingest.poller.run`` (all enabled
mailboxes, real router and acknowledger) with a short lease; ``python -m tests.ingest.procs
worker`` runs ``ingest.worker.run`` in burst mode, ``worker serve`` as ``switchboard worker``
does (until stopped). Settings come from the environment, built by ``env_for`` from the test's
Settings.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from desk.settings import Settings
from tests.support.processes import ROOT, child_env


def env_for(settings: Settings) -> dict[str, str]:
    return child_env({
        "SWITCHBOARD_MODE": settings.mode,
        "SWITCHBOARD_SECRET_KEY": settings.secret_key,
        "SWITCHBOARD_DATA_DIR": str(settings.data_dir),
        "SWITCHBOARD_PUBLIC_URL": settings.public_url,
        "SWITCHBOARD_SMTP_HOST": settings.smtp_host,
        "SWITCHBOARD_SMTP_PORT": str(settings.smtp_port),
        "SWITCHBOARD_MAIL_LEASE": str(settings.mail_lease_s),
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url or "",
        "PYTHONPATH": str(ROOT),
    })


def log_path(settings: Settings) -> Path:
    return settings.data_dir / "procs.log"


def spawn(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    """Start a process; its stderr goes to ``log_path`` (a pipe nobody reads could fill up)."""
    path = log_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.ingest.procs", *args], env=env_for(settings),
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
        )


def log_tail(settings: Settings) -> str:
    path = log_path(settings)
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no cleanup runs, the lease is not released, a transaction may be open."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


class Processes:
    """Processes a test started; whatever is still running at teardown is SIGKILLed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started: list[subprocess.Popen[bytes]] = []

    def spawn(self, *args: str, settings: Settings | None = None) -> subprocess.Popen[bytes]:
        proc = spawn(settings or self.settings, *args)
        self.started.append(proc)
        return proc

    def kill_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGCONT)  # a frozen one must be able to die
            kill(proc)


def _exit_with_parent() -> None:
    # A test run that dies must not leave pollers behind holding leases in the test Redis.
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str]) -> None:
    from ingest import poller, worker

    _exit_with_parent()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings.from_env(os.environ).with_(imap_timeout_s=5.0)
    match argv:
        case ["poll", lease_ms]:
            poller.run(settings, poller.PollerConfig(lease_ttl_ms=int(lease_ms),
                                                     backoff_max_s=1.0))
        case ["worker"]:
            worker.run(settings, burst=True)
        case ["worker", "serve"]:
            worker.run(settings)
        case _:
            raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])

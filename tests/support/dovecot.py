"""A private, unprivileged Dovecot IMAP server on loopback, for tests and the benchmark.

Runs as ``nobody`` through ``setpriv`` with every path under one temp dir (no chroot, since an
unprivileged master cannot chroot its login processes). Mail is delivered by writing Maildir
files (fast, for preloading) or by IMAP APPEND from the client side.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from desk.embedded import free_port

DOVECOT = "/usr/sbin/dovecot"
USER = "support"
PASSWORD = "imap-test-password"

_CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = sbtest-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{root}/mail/%u
mail_fsync = never
imap_idle_notify_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


class Dovecot:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="sb-dovecot-"))
        self.port = free_port()
        self.user = USER
        self.password = PASSWORD
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def maildir(self) -> Path:
        return self.root / "mail" / self.user

    def start(self) -> None:
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        conf = self.root / "dovecot.conf"
        conf.write_text(_CONFIG.format(root=self.root, port=self.port, user="nobody",
                                       group="nogroup"))
        for sub in ("new", "cur", "tmp"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        subprocess.run(["chown", "-R", "nobody:nogroup", str(self.root)], check=True)
        os.chmod(self.root, 0o755)
        self.proc = subprocess.Popen(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
             DOVECOT, "-F", "-c", str(conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the whole process group: the server vanishes without a goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def reset_uidvalidity(self) -> None:
        """Forget UIDs (as after a server migration): the next start picks a new UIDVALIDITY."""
        self.stop()
        time.sleep(1.1)  # Dovecot derives UIDVALIDITY from the clock in seconds
        for path in self.maildir.glob("dovecot*"):
            if path.is_file():
                path.unlink()
            else:
                shutil.rmtree(path)
        self.start()

    def deliver(self, raw: bytes, *, seen: bool = False) -> Path:
        """Drop a mail into the Maildir the way an MDA does (tmp, then rename)."""
        name = f"{time.time_ns()}.{uuid.uuid4().hex}.sbtest"
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(raw)
        os.chown(tmp, 65534, 65534)
        final = self.maildir / ("cur" if seen else "new") / (name + (":2,S" if seen else ""))
        os.rename(tmp, final)
        return final

    def log(self) -> str:
        try:
            return (self.root / "dovecot.log").read_text()[-4000:]
        except FileNotFoundError:
            return ""

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running() -> Iterator[Dovecot]:
    """A started server, removed afterwards; fails (not skips) when Dovecot is missing."""
    if not Path(DOVECOT).exists() or shutil.which("setpriv") is None:
        raise RuntimeError("dovecot-imapd is not installed (apt-get install -y dovecot-imapd)")
    # Not under pytest's tmp_path: its parent is 0700 root, and Dovecot runs as nobody.
    server = Dovecot()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()

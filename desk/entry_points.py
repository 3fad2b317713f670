"""The one place that imports by name at run time: the process entry points and functions of
realtime, routing and ingest that desk calls without importing them, so the package dependency
arrows stay one-way (tests/test_imports.py checks each name exists)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from desk.settings import Settings

ENTRY_POINTS = {
    "web": "realtime.server:serve",
    "worker": "ingest.worker:run",
    "poll": "ingest.poller:run",
    "timers": "routing.timers:run",
    "mailcatcher": "ingest.catcher:run",
}
# (settings, N): N web processes on one port under a supervisor (``switchboard web --processes``).
WEB_PROCESSES = "realtime.server:serve_processes"
# (settings, mailbox id) -> (ok, message): logs in to a stored mailbox over IMAP (blocking:
# it runs its own event loop, so the web process calls it in a thread).
MAILBOX_CHECK = "ingest.poller:check_mailbox"


def by_name(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def entry_point(name: str) -> Callable[[Settings], None]:
    func: Callable[[Settings], None] = by_name(ENTRY_POINTS[name])
    return func


def check_mailbox(settings: Settings, mailbox_id: int) -> tuple[bool, str]:
    """(True, the folder's message count) or (False, the exact failure)."""
    ok, message = by_name(MAILBOX_CHECK)(settings, mailbox_id)
    return bool(ok), str(message)

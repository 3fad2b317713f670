"""Prometheus metrics of every process (web, worker, poller), built once per process.

``Metrics.build(settings, process)`` is called by each entry point (the web app factory, the
worker, the poller) and the object is passed down; there is no module-level registry. Labelled
series that the hot paths touch (frames, sockets) are bound once here, so a frame costs one
counter increment and no label lookup.

Several processes (``switchboard web --processes N``, the worker, the poller) share one
directory, ``SWITCHBOARD_METRICS_DIR``: each writes its own memory-mapped files there
(prometheus-client's multiprocess mode) and any web process's ``/metrics`` reads them all, so
a scrape that lands on any process sees the whole host. ``/metrics?process=self`` is only the
process that answers. Without the directory, every process keeps its values in memory and a web
process reports itself only (the worker's and poller's are then not exported).

prometheus-client picks its storage when a metric is made, from ``PROMETHEUS_MULTIPROC_DIR``:
``build`` copies the setting there (and switches the library's value class) before making the
first metric, so nothing is read at import time.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from desk.settings import Settings

PREFIX = "switchboard"
SOCKET_KINDS = ("visitor", "agent", "supervisor")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
TICKET_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 86400)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LIVE_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


@dataclass(frozen=True, slots=True)
class SocketMetrics:
    """One socket kind's series, bound once: what a connection touches per frame."""

    open: Gauge
    frames_in: Counter
    frames_out: Counter


class Metrics:
    """Every series Switchboard exports. One per process; see the module docstring."""

    def __init__(self, directory: Path | None, process: str) -> None:
        self.directory = directory
        self.process = process
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        sockets = Gauge(f"{PREFIX}_ws_open_sockets", "Open WebSocket connections by kind",
                        ["kind"], registry=r, multiprocess_mode="livesum")
        frames_in = Counter(f"{PREFIX}_ws_frames_in", "WebSocket frames received", ["kind"],
                            registry=r)
        frames_out = Counter(f"{PREFIX}_ws_frames_out", "WebSocket frames sent", ["kind"],
                             registry=r)
        self.sockets = {k: SocketMetrics(sockets.labels(k), frames_in.labels(k),
                                         frames_out.labels(k)) for k in SOCKET_KINDS}
        self.ack_seconds = Histogram(
            f"{PREFIX}_message_ack_seconds",
            "Chat message received to its ack sent (stored and committed)",
            registry=r, buckets=LATENCY_BUCKETS)
        self.writer_batch = Histogram(
            f"{PREFIX}_writer_batch_messages", "Messages per group-commit batch of the writer",
            registry=r, buckets=BATCH_BUCKETS)
        self.router_decisions = Counter(
            f"{PREFIX}_router_decisions", "Routing decisions recorded, by outcome",
            ["outcome"], registry=r)
        self.offers_expired = Counter(
            f"{PREFIX}_offers_expired", "Offers that were not accepted in time", registry=r)
        self.imap_time_to_ticket = Histogram(
            f"{PREFIX}_imap_time_to_ticket_seconds",
            "Mail's Date header to its ticket committed (the sender's clock), by mailbox",
            ["mailbox"], registry=r, buckets=TICKET_BUCKETS)
        self.imap_mails = Counter(
            f"{PREFIX}_imap_mails", "Mails imported, by mailbox and what they became",
            ["mailbox", "status"], registry=r)
        self.imap_errors = Counter(
            f"{PREFIX}_imap_errors", "Mailbox faults (connection, protocol, quarantined mail)",
            ["mailbox"], registry=r)
        self.outbound_mail = Counter(
            f"{PREFIX}_outbound_mail", "Outbound mail send attempts, by resulting state",
            ["state"], registry=r)
        self.rule_firings = Counter(
            f"{PREFIX}_rule_firings", "Automation rules fired, by rule id", ["rule"], registry=r)
        self.http_requests = Counter(
            f"{PREFIX}_http_requests", "HTTP requests by route template, method and status",
            ["route", "method", "status"], registry=r)
        self.http_seconds = Histogram(
            f"{PREFIX}_http_request_seconds", "HTTP request duration by route template",
            ["route"], registry=r, buckets=LATENCY_BUCKETS)

    @classmethod
    def build(cls, settings: Settings, process: str) -> Metrics:
        directory = settings.metrics_dir
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            forget_dead(directory)
            if os.environ.get("PROMETHEUS_MULTIPROC_DIR") != str(directory):
                os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
                values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        return cls(directory, process)

    def render(self, *, own_only: bool = False, extra: CollectorRegistry | None = None) -> bytes:
        """The text exposition: every process sharing the directory, or this one only."""
        if self.directory is None:
            body = generate_latest(self.registry)
        else:
            registry = CollectorRegistry()
            if own_only:
                registry.register(_Merged(glob.glob(str(self.directory / f"*_{os.getpid()}.db"))))
            else:
                multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
                    registry, path=str(self.directory))
            body = generate_latest(registry)
        return body + (generate_latest(extra) if extra is not None else b"")



class _Merged(Collector):
    """The multiprocess collector over a chosen set of files (one process's)."""

    def __init__(self, files: list[str]) -> None:
        self.files = files

    def collect(self) -> Iterable[Metric]:
        merged: Iterable[Metric] = multiprocess.MultiProcessCollector.merge(  # type: ignore[no-untyped-call]
            self.files, accumulate=True)
        return merged


def process_exited(directory: Path, pid: int) -> None:
    """A process of the set ended: its live gauges (open sockets) stop counting."""
    multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


def forget_dead(directory: Path) -> None:
    """Drop the live-gauge files of processes that no longer run (a killed process never
    marked itself dead); each process does it as it starts. Counters stay: they are totals."""
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        match = _LIVE_FILE.match(path.name)
        if match and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

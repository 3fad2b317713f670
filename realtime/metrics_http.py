"""``GET /metrics`` (Prometheus text format) and the HTTP request counter of the web process.

Who may scrape: a peer on loopback that came through no proxy (a request carrying
``Forwarded``/``X-Forwarded-For`` came from elsewhere, whatever the peer), or anyone with
``Authorization: Bearer <SWITCHBOARD_METRICS_TOKEN>``. Everyone else gets 403 and no data.

The queue gauges (length and oldest wait per group) are read from the live routing state at
scrape time, so every process reports the same figures and none keeps them up to date.
"""

from __future__ import annotations

import hmac
import ipaddress
import time

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from desk.http import error_response
from desk.metrics import CONTENT_TYPE, PREFIX, Metrics
from desk.models import Group
from desk.settings import Settings

UNMATCHED = "unmatched"  # every path no route knows: scanners must not mint series


def may_scrape(request: Request, settings: Settings) -> bool:
    token = settings.metrics_token
    given = request.headers.get("authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    if "forwarded" in request.headers or "x-forwarded-for" in request.headers:
        return False
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Queues(Collector):
    def __init__(self, rows: list[tuple[int, str, int, float | None]]) -> None:
        self.rows = rows

    def collect(self) -> list[GaugeMetricFamily]:
        length = GaugeMetricFamily(f"{PREFIX}_queue_length", "Conversations queued per group",
                                   labels=["group", "group_name"])
        oldest = GaugeMetricFamily(f"{PREFIX}_queue_oldest_wait_seconds",
                                   "Wait of the longest-queued conversation per group",
                                   labels=["group", "group_name"])
        for group_id, name, n, wait in self.rows:
            length.add_metric([str(group_id), name], n)
            oldest.add_metric([str(group_id), name], wait or 0.0)
        return [length, oldest]


async def _queues(request: Request) -> CollectorRegistry:
    state = request.app.state
    async with state.sm() as s:
        groups = list((await s.execute(select(Group.id, Group.name).order_by(Group.id))).all())
    stats = await state.router.store.queue_stats([g for g, _ in groups])
    now_ms = time.time() * 1000
    rows = [(g, name, stats[g][0], None if stats[g][1] is None
             else max(0.0, (now_ms - stats[g][1]) / 1000)) for g, name in groups]
    registry = CollectorRegistry()
    registry.register(_Queues(rows))
    return registry


async def metrics_page(request: Request) -> Response:
    """The process's series (``?process=self``: this process only, else the whole host)."""
    state = request.app.state
    if not may_scrape(request, state.settings):
        return error_response(403, "forbidden", "metrics need the metrics token or loopback")
    metrics: Metrics = state.metrics
    own = request.query_params.get("process") == "self"
    body = metrics.render(own_only=own, extra=await _queues(request))
    return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


def metrics_routes() -> list[BaseRoute]:
    return [Route("/metrics", metrics_page, methods=["GET"])]


def route_templates(routes: list[BaseRoute]) -> dict[object, str]:
    """Endpoint -> its path template, the label of its requests (no ids in label values)."""
    out: dict[object, str] = {}
    for route in routes:
        if isinstance(route, Route):
            out.setdefault(route.endpoint, route.path)
        elif isinstance(route, Mount):
            out.setdefault(route.app, route.path + "/{path}")
    return out


class HttpMetrics:
    """Counts every HTTP request by route template, method and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: Metrics, templates: dict[object, str]) -> None:
        self.app = app
        self.requests = metrics.http_requests
        self.seconds = metrics.http_seconds
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            route = self.templates.get(scope.get("endpoint"), UNMATCHED)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.requests.labels(route, method, str(status)).inc()
            self.seconds.labels(route).observe(time.perf_counter() - started)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

"""``/metrics``: after real traffic the Prometheus text (parsed by prometheus-client's own parser)
holds the right counts, summed over the web processes that share the metrics directory; and it
is refused to a stranger without the token."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from desk.db import SessionMaker
from desk.metrics import Metrics
from desk.settings import Settings
from realtime.app import create_app
from routing.router import Router
from tests.realtime.conftest import Clients, Org, WebFactory, api, start_chat

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "pid"))
            out[(s.name, labels)] = out.get((s.name, labels), 0.0) + s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(base: str, query: str = "") -> Samples:
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{base}/metrics{query}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


async def test_counts_after_traffic_summed_over_two_processes(
        web: WebFactory, clients: Clients, org: Org, tmp_path: Path) -> None:
    (w,) = await web(1, TEST_WEB_PROCESSES="2",
                     SWITCHBOARD_METRICS_DIR=str(tmp_path / "metrics"))
    v = await clients.visitor(w)  # auth: 1 frame in
    cid = await start_chat(v, org.dept, "hello")  # start_chat: 1 in, the first message acked
    for i in range(3):
        await v.send(type="message", conversation_id=cid, client_id=f"m{i}", text=f"n{i}")
        await v.expect("ack", client_id=f"m{i}")
    await v.quiet()  # every frame sent has arrived
    queued = await scrape(w.http)
    assert value(queued, "switchboard_ws_open_sockets", kind="visitor") == 1
    assert value(queued, "switchboard_ws_frames_in_total", kind="visitor") == 5
    assert value(queued, "switchboard_ws_frames_out_total", kind="visitor") == len(v.frames)
    assert value(queued, "switchboard_message_ack_seconds_count") == 4
    assert value(queued, "switchboard_writer_batch_messages_sum") == 4
    assert value(queued, "switchboard_router_decisions_total", outcome="queued") == 1
    assert value(queued, "switchboard_queue_length", group=str(org.group),
                 group_name="L1") == 1
    assert value(queued, "switchboard_queue_oldest_wait_seconds", group=str(org.group),
                 group_name="L1") >= 0
    assert value(queued, "switchboard_http_requests_total", route="/api/visitor/session",
                 method="POST", status="200") == 1

    ana = await clients.staff(w, "ana@x.test")
    await ana.send(type="accept", conversation_id=cid)
    await v.expect("assigned")
    assert (await api(w, "GET", "/api/conversations/999999", "ana@x.test")).status_code == 404
    await v.close()
    after = await scrape(w.http)
    assert value(after, "switchboard_ws_open_sockets", kind="visitor") == 0
    assert value(after, "switchboard_ws_open_sockets", kind="agent") == 1
    # Taken from the queue (no offer was made): a pick.
    assert value(after, "switchboard_router_decisions_total", outcome="picked") == 1
    assert value(after, "switchboard_queue_length", group=str(org.group), group_name="L1") == 0
    assert value(after, "switchboard_http_requests_total", route="/api/conversations/{id:int}",
                 method="GET", status="404") == 1
    # One process's own view is part of the whole.
    own = await scrape(w.http, "?process=self")
    assert value(own, "switchboard_ws_frames_in_total", kind="visitor") <= 5


async def _statuses(settings: Settings, sm: SessionMaker, redis: aioredis.Redis,
                    *asks: tuple[str, dict[str, str]]) -> list[int]:
    """The status of GET /metrics from each (peer address, headers). What the handler reads
    of the app's state is set up here, without the hub's start-up (nothing else is needed)."""
    metrics = Metrics.build(settings, "web")
    app = create_app(settings, metrics=metrics)
    app.state.settings, app.state.metrics, app.state.sm = settings, metrics, sm
    app.state.router = Router(settings, redis, sm)
    out = []
    for peer, headers in asks:
        transport = httpx.ASGITransport(app=app, client=(peer, 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://sb.test") as http:
            out.append((await http.get("/metrics", headers=headers)).status_code)
    return out


async def test_refused_without_token_from_elsewhere(settings: Settings, sm: SessionMaker,
                                                    redis: aioredis.Redis) -> None:
    token = "t" * 32
    stranger = "203.0.113.9"
    assert await _statuses(
        settings.with_(metrics_token=token), sm, redis,
        (stranger, {}),
        (stranger, {"Authorization": "Bearer wrong" + "x" * 30}),
        (stranger, {"Authorization": f"Bearer {token}"}),
        ("127.0.0.1", {}),
        # Through a proxy on this host: the peer is loopback, the request is not.
        ("127.0.0.1", {"X-Forwarded-For": "198.51.100.7"}),
    ) == [403, 403, 200, 200, 403]
    assert await _statuses(settings, sm, redis, (stranger, {"Authorization": "Bearer "}),
                           ("::1", {})) == [403, 200]


def test_dashboard_shows_every_series_and_only_real_ones() -> None:
    doc = json.loads((Path(__file__).parents[2] / "docs" / "grafana-dashboard.json").read_text())
    queried = {re.sub(r"_(total|bucket|sum|count)$", "", name)
               for panel in doc["panels"] for target in panel["targets"]
               for name in re.findall(r"switchboard_\w+", target["expr"])}
    exported = {family.name for family in Metrics(None, "test").registry.collect()}
    exported |= {"switchboard_queue_length", "switchboard_queue_oldest_wait_seconds"}
    assert queried == exported

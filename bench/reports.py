"""Benchmark the reports on PostgreSQL: a generated year of activity, then the report API.

Generates, from a fixed seed (tests/support/report_data.py), ``--conversations``
conversations over the year before 1 December 2026 with about ten messages each and the
report facts desk.facts writes for them (created, assigned with the wait, first response and
every response, SLA met/breached, resolved, closed, ratings, abandoned chats), 200 agents in 8
groups, contacts in 300 organisations; bulk-loads them with COPY into a throwaway database.
The closed days are rolled up (desk.report_rollups.build, what the worker does; timed).
Then, through the real app in-process (ASGI, a private redis-server), as an admin:

- ``overview``: ``GET /api/reports/overview`` of a random 30-day range by day;
- ``per_agent``: ``GET /api/reports/agents`` of a random 30-day range;
- ``drilldown``: the ``resolved`` conversations of one random day;

and the conversation export (``report_export.export_lines``, the streamed CSV's generator) of
the whole year, counting rows per second and sampling this process's RSS while it streams.

Last line: JSON with ``overview_p99_ms``, ``per_agent_p99_ms``, ``drilldown_p99_ms``,
``export_rows_per_s``, ``export_peak_rss_mib`` (and the RSS when the export starts, after
the report queries) and the sizes. The issue's full size:
``python -m bench.reports --conversations 1000000`` (10,000,000 messages); the default is
small so a run stays within a couple of minutes on the 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import orjson
from sqlalchemy import text

from desk import report_math as rm
from desk import report_rollups, reports
from desk.auth import Principal, hash_password
from desk.db import SessionMaker, make_engine, make_sessionmaker
from desk.models import Agent, AgentGroup, Base, Department, Group, Organisation
from desk.report_export import export_lines
from desk.settings import Settings
from realtime.app import create_app
from tests.support.databases import PostgresServer, drop_database
from tests.support.redis_server import PrivateRedis
from tests.support.report_data import Batch, World, generate
from tests.support.stats import percentile

END = datetime(2026, 12, 1, tzinfo=UTC)
GROUPS = 8
AGENTS = 200
ORGANISATIONS = 300
PASSWORD = "bench password 1"
# The viewers' zone, and the reporting zone the rollups are built in.
ZONE = "Europe/Berlin"
COLUMNS = {
    "conversations": ("id", "number", "channel", "status", "priority", "department_id",
                      "group_id", "assignee_id", "contact_id", "subject", "topic",
                      "required_skills", "custom_fields", "last_seq", "rating", "created_at",
                      "updated_at"),
    "messages": ("id", "conversation_id", "seq", "author_kind", "author_id", "visibility",
                 "body", "created_at"),
    "report_facts": ("id", "kind", "conversation_id", "at", "channel", "department_id",
                     "group_id", "agent_id", "topic", "organisation_id", "priority", "value",
                     "data"),
}
JSON_COLUMNS = {"required_skills", "custom_fields", "data"}


async def seed_world(sm: SessionMaker, contacts: int) -> World:
    async with sm() as s:
        s.add_all([Department(id=1, name="Sales"), Department(id=2, name="Support")])
        await s.flush()
        s.add_all([Group(id=g, department_id=1 + g % 2, name=f"G{g}")
                   for g in range(1, GROUPS + 1)])
        s.add_all([Organisation(id=o, name=f"Org {o}") for o in range(1, ORGANISATIONS + 1)])
        await s.flush()
        admin = Agent(id=AGENTS + 1, email="admin@bench.test", display_name="Admin",
                      role="admin", password_hash=hash_password(PASSWORD))
        s.add(admin)
        members: dict[int, list[int]] = {g: [] for g in range(1, GROUPS + 1)}
        for a in range(1, AGENTS + 1):
            groups = sorted({1 + a % GROUPS, 1 + (a * 7) % GROUPS})
            s.add(Agent(id=a, email=f"agent{a}@bench.test", display_name=f"Agent {a}",
                        password_hash="x", groups=[AgentGroup(group_id=g) for g in groups]))
            for g in groups:
                members[g].append(a)
        await s.commit()
    return World([(g, 1 + g % 2) for g in range(1, GROUPS + 1)], members,
                 [(c, 1 + c % ORGANISATIONS if c % 5 else None) for c in range(1, contacts + 1)])


def _records(rows: list[dict[str, Any]], table: str) -> list[tuple[Any, ...]]:
    cols = COLUMNS[table]
    return [tuple(orjson.dumps(r.get(c)).decode() if c in JSON_COLUMNS else r.get(c)
                  for c in cols) for r in rows]


async def load(dsn: str, world: World, conversations: int, seed: int) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    counts = dict.fromkeys(COLUMNS, 0)
    try:
        await conn.copy_records_to_table("contacts", records=[
            (c, f"customer{c}@org.test", False, f"Customer {c}", org, False, "", END)
            for c, org in world.contacts], columns=[
            "id", "email", "email_verified", "name", "organisation_id", "undeliverable",
            "token_nonce", "created_at"])
        batch: Batch
        for batch in generate(world, conversations, END, seed=seed, days=365, batch=10_000):
            for table, rows in (("conversations", batch.conversations),
                                ("messages", batch.messages), ("report_facts", batch.facts)):
                await conn.copy_records_to_table(table, records=_records(rows, table),
                                                 columns=list(COLUMNS[table]))
                counts[table] += len(rows)
    finally:
        await conn.close()
    return counts


def _rss_mib() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def timed(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> float:
    t0 = time.perf_counter()
    r = await client.get(path, params=params)
    ms = (time.perf_counter() - t0) * 1000
    if r.status_code != 200:
        raise RuntimeError(f"{path}: {r.status_code} {r.text[:200]}")
    return ms


def _day(rng: random.Random, last: int) -> date:
    return (END - timedelta(days=1 + rng.randrange(last))).date()


async def measure_api(settings: Settings, queries: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed + 1)
    app = create_app(settings)
    timings: dict[str, list[float]] = {"overview": [], "per_agent": [], "drilldown": []}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                     timeout=120) as c:
            r = await c.post("/api/auth/login", json={"email": "admin@bench.test",
                                                      "password": PASSWORD})
            r.raise_for_status()
            for i in range(queries + 3):
                start = _day(rng, 335)
                month = {"from": start.isoformat(),
                         "to": (start + timedelta(days=30)).isoformat(), "tz": ZONE}
                day = _day(rng, 365)
                one = {"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat(),
                       "tz": ZONE, "kind": "resolved",
                       "agent_id": str(1 + rng.randrange(AGENTS))}
                got = (await timed(c, "/api/reports/overview", month),
                       await timed(c, "/api/reports/agents", month),
                       await timed(c, "/api/reports/drilldown", one))
                if i >= 3:  # the first few warm the pool and the caches
                    for k, ms in zip(timings, got, strict=True):
                        timings[k].append(ms)
    return {f"{k}_p99_ms": round(percentile(v, 0.99), 1) for k, v in timings.items()} | {
        f"{k}_p50_ms": round(percentile(v, 0.5), 1) for k, v in timings.items()}


async def measure_export(sm: SessionMaker) -> dict[str, float]:
    admin = Principal(AGENTS + 1, "admin", "Admin", "", "", frozenset())
    zone = ZoneInfo("UTC")
    r = reports.Range(END - timedelta(days=366), END, zone, rm.Grain.MONTH)
    rows = 0
    start_rss = peak = _rss_mib()
    t0 = time.perf_counter()
    async for chunk in export_lines(sm, admin, r, "http://bench"):
        rows += chunk.count(b"\n")
        peak = max(peak, _rss_mib())
    elapsed = time.perf_counter() - t0
    return {"export_rows": rows - 1, "export_rows_per_s": round((rows - 1) / elapsed),
            "export_peak_rss_mib": round(peak, 1), "export_start_rss_mib": round(start_rss, 1),
            "export_s": round(elapsed, 1)}


async def main_async(args: argparse.Namespace, url: str, redis_url: str) -> dict[str, Any]:
    settings = Settings.from_env({"DATABASE_URL": url, "REDIS_URL": redis_url,
                                  "SWITCHBOARD_MODE": "test", "SWITCHBOARD_LOG_LEVEL": "warning",
                                  "SWITCHBOARD_REPORT_TZ": ZONE,
                                  "SWITCHBOARD_SECRET_KEY": "bench-" + "x" * 40})
    engine = make_engine(settings)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sm = make_sessionmaker(engine)
    t0 = time.perf_counter()
    world = await seed_world(sm, max(1, args.conversations // 4))
    counts = await load(url.replace("+asyncpg", ""), world, args.conversations, args.seed)
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    result: dict[str, Any] = {"conversations": counts["conversations"],
                              "messages": counts["messages"], "facts": counts["report_facts"],
                              "agents": AGENTS, "load_s": round(time.perf_counter() - t0, 1)}
    # What the worker does for the closed days (desk.report_rollups), timed.
    t0 = time.perf_counter()
    result["rollup_days"] = await report_rollups.build(sm, ZoneInfo(ZONE), datetime.now(UTC))
    result["rollup_build_s"] = round(time.perf_counter() - t0, 1)
    result |= await measure_api(settings, args.queries, args.seed)
    result |= await measure_export(sm)
    await engine.dispose()
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--conversations", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    server = PostgresServer.from_env()
    url = server.create_database(prefix="sbbench_reports")
    try:
        with PrivateRedis() as redis_server:
            result = asyncio.run(main_async(args, url, redis_server.url()))
    finally:
        drop_database(server, url)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

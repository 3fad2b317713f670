"""Benchmark search (desk.search) on PostgreSQL: text + filter queries over generated tickets.

Generates, from a fixed seed, ``--messages`` messages in ``--messages / 5`` conversations
(subjects and bodies drawn from a Zipf-distributed synthetic vocabulary, so a few words are in
most messages and most words in few), with contacts in organisations, groups, agents, statuses,
channels, priorities and a year of dates; bulk-loads them with COPY into a throwaway database,
then builds the full-text indexes (desk.fts) and analyzes. Then runs ``--queries`` searches
through ``desk.search.search`` — the API's own query — as an admin and as an agent of two
groups: rare, medium and common words, two words, phrases, each alone and with filters
(status, group, channel, priority, date range, assignee, contact email), and second pages
through the cursor.

Last line: JSON with p50_ms, p99_ms (all queries), max_ms, per-kind p99, and the counts.
Full size as the issue states it: ``python -m bench.search --messages 1000000``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import text

from desk import fts
from desk.auth import Principal
from desk.db import SessionMaker, make_engine, make_sessionmaker
from desk.models import CHANNELS, Agent, Base, Department, Group, Organisation
from desk.search import search
from desk.search_query import Cursor, SearchRequest, parse_text
from desk.settings import Settings
from tests.support.databases import PostgresServer, drop_database
from tests.support.stats import percentile

VOCABULARY = 30_000
GROUPS = 8
AGENTS = 40
ORGANISATIONS = 300
START = datetime(2025, 12, 1, tzinfo=UTC)
STATUSES = (("closed", 55), ("resolved", 20), ("pending", 8), ("active", 7), ("queued", 10))
SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "da", "fi", "gu",
             "ho", "ja", "be", "co", "xi", "yu", "wa")


def vocabulary(rng: random.Random) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < VOCABULARY:
        words["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))] = None
    return list(words)


class Data:
    """The generated records, as rows for COPY."""

    def __init__(self, seed: int, messages: int) -> None:
        self.rng = rng = random.Random(seed)
        self.words = vocabulary(rng)
        cum: list[float] = []
        total = 0.0
        for rank in range(1, VOCABULARY + 1):
            total += 1 / rank
            cum.append(total)
        self.cum = cum
        self.n_conv = max(1, messages // 5)
        self.n_contacts = max(1, self.n_conv // 4)
        self.n_messages = messages

    def draw(self, k: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cum, k=k)

    def contacts(self) -> list[tuple[Any, ...]]:
        return [(i, f"customer{i}@org{i % ORGANISATIONS}.test", True, f"Customer {i}",
                 1 + i % ORGANISATIONS, False, "", START) for i in range(1, self.n_contacts + 1)]

    def conversations(self) -> tuple[list[tuple[Any, ...]], list[int]]:
        rng = self.rng
        statuses = [s for s, _ in STATUSES]
        weights = [w for _, w in STATUSES]
        counts = [rng.randint(1, 9) for _ in range(self.n_conv)]
        scale = self.n_messages / sum(counts)
        counts = [max(1, round(c * scale)) for c in counts]
        rows = []
        for i in range(1, self.n_conv + 1):
            created = START + timedelta(seconds=rng.randrange(365 * 86400))
            status = rng.choices(statuses, weights)[0]
            rows.append((i, f"SB-{1_000_000 + i}", rng.choice(CHANNELS), status,
                         rng.choice((1, 2, 2, 2, 3, 4)), 1 + i % 2, 1 + rng.randrange(GROUPS),
                         None if status == "queued" else 1 + rng.randrange(AGENTS),
                         1 + rng.randrange(self.n_contacts), " ".join(self.draw(5)).title(),
                         "{}", "{}", counts[i - 1], created,
                         created + timedelta(seconds=rng.randrange(7 * 86400))))
        return rows, counts

    def messages(self, counts: Sequence[int]) -> list[tuple[Any, ...]]:
        rng = self.rng
        total = sum(counts)
        lengths = [rng.randint(6, 30) for _ in range(total)]
        words = self.draw(sum(lengths))
        rows = []
        at = mid = 0
        for cid, n in enumerate(counts, 1):
            for seq in range(1, n + 1):
                body = " ".join(words[at:at + lengths[mid]])
                at += lengths[mid]
                mid += 1
                staff = seq % 2 == 0
                visibility = "internal" if staff and seq % 6 == 0 else "public"
                rows.append((mid, cid, seq, "agent" if staff else "contact",
                             1 + cid % AGENTS if staff else None, visibility, body,
                             START + timedelta(seconds=cid * 131 % (365 * 86400))))
        return rows


async def seed_small(sm: SessionMaker) -> None:
    """Departments, groups, agents and organisations through the models (their defaults)."""
    async with sm() as s:
        s.add_all([Department(id=1, name="Sales"), Department(id=2, name="Support")])
        await s.flush()
        s.add_all([Group(id=g, department_id=1 + g % 2, name=f"G{g}")
                   for g in range(1, GROUPS + 1)])
        s.add_all([Agent(id=a, email=f"agent{a}@desk.test", display_name=f"Agent {a}",
                         password_hash="x") for a in range(1, AGENTS + 1)])
        s.add_all([Organisation(id=o, name=f"Org {o}", domains=[f"org{o}.test"])
                   for o in range(1, ORGANISATIONS + 1)])
        await s.commit()


async def load(dsn: str, data: Data) -> dict[str, float]:
    conn = await asyncpg.connect(dsn)
    t0 = time.perf_counter()
    try:
        await conn.copy_records_to_table("contacts", records=data.contacts(), columns=[
            "id", "email", "email_verified", "name", "organisation_id", "undeliverable",
            "token_nonce", "created_at"])
        conversations, counts = data.conversations()
        await conn.copy_records_to_table("conversations", records=conversations, columns=[
            "id", "number", "channel", "status", "priority", "department_id", "group_id",
            "assignee_id", "contact_id", "subject", "required_skills", "custom_fields",
            "last_seq", "created_at", "updated_at"])
        messages = data.messages(counts)
        await conn.copy_records_to_table("messages", records=messages, columns=[
            "id", "conversation_id", "seq", "author_kind", "author_id", "visibility", "body",
            "created_at"])
        loaded = time.perf_counter()
    finally:
        await conn.close()
    return {"load_s": loaded - t0, "messages": len(messages),
            "conversations": len(conversations)}


Make = Callable[[random.Random], SearchRequest]


def kinds(data: Data, phrases: Sequence[str]) -> dict[str, Make]:
    words = data.words

    def word(lo: int, hi: int) -> Callable[[random.Random], str]:
        return lambda rng: words[rng.randrange(lo, hi)]

    rare, medium, common = word(2_000, VOCABULARY), word(100, 2_000), word(0, 100)

    def with_filter(rng: random.Random, req: SearchRequest) -> SearchRequest:
        match rng.randrange(6):
            case 0:
                return _replace(req, statuses=("pending", "queued", "active"))
            case 1:
                return _replace(req, group_id=1 + rng.randrange(2))  # the agent's too
            case 2:
                return _replace(req, channels=(rng.choice(CHANNELS),), priorities=(1,))
            case 3:
                day = START + timedelta(days=rng.randrange(330))
                return _replace(req, active_from=day, active_before=day + timedelta(days=30))
            case 4:
                return _replace(req, assignee=1 + rng.randrange(AGENTS))
        contact = 1 + rng.randrange(data.n_contacts)
        return _replace(req, email=f"customer{contact}@org{contact % ORGANISATIONS}.test")

    def text(q: Callable[[random.Random], str]) -> Make:
        return lambda rng: SearchRequest(terms=parse_text(q(rng)))

    def filtered(q: Callable[[random.Random], str]) -> Make:
        return lambda rng: with_filter(rng, SearchRequest(terms=parse_text(q(rng))))

    return {
        "rare": text(rare), "medium": text(medium), "common": text(common),
        "two_words": text(lambda rng: f"{medium(rng)} {rare(rng)}"),
        "phrase": text(lambda rng: f'"{rng.choice(phrases)}"'),
        "rare+filter": filtered(rare), "medium+filter": filtered(medium),
        "common+filter": filtered(common),
        "filter_only": lambda rng: with_filter(rng, SearchRequest()),
    }


def _replace(req: SearchRequest, **changes: Any) -> SearchRequest:
    return dataclasses.replace(req, **changes)


async def run_queries(sm: SessionMaker, data: Data, n: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed + 1)
    async with sm() as s:
        bodies = (await s.execute(text(
            "SELECT body FROM messages TABLESAMPLE SYSTEM (1) LIMIT 500"))).scalars().all()
    phrases = [" ".join(b.split()[i:i + 2]) for b in bodies for i in (0, 2)]
    makers = kinds(data, phrases)
    admin = Principal(1, "admin", "Admin", "s", "c", frozenset())
    agent = Principal(2, "agent", "Agent", "s", "c", frozenset({1, 2}))
    timings: dict[str, list[float]] = {k: [] for k in makers}
    timings["next_page"] = []
    found = 0
    for _ in range(5):  # warm the connection pool and the caches a little
        await search(sm, admin, makers["medium"](rng))
    for i in range(n):
        kind = list(makers)[i % len(makers)]
        req = makers[kind](rng)
        who = admin if i % 2 else agent
        t0 = time.perf_counter()
        page = await search(sm, who, req)
        timings[kind].append((time.perf_counter() - t0) * 1000)
        found += len(page.rows)
        if page.next_cursor is not None and i % 3 == 0:
            nxt = _replace(req, cursor=Cursor.decode(page.next_cursor.encode()))
            t0 = time.perf_counter()
            await search(sm, who, nxt)
            timings["next_page"].append((time.perf_counter() - t0) * 1000)
    every = [t for ts in timings.values() for t in ts]
    return {
        "queries": len(every),
        "p50_ms": round(percentile(every, 0.50), 2),
        "p99_ms": round(percentile(every, 0.99), 2),
        "max_ms": round(max(every), 2),
        "p99_ms_by_kind": {k: round(percentile(ts, 0.99), 2) for k, ts in timings.items() if ts},
        "mean_rows": round(found / n, 1),
    }


async def main_async(args: argparse.Namespace, url: str) -> dict[str, Any]:
    settings = Settings.from_env({"DATABASE_URL": url, "SWITCHBOARD_MODE": "test",
                                  "SWITCHBOARD_SECRET_KEY": "bench-" + "x" * 40})
    engine = make_engine(settings)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    t0 = time.perf_counter()
    await seed_small(make_sessionmaker(engine))
    data = Data(args.seed, args.messages)
    result: dict[str, Any] = await load(url.replace("+asyncpg", ""), data)
    result["generate_and_load_s"] = round(time.perf_counter() - t0, 1)
    t1 = time.perf_counter()
    async with engine.begin() as conn:
        await conn.execute(text("SET maintenance_work_mem = '256MB'"))
        await conn.run_sync(fts.apply)
        await conn.execute(text("ANALYZE"))
    result["index_s"] = round(time.perf_counter() - t1, 1)
    result.pop("load_s")
    result.update(await run_queries(make_sessionmaker(engine), data, args.queries,
                                    args.seed))
    await engine.dispose()
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--queries", type=int, default=900)
    ap.add_argument("--seed", type=int, default=13)
    server = PostgresServer.from_env()
    url = server.create_database(prefix="sbbench_search")
    try:
        result = asyncio.run(main_async(ap.parse_args(argv), url))
    finally:
        drop_database(server, url)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

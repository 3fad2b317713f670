"""Benchmark the due timers: open conversations with SLAs and the inactivity ladder, simulated
time advanced one week in steps, two sweepers at once, on PostgreSQL.

A seeded generator (``--seed``) writes ``--conversations`` open conversations (default the
issue's 100,000; created over ``--history-days`` before the start, a fifth of them
``pending``, so their clocks are paused and the ladder runs) on two calendars (office hours in
Berlin with a holiday, and 24/7) under six policies, and ``--rules`` automation rules (one SLA
warning at N%, one idle rule, the other 18 on breaches: every breach evaluates those 18
against the conversation) with their timers, by COPY; a timer due before the start is left
out (the run starts from a worker that kept up). Then it advances a simulated clock from the
start (a Tuesday, 10:00 in Berlin) by ``--step-min`` minutes (default 60) for ``--hours``
(default 168: the issue's week), and at each step two sweeper processes (``ingest.due.sweep``,
as two ``switchboard worker``s would) drain what is due; the clock moves on when both found
nothing left.

What is simulated: time, and nothing else happens meanwhile — no agent answers, no customer
replies — so every clock that runs out in the week breaches, every pending case climbs the
ladder, the idle rule fires on every email case once. Each firing does its real effects
(breach stamped, audit and report rows, tags and priorities set by the rules, ladder mails
staged). A step of an hour fires a timer up to an hour after its due time, as a worker that
was down that long would (the catch-up path); the sweep's cost does not depend on the step.
With the generator's mix a week is about 0.9 firings per conversation (86,000 for the
default), most of them in its first hours (the clocks of the conversations created in the
week before).

The expected firings are computed by the generator alone (every timer it wrote with a due time
inside the span); ``missed_firings`` are those without a
``timer_firings`` row at the end, ``double_firings`` the repeats in the audit trail (one row
per effect, so a second firing of one key would show there twice). Mails are staged as in
production; the mail guard is left out (it is Redis, and would refuse most of a week of
reminders to the generator's few hundred addresses within the hour).

Last line: JSON with conversations, firings, double_firings, missed_firings, sweep_p99_ms
(one sweep = one transaction of up to ``--batch`` firings, default ``ingest.due.BATCH``),
worker_cpu_s, and the load average during the run (the figures are wall-clock times: on a
shared machine they say as much about the neighbours as about the sweep).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from desk import automation, automation_store, inactivity, sla
from desk import business_hours as bh
from desk.db import SessionMaker, make_engine, make_sessionmaker
from desk.models import (
    AuditEvent,
    AutomationRule,
    BusinessCalendar,
    Contact,
    Conversation,
    ConversationSla,
    Department,
    DueTimer,
    SlaPolicy,
    TimerFiring,
)
from desk.schema import create_all
from desk.settings import Settings
from desk.sla_store import CLOCK_FIELDS, LADDER, sla_kind
from ingest import due
from tests.support.databases import PostgresServer, drop_database
from tests.support.stats import percentile

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Berlin: office hours
OFFICE = {"timezone": "Europe/Berlin",
          "hours": {d: [["08:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
          "holidays": ["2026-12-03"]}
CHUNK = 5000


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


async def _seed_org(sm: SessionMaker, rng: random.Random, n_rules: int) -> dict[str, Any]:
    async with sm() as s:
        depts = [Department(name=f"Dept {i}", email_address=f"d{i}@desk.example")
                 for i in range(4)]
        office = BusinessCalendar(name="office", definition=bh.to_json(bh.parse(OFFICE)))
        s.add_all([*depts, office])
        await s.flush()
        policies = []
        for i in range(6):
            targets = {"first_response": rng.choice([1800, 3600, 4 * 3600, 8 * 3600]),
                       "next_response": rng.choice([3600, 8 * 3600]),
                       "resolution": rng.choice([1, 2, 3, 5]) * 8 * 3600}
            policies.append(SlaPolicy(
                name=f"policy {i}", department_id=depts[i % 4].id if i < 4 else None,
                position=i, targets=targets, calendar_id=office.id if i % 2 == 0 else None,
                conditions={"priorities": [1]} if i == 1 else {}))
        s.add_all(policies)
        rules = [AutomationRule(name=f"rule {i}", enabled=True, definition=_rule(i, rng))
                 for i in range(n_rules)]
        s.add_all(rules)
        await s.flush()
        contacts = [{"email": f"customer{i}@example.org", "name": f"C{i}", "token_nonce": "n"}
                    for i in range(500)]
        contact_ids = list((await s.execute(insert(Contact).returning(Contact.id),
                                            contacts)).scalars())
        await s.commit()
        return {"depts": [d.id for d in depts], "contacts": contact_ids,
                "calendars": {office.id: bh.parse(OFFICE)},
                "policies": [sla.Policy(p.id, p.department_id, p.position,
                                        sla.Conditions(frozenset(p.conditions.get(
                                            "priorities", []))), p.targets, p.calendar_id)
                             for p in policies],
                "rules": [automation.parse(r.id, r.version, r.definition, True)
                          for r in rules]}


def _rule(i: int, rng: random.Random) -> dict[str, Any]:
    """Rule 0: an SLA warning; 1: idle; the rest react to breaches (most desks' rules are
    event rules; each timed rule is one more timer, and in a week one more firing, per open
    conversation). Every breach evaluates the 18 breach rules."""
    if i < 1:
        return {"event": "sla_warning", "params": {"target": "first_response",
                                                   "percent": rng.choice([50, 75, 90])},
                "conditions": [{"field": "priority", "op": "in", "value": [i % 3 + 1]}],
                "actions": [{"type": "add_tag", "value": f"warned-{i}"}]}
    if i < 2:
        return {"event": "idle", "params": {"seconds": rng.choice([24, 48]) * 3600},
                "conditions": [{"field": "channel", "op": "in", "value": ["email"]}],
                "actions": [{"type": "set_priority", "value": 1}]}
    return {"event": "sla_breached",
            "conditions": [{"field": "priority", "value": [i % 3 + 1]},
                           {"field": "business_hours", "value": [i % 2 == 0]}],
            "actions": [{"type": "add_tag", "value": f"late-{i}"}]}


def _generate(org: dict[str, Any], n: int, rng: random.Random, history_s: int
              ) -> Iterator[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]]:
    """Per conversation: its row, its clocks' row, its timers (conversation_id filled later).
    Created within ``history_s`` before the start; a timer due before the start is left out
    (the desk's worker fired it then: the run starts with a worker that kept up)."""
    rules = org["rules"]
    for i in range(n):
        created = START - timedelta(seconds=rng.randrange(0, history_s))
        pending = rng.random() < 0.2
        conv = {"id": i + 1, "number": f"SB-{1_000_000 + i}",
                "channel": rng.choice(["email", "chat"]),
                "status": "pending" if pending else "active", "priority": rng.choice([1, 2, 3]),
                "department_id": rng.choice(org["depts"]), "contact_id":
                rng.choice(org["contacts"]), "subject": f"Question {i}",
                "created_at": created, "updated_at": created}
        facts = sla.Facts(conv["department_id"], conv["priority"], None, conv["channel"], None)
        policy = sla.select_policy(org["policies"], facts)
        assert policy is not None
        cal = org["calendars"].get(policy.calendar_id, bh.ALWAYS)
        state = sla.on_created(policy.targets, cal, created)
        row: dict[str, Any] = {"policy_id": policy.id, "calendar_id": policy.calendar_id,
                               "pending_since": None}
        timers: list[dict[str, Any]] = []
        if pending:
            anchor = max(created + (START - created) * rng.random(), created)
            state = sla.paused(state, cal, anchor)
            row["pending_since"] = anchor
            first = inactivity.next_step(inactivity.DEFAULT, anchor)
            assert first is not None
            timers.append({"kind": LADDER, "instance": first.instance, "due_at": first.at})
        row["paused"] = state.paused
        for t, c in state.clocks.items():
            row.update({f"{t}_{f}": getattr(c, f) for f in CLOCK_FIELDS})
            if c.open and c.due is not None and c.started_at is not None:
                timers.append({"kind": sla_kind(t), "instance": c.started_at.isoformat(),
                               "due_at": c.due})
        conv["sla_due"] = state.due()
        for kind, instance, at in automation.rule_timers(rules, state, cal, created):
            timers.append({"kind": kind, "instance": instance, "due_at": at})
        yield conv, row, [t for t in timers if t["due_at"] >= START]


async def _copy(s: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """COPY the rows (every one with the first's keys) into ``table``: the bulk of the seed."""
    conn = await s.connection()
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    columns = list(rows[0])
    await raw.copy_records_to_table(table.name, columns=columns,
                                    records=[tuple(r[c] for c in columns) for r in rows])


async def _seed(sm: SessionMaker, org: dict[str, Any], n: int, rng: random.Random,
                end: datetime, history_s: int) -> set[tuple[str, int, str]]:
    expected: set[tuple[str, int, str]] = set()
    batch: list[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]] = []

    async def flush() -> None:
        async with sm() as s:
            await _copy(s, _table(Conversation), [
                {**c, "required_skills": "{}", "custom_fields": "{}", "last_seq": 0}
                for c, _, _ in batch])
            await _copy(s, _table(ConversationSla), [
                {**r, "conversation_id": c["id"]} for c, r, _ in batch])
            timers: list[dict[str, Any]] = [{**t, "conversation_id": c["id"]}
                                            for c, _, ts in batch for t in ts]
            await _copy(s, _table(DueTimer), timers)
            await s.commit()
        expected.update((t["kind"], t["conversation_id"], t["instance"])
                        for t in timers if t["due_at"] <= end)
        batch.clear()

    for item in _generate(org, n, rng, history_s):
        batch.append(item)
        if len(batch) >= CHUNK:
            await flush()
    if batch:
        await flush()
    async with sm() as s:  # the ids were given: the sequence goes past them
        await s.execute(text("SELECT setval(pg_get_serial_sequence('conversations', 'id'), "
                             "(SELECT max(id) FROM conversations))"))
        await s.commit()
    return expected


async def _drain(sm: SessionMaker, settings: Settings, now: datetime,
                 times: list[float], batch: int, parsed: automation_store.Parsed) -> None:
    while True:
        t0 = time.perf_counter()
        swept = await due.sweep(sm, settings, now, batch=batch, parsed=parsed)
        if not swept.taken:
            return
        times.append((time.perf_counter() - t0) * 1000)


async def _sweeper(settings: Settings, end: datetime, step: timedelta, batch: int,
                   barrier: Any) -> tuple[list[float], float]:
    """One worker's sweeps: every step drained, then waiting for the others at ``barrier``
    (the clock moves on when every sweeper found nothing due)."""
    engine = make_engine(settings)
    sm = make_sessionmaker(engine)
    times: list[float] = []
    parsed: automation_store.Parsed = {}
    cpu0 = time.process_time()
    try:
        now = START
        while now <= end:
            await _drain(sm, settings, now, times, batch, parsed)
            await asyncio.to_thread(barrier.wait)
            now += step
    finally:
        await engine.dispose()
    return times, time.process_time() - cpu0


def _sweeper_process(settings: Settings, end: datetime, step: timedelta, batch: int,
                     barrier: Any, out: Any) -> None:
    out.put(asyncio.run(_sweeper(settings, end, step, batch, barrier)))


def _run(settings: Settings, end: datetime, step: timedelta, sweepers: int,
         batch: int) -> tuple[list[float], float]:
    """The sweepers as processes, as that many ``switchboard worker``s are: each sweep's
    time is its own, not shared with another sweep's Python on one event loop."""
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(sweepers), ctx.Queue()
    procs = [ctx.Process(target=_sweeper_process,
                         args=(settings, end, step, batch, barrier, out))
             for _ in range(sweepers)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return [t for times, _ in results for t in times], sum(cpu for _, cpu in results)


async def _doubles(sm: SessionMaker) -> int:
    async with sm() as s:
        rows = (await s.execute(select(AuditEvent.target, AuditEvent.action,
                                       AuditEvent.data))).all()
    keys = Counter((t, a, json.dumps({k: v for k, v in (d or {}).items()
                                      if k in ("target", "step", "rule", "instance")},
                                     sort_keys=True))
                   for t, a, d in rows if a.startswith(("sla.breached", "ladder.", "rule.")))
    return sum(c - 1 for c in keys.values() if c > 1)


async def main(args: argparse.Namespace, url: str) -> dict[str, object]:
    data = Path(tempfile.mkdtemp(prefix="sb-bench-timers-"))
    settings = Settings.from_env({"SWITCHBOARD_MODE": "test", "DATABASE_URL": url,
                                  "SWITCHBOARD_SECRET_KEY": "bench-" + "x" * 40,
                                  "SWITCHBOARD_DATA_DIR": str(data)})
    engine = make_engine(settings)
    try:
        await create_all(engine)
        sm = make_sessionmaker(engine)
        rng = random.Random(args.seed)
        end = START + timedelta(hours=args.hours)
        org = await _seed_org(sm, rng, args.rules)
        t0 = time.perf_counter()
        expected = await _seed(sm, org, args.conversations, rng, end,
                               int(args.history_days * 86400))
        seed_s = time.perf_counter() - t0
        times, cpu = await asyncio.to_thread(_run, settings, end,
                                             timedelta(minutes=args.step_min), args.sweepers,
                                             args.batch)
        async with sm() as s:
            fired = set((await s.execute(select(TimerFiring.kind, TimerFiring.conversation_id,
                                                TimerFiring.instance))).all())
            late = await s.scalar(select(func.count()).select_from(DueTimer).where(
                DueTimer.due_at <= end))
        kinds = Counter(k.split(":")[0] if k.startswith(("sla", "event")) else k
                        for k, _, _ in fired)
        return {"conversations": args.conversations, "rules": args.rules,
                "simulated_hours": args.hours, "seed_s": round(seed_s, 1),
                "firings": len(fired), "expected": len(expected),
                "firings_by_kind": dict(sorted(kinds.items())),
                "double_firings": await _doubles(sm),
                "missed_firings": len(expected - fired) + int(late or 0),
                "sweeps": len(times), "sweep_p50_ms": round(percentile(times, 0.5), 2),
                "sweep_p99_ms": round(percentile(times, 0.99), 2),
                "sweep_max_ms": round(max(times, default=0.0), 2),
                "worker_cpu_s": round(cpu, 2), "batch": args.batch,
                "load_average": [round(x, 2) for x in os.getloadavg()]}
    finally:
        await engine.dispose()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # The 100,000 open conversations and its simulated week. The open count sets the
    # table and index sizes the sweep works against; the simulated span sets the firings.
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--rules", type=int, default=20)
    parser.add_argument("--hours", type=float, default=168, help="simulated span")
    parser.add_argument("--history-days", type=float, default=7,
                        help="the conversations were created over this span before the start")
    parser.add_argument("--step-min", type=float, default=60)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--sweepers", type=int, default=2,
                        help="concurrent sweeps, as that many workers would run")
    parser.add_argument("--batch", type=int, default=due.BATCH,
                        help="firings per sweep (one transaction)")
    server = PostgresServer.from_env()
    url = server.create_database("sbbench")
    try:
        result = asyncio.run(main(parser.parse_args(), url))
    finally:
        drop_database(server, url)
    print(json.dumps(result))


if __name__ == "__main__":
    cli()

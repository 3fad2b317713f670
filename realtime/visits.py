"""Who's On, the I/O part: page views into Redis, agents' lists pushed as coalesced deltas,
invitations (an agent's or an auto-invite rule's) and their answers.

A visit is live state only (``routing.keys``: ``visit``, ``visits_arrivals``,
``visits_seen``), every key with an expiry: a visitor unheard of for ``visit_idle_s`` has left,
and whether one is returning is remembered for ``visit_retention_s``; no address is stored.
The widget reports nothing when the site has tracking off or the browser sends Do Not Track or
Global Privacy Control (docs/protocol.md); the server refuses page views of a site with tracking
off too.

Page views cost one Redis round trip each (two when a visit begins) and never a push: every
``visit_push_ms`` a process that has watching sockets reads, per watched site, who
changed since the last tick and each watched page's ids, and sends each socket only what its
page gained, lost or changed (``realtime.whoson.page_delta``). A thousand page views a second
from one visitor are cut by the socket's bucket and a per-visitor counter, and reach agents as
at most one row per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select

from desk import business_hours, invitations, site_config, visit_rules
from desk.background import stop_tasks
from desk.models import AgentGroup, BusinessCalendar, Group, Site
from realtime import protocol as p
from realtime import protocol_visits as pv
from realtime import records, whoson
from realtime.connection import Connection
from realtime.context import Context
from realtime.errors import CommandError
from routing import keys

log = logging.getLogger("switchboard.realtime")

CONFIG_CACHE_S = 5.0
INVITATION_TTL_S = 300
LEFT_GRACE_MS = 30_000  # a closed socket's visitor stays listed this long (the next page loads)
CHANGED_OVERLAP_MS = 2_000  # re-read a little of the last tick: clocks of processes differ
GONE_BATCH = 5_000

# (visitor's socket, invitation's agent id or None for a rule's, client id) -> conversation id
StartInvited = Callable[[Connection, int | None, str, str | None], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class SiteFacts:
    name: str
    config: dict[str, Any]
    group_ids: frozenset[int] | None  # None: every group (the site names no department)


def _ms() -> int:
    return int(time.time() * 1000)


class Visits:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.redis = ctx.hub.redis
        self.settings = ctx.settings
        self.watches: dict[Connection, whoson.Watch] = {}
        self.sent: dict[Connection, dict[int, pv.VisitorRow]] = {}
        self._sites: dict[int, tuple[float, SiteFacts | None]] = {}
        self._loading: dict[int, asyncio.Future[SiteFacts | None]] = {}
        self._last_tick: dict[int, int] = {}
        self._visitor: dict[int, records.VisitorLogin] = {}  # conn id -> the socket's login
        self._task: asyncio.Task[None] | None = None
        self._timers: dict[int, asyncio.TimerHandle] = {}  # conn id -> pending auto-invite
        self.start_invited: StartInvited | None = None
        lua = resources.files("routing") / "lua" / "page_view.lua"
        self._page_view = self.redis.register_script(lua.read_text())

    # --- sites -----------------------------------------------------------------------------

    async def site(self, site_id: int) -> SiteFacts | None:
        """The site's facts, read at most once per ``CONFIG_CACHE_S`` however many page views
        ask meanwhile: the first miss reads, the others wait for that read, and an expired
        entry is served while its refresh runs (a page view never queues on the database)."""
        hit = self._sites.get(site_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        loading = self._loading.get(site_id)
        if loading is None:
            loading = asyncio.ensure_future(self._load_site(site_id))
            self._loading[site_id] = loading
            loading.add_done_callback(lambda _: self._loading.pop(site_id, None))
        if hit is not None:
            return hit[1]
        return await asyncio.shield(loading)

    async def _load_site(self, site_id: int) -> SiteFacts | None:
        async with self.ctx.sm() as s:
            row = await s.get(Site, site_id)
            facts = None
            if row is not None:
                config = row.config or {}
                depts = site_config.department_ids(config)
                groups = None if not depts else frozenset((await s.execute(
                    select(Group.id).where(Group.department_id.in_(depts)))).scalars().all())
                facts = SiteFacts(row.name, config, groups)
        self._sites[site_id] = (time.monotonic() + CONFIG_CACHE_S, facts)
        return facts

    @staticmethod
    def may_watch(conn: Connection, facts: SiteFacts) -> bool:
        """THE rule of who sees a site's visitors (and may invite them): staff of the site's
        groups (any group when the site names no department), admins always."""
        principal = conn.principal
        if principal is None:
            return False
        if principal.is_admin:
            return True
        groups = facts.group_ids
        return bool(principal.group_ids) if groups is None else any(
            principal.can_access(g) for g in groups)

    async def watchable(self, conn: Connection) -> list[pv.SiteChoice]:
        async with self.ctx.sm() as s:
            ids = (await s.execute(select(Site.id).order_by(Site.id).limit(100))).scalars().all()
        out = []
        for site_id in ids:
            facts = await self.site(site_id)
            if facts is not None and self.may_watch(conn, facts):
                out.append(pv.SiteChoice(site_id, facts.name))
        return out

    # --- the visitor's side ----------------------------------------------------------------

    def known(self, conn: Connection, login: records.VisitorLogin) -> None:
        """The visitor's socket is authenticated: what its login read is all a visit it
        begins needs from the records."""
        self._visitor[conn.conn_id] = login

    async def viewed(self, conn: Connection, view: pv.PageView) -> None:
        site_id, vid = conn.site_id, conn.contact_id
        login = self._visitor.get(conn.conn_id)
        if site_id is None or vid is None or login is None:
            return  # a case page's socket is not a visit
        facts = await self.site(site_id)
        if facts is None or not visit_rules.tracking_on(facts.config):
            return
        now = _ms()
        stored = await self.record(site_id, vid, view, login, now)
        if stored is not None:
            await self._consider_rules(conn, facts, stored, now)

    async def record(self, site_id: int, vid: int, view: pv.PageView,
                     login: records.VisitorLogin, now: int) -> dict[bytes, bytes] | None:
        """THE storage of a page view, the socket's and the beacon's: one script call
        (``routing/lua/page_view.lua``); the visit as stored, or None past the visitor's
        per-second limit (the views that passed say where the visitor is). The caller checked
        the site tracks."""
        fields = whoson.view_fields(view, now)
        start = whoson.visit_start(view, now, login.chatted, login.verified_name)
        args: list[Any] = [self.settings.visit_views_per_s, now,
                           self.settings.visit_idle_s * 1000, self.settings.visit_retention_s,
                           vid, int(view.repeat), len(fields)]
        for pairs in (fields, start):
            for k, v in pairs.items():
                args += [k, v]
        out = await self._page_view(keys=[
            keys.visit_views(site_id, vid), keys.visit(site_id, vid),
            keys.visit_history(site_id, vid), keys.visits_arrivals(site_id),
            keys.visits_seen(site_id)], args=args)
        if not out:
            return None
        return dict(zip(out[::2], out[1::2], strict=True))

    async def chatting(self, conn: Connection) -> None:
        """The visitor is in a chat now: shown so, and no rule invites them meanwhile."""
        if conn.site_id is None or conn.contact_id is None:
            return
        vkey = keys.visit(conn.site_id, conn.contact_id)
        with contextlib.suppress(RedisError, OSError):
            if await self.redis.exists(vkey):
                pipe = self.redis.pipeline(transaction=True)
                pipe.hset(vkey, "on", 1)
                pipe.zadd(keys.visits_seen(conn.site_id), {str(conn.contact_id): _ms()}, xx=True)
                await pipe.execute()

    async def left(self, conn: Connection) -> None:
        """The widget's socket closed: the visitor leaves the list soon unless a page of the
        site opens again (a navigation closes one socket and opens the next)."""
        self.forget(conn)
        self._visitor.pop(conn.conn_id, None)
        timer = self._timers.pop(conn.conn_id, None)
        if timer is not None:
            timer.cancel()
        if conn.site_id is None or conn.contact_id is None or conn.agent_id is not None:
            return
        soon = _ms() - self.settings.visit_idle_s * 1000 + LEFT_GRACE_MS
        with contextlib.suppress(RedisError, OSError):
            await self.redis.zadd(keys.visits_seen(conn.site_id), {str(conn.contact_id): soon},
                                  xx=True)

    # --- auto-invite rules -----------------------------------------------------------------

    async def _consider_rules(self, conn: Connection, facts: SiteFacts,
                              stored: dict[bytes, bytes], now: int) -> None:
        visit = whoson.row(conn.contact_id or 0, stored)
        if visit is None or visit.chatting:
            return
        found = visit_rules.first_match(facts.config, visit_rules.VisitFacts(
            visit.url, visit.referrer, visit.pages, visit.returning,
            (now - visit.page_since) / 1000))
        if found is None:
            return
        index, rule = found
        old = self._timers.pop(conn.conn_id, None)
        if old is not None:
            old.cancel()
        wait = visit_rules.delay(rule, visit_rules.VisitFacts(
            visit.url, visit.referrer, visit.pages, visit.returning, 0.0))
        self._timers[conn.conn_id] = asyncio.get_running_loop().call_later(
            wait, lambda: self.ctx.hub.spawn(self._auto_invite(conn, index, visit.page_since)))

    async def _auto_invite(self, conn: Connection, index: int, page_since: int) -> None:
        self._timers.pop(conn.conn_id, None)
        site_id, vid = conn.site_id, conn.contact_id
        facts = await self.site(site_id) if site_id is not None else None
        if conn.closed or facts is None or site_id is None or vid is None:
            return
        rules = visit_rules.rules(facts.config)
        if index >= len(rules):
            return
        rule = rules[index]
        visit = whoson.row(vid, await self.redis.hgetall(keys.visit(site_id, vid)))
        if visit is None or visit.chatting or visit.page_since != page_since:
            return  # moved on to another page (its own view decides), or chatting
        if not await self._rule_open(rule, facts):
            return
        if not await self.redis.hsetnx(keys.visit(site_id, vid), f"rule:{index}", 1):
            return  # this rule invited on this visit already
        await self._send_invitation(site_id, vid, None, facts.name,
                                    rule.get("text") or "Can we help you?", rule=index)

    async def _rule_open(self, rule: dict[str, Any], facts: SiteFacts) -> bool:
        """The rule's conditions outside the visit: its calendar open, an agent available."""
        if "calendar_id" in rule:
            async with self.ctx.sm() as s:
                cal = await s.get(BusinessCalendar, rule["calendar_id"])
            if cal is None or not business_hours.is_open(business_hours.parse(cal.definition),
                                                         datetime.now(UTC)):
                return False
        if rule.get("agents_available"):
            return await self._anyone_online(facts)
        return True

    async def _anyone_online(self, facts: SiteFacts) -> bool:
        query = select(AgentGroup.agent_id, AgentGroup.group_id)
        if facts.group_ids is not None:
            query = query.where(AgentGroup.group_id.in_(sorted(facts.group_ids)))
        async with self.ctx.sm() as s:
            members = (await s.execute(query)).all()
        for agent_id, group_id in members:
            if await self.ctx.router.is_online(agent_id) and \
                    group_id in await self.ctx.router.active_groups(agent_id):
                return True
        return False

    # --- invitations -----------------------------------------------------------------------

    async def invite(self, conn: Connection, site_id: int, visitor_id: int, text: str) -> None:
        facts = await self.site(site_id)
        if facts is None or not self.may_watch(conn, facts):
            raise CommandError("forbidden", "not a site of your groups")
        visit = whoson.row(visitor_id, await self.redis.hgetall(keys.visit(site_id, visitor_id)))
        if visit is None:
            raise CommandError("not_found", "that visitor is no longer on the site")
        if visit.chatting:
            raise CommandError("conflict", "that visitor is in a chat already")
        ident = conn.session.identity
        assert ident is not None and conn.agent_id is not None
        if not await self._send_invitation(site_id, visitor_id, conn.agent_id, ident.name,
                                           text or "Hello! Can I help you?"):
            raise CommandError("rate_limited", "that visitor was invited enough today")
        conn.send(p.Done("invite_visitor"))

    async def _send_invitation(self, site_id: int, visitor_id: int, agent_id: int | None,
                               agent_name: str, text: str, rule: int | None = None) -> bool:
        """Invite unless the visitor's daily cap is reached (False); the records count it."""
        facts = await self.site(site_id)
        cap = visit_rules.invites_per_day(facts.config if facts else {})
        day = datetime.now(UTC).strftime("%Y%m%d")
        counter = keys.invitations_today(site_id, visitor_id, day)
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(counter)
        pipe.expire(counter, 86400)
        if (await pipe.execute())[0] > cap:
            return False
        inv = secrets.token_hex(8)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.invitation(inv), mapping={
            "site": site_id, "visitor": visitor_id, "agent": agent_id or 0, "state": "open"})
        pipe.expire(keys.invitation(inv), INVITATION_TTL_S)
        await pipe.execute()
        async with self.ctx.sm() as s:
            invitations.sent(s, inv, site_id, agent_id, rule)
            await s.commit()
        self.ctx.hub.publish_to_visitor(visitor_id, site_id, pv.Invitation(
            inv, whoson.clean(agent_name, 120), whoson.clean(text, pv.INVITE_TEXT_MAX)))
        return True

    async def answer(self, conn: Connection, frame: pv.InvitationAnswer) -> None:
        """The visitor's yes or no; an invitation names its visitor, and only they answer."""
        key = keys.invitation(frame.invitation_id)
        inv = await self.redis.hgetall(key)
        if (not inv or conn.contact_id is None
                or int(inv.get(b"visitor", 0)) != conn.contact_id
                or int(inv.get(b"site", 0)) != conn.site_id):
            raise CommandError("forbidden", "not an invitation of yours")
        if not await self.redis.hsetnx(key, "answered", 1):
            raise CommandError("conflict", "that invitation was answered already")
        agent_id = int(inv.get(b"agent", 0)) or None
        cid = None
        if frame.accept:
            assert self.start_invited is not None
            cid = await self.start_invited(conn, agent_id, frame.client_id, frame.language)
        await self.redis.hset(key, "state", "accepted" if frame.accept else "declined")
        async with self.ctx.sm() as s:
            await invitations.answered(s, frame.invitation_id, frame.accept, cid)
            await s.commit()
        if agent_id is not None:
            self.ctx.hub.publish_to_agent(agent_id, pv.InvitationOutcome(
                frame.invitation_id, conn.contact_id,
                "accepted" if frame.accept else "declined", cid))
        if not frame.accept:
            conn.send(p.Done("invitation_answer"))

    # --- agents' lists ---------------------------------------------------------------------

    async def watch(self, conn: Connection, frame: pv.WatchVisitors) -> None:
        sites = await self.watchable(conn)
        site_id = frame.site_id if frame.site_id is not None else (
            sites[0].id if sites else None)
        if site_id is None or all(s.id != site_id for s in sites):
            raise CommandError("forbidden", "not a site of your groups")
        watch = whoson.Watch(site_id, frame.offset, frame.limit)
        self.watches[conn] = watch
        self.sent[conn] = {}
        ids, total = await self._page(site_id, watch.offset, watch.limit)
        rows = await self._rows(site_id, ids)
        watch.shown = tuple(v for v in ids if v in rows)
        watch.total = total
        self.sent[conn] = {v: rows[v] for v in watch.shown}
        conn.send(pv.Visitors(site_id, total, watch.offset,
                                tuple(rows[v] for v in watch.shown), _ms(), tuple(sites)))
        self._last_tick.setdefault(site_id, _ms())
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._ticks(), name="visits")

    def forget(self, conn: Connection) -> None:
        self.watches.pop(conn, None)
        self.sent.pop(conn, None)

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        await stop_tasks([self._task])

    async def _page(self, site_id: int, offset: int, limit: int) -> tuple[list[int], int]:
        return (await self._pages(site_id, [(offset, limit)]))[(offset, limit)]

    async def _pages(self, site_id: int, wanted: list[tuple[int, int]]
                     ) -> dict[tuple[int, int], tuple[list[int], int]]:
        """Each (offset, limit) page's ids and the list's total, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for offset, limit in wanted:
            pipe.zrevrange(keys.visits_arrivals(site_id), offset, offset + limit - 1)
        pipe.zcard(keys.visits_arrivals(site_id))
        *pages, total = await pipe.execute()
        return {w: ([int(v) for v in ids], int(total))
                for w, ids in zip(wanted, pages, strict=True)}

    async def _rows(self, site_id: int, ids: list[int]) -> dict[int, pv.VisitorRow]:
        pipe = self.redis.pipeline(transaction=False)
        for v in ids:
            pipe.hgetall(keys.visit(site_id, v))
        out = {}
        for v, h in zip(ids, await pipe.execute(), strict=True):
            found = whoson.row(v, h)
            if found is not None:
                out[v] = found
        return out

    async def _ticks(self) -> None:
        interval = self.settings.visit_push_ms / 1000
        loop = asyncio.get_running_loop()
        due = loop.time()
        while self.watches:
            due += interval
            await asyncio.sleep(max(0.0, due - loop.time()))
            due = max(due, loop.time() - interval)  # a slow tick is not made up for in a burst
            try:
                for site_id in sorted({w.site_id for w in self.watches.values()}):
                    await self._tick(site_id)
            except (RedisError, OSError) as exc:  # the next tick tries again
                log.warning("visitors not pushed: %r", exc)
        self._task = None

    async def _tick(self, site_id: int) -> None:
        """One push to every socket watching the site: three round trips, however many."""
        now = _ms()
        since = self._last_tick.get(site_id, now) - CHANGED_OVERLAP_MS
        self._last_tick[site_id] = now
        seen_key, arr_key = keys.visits_seen(site_id), keys.visits_arrivals(site_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrangebyscore(seen_key, f"({since}", "+inf")
        pipe.zrangebyscore(seen_key, "-inf", now - self.settings.visit_idle_s * 1000,
                           start=0, num=GONE_BATCH)
        changed_raw, gone = await pipe.execute()
        if gone:
            pipe = self.redis.pipeline(transaction=True)
            pipe.zrem(arr_key, *gone)
            pipe.zrem(seen_key, *gone)
            await pipe.execute()
        changed = {int(v) for v in changed_raw}
        watching = []
        for conn, w in list(self.watches.items()):
            if conn.closed:
                self.forget(conn)
            elif w.site_id == site_id:
                watching.append((conn, w))
        if not watching:
            return
        pages = await self._pages(site_id, sorted({(w.offset, w.limit) for _, w in watching}))
        deltas = []
        for conn, w in watching:
            ids, total = pages[(w.offset, w.limit)]
            delta = whoson.page_delta(w, ids, changed, total)
            if not delta.empty:
                deltas.append((conn, w, ids, total, delta))
        need = sorted({v for *_, d in deltas for v in d.need})
        rows = await self._rows(site_id, need) if need else {}
        texts: dict[tuple[Any, ...], str] = {}
        for conn, w, ids, total, delta in deltas:
            self._push(conn, w, ids, total, delta, rows, now, texts)

    def _push(self, conn: Connection, w: whoson.Watch, ids: list[int], total: int,
              delta: whoson.Delta, rows: dict[int, pv.VisitorRow], now: int,
              texts: dict[tuple[Any, ...], str]) -> None:
        """Send ``conn`` what its page lost, gained or changed; sockets of one tick that are
        owed the same delta (agents on one page) share its serialized text."""
        sent = self.sent.setdefault(conn, {})
        upserts = tuple(rows[v] for v in delta.need if v in rows and sent.get(v) != rows[v])
        page = tuple(v for v in ids if v in rows or (v in sent and v not in delta.need))
        removed = tuple(v for v in w.shown if v not in page)
        order = page if page != w.shown else None
        if not (upserts or removed or order is not None or total != w.total):
            return
        for v in removed:
            sent.pop(v, None)
        sent.update((r.visitor_id, r) for r in upserts)
        w.shown, w.total = page, total
        # Within a tick a visitor's row is one object, so its id names it.
        key = (total, tuple(r.visitor_id for r in upserts), removed, order)
        text = texts.get(key)
        if text is None:
            text = texts[key] = p.serialize_text(
                pv.VisitorsDelta(w.site_id, total, upserts, removed, order, now))
        conn.push(text)

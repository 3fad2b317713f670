"""The Router's plumbing, shared by its parts (routing.dispatch, routing.staffing,
routing.router): configuration read from the records, the one record write of a decision, the
events published after it.

Order of every state change: the Lua script decides atomically in Redis, then the records are
written (decision row + conversation status/assignee), then an event is published. If the
record write fails the Redis step is undone, so nothing is acknowledged that the records lack.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from desk import audit, automation_store, facts, sla_store
from desk.metrics import Metrics
from desk.models import Conversation
from desk.settings import Settings
from routing import errors, events, keys, records
from routing.policy import AgentView
from routing.presence import Presence
from routing.records import AgentConfig, GroupConfig
from routing.store import AgentLive, ConvState, Store, db_index

log = logging.getLogger(__name__)

# Router decisions that are assignments or transfers: each also goes to the audit trail.
AUDITED = frozenset({"accepted", "active", "transferred"})


class RouterCore:
    """What every part of the Router uses: its clients, clock and counters, the records'
    configuration, the decision write and the events."""

    def __init__(self, settings: Settings, redis: aioredis.Redis,
                 sessionmaker: async_sessionmaker[AsyncSession], *,
                 clock: Callable[[], float] = time.time, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics  # None: not counted (tests, tools)
        self.store = Store(redis)
        self.events_channel = keys.events_channel(db_index(redis))
        self.presence = Presence(redis, settings.presence_ttl_s, settings.presence_grace_s)
        self.sessions = sessionmaker
        self.clock = clock
        self._rebuilding: asyncio.Lock = asyncio.Lock()
        self._swept_at = float("-inf")
        self._unseen: dict[int, float] = {}  # last sweep: queued in the records only

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- configuration from the records ----------------------------------------------------------

    async def _group(self, group_id: int) -> GroupConfig:
        async with self.sessions() as s:
            cfg = await records.group_config(s, group_id)
        if cfg is None:
            raise errors.UnknownGroup(f"group {group_id} does not exist")
        return cfg

    async def _agent(self, agent_id: int) -> AgentConfig:
        async with self.sessions() as s:
            found = (await records.agent_configs(s, [agent_id])).get(agent_id)
        if found is None:
            raise errors.UnknownAgent(f"agent {agent_id} does not exist or is disabled")
        return found

    async def _held(self, conversation_id: int) -> ConvState:
        conv = await self.store.conv(conversation_id)
        if conv is None:
            raise errors.NotQueued(f"conversation {conversation_id} is not being routed")
        return conv

    async def _write(self, conversation_id: int, agent_id: int | None, action: str,
                     reason: str, candidates: dict[str, Any] | None = None,
                     **changes: Any) -> None:
        """One decision row plus the conversation's new status/assignee/group, atomically."""
        async with self.sessions() as s, s.begin():
            conv = await s.get(Conversation, conversation_id)
            if conv is None:
                raise errors.UnknownConversation(f"conversation {conversation_id} not found")
            now = datetime.fromtimestamp(self.clock(), UTC)
            if "status" in changes:
                await sla_store.status_changed(s, conv, conv.status, changes["status"], now,
                                               why=reason)
            if action in AUDITED:
                audit.record(s, f"routing.{action}", conversation_id, why=reason, at=now,
                             agent_id=agent_id, group_id=changes.get("group_id", conv.group_id))
                await automation_store.note_events(s, conversation_id, ["assigned"], now)
                group = changes.get("group_id", conv.group_id)
                if action == "transferred":
                    facts.transferred(s, conv, agent_id, now, group)
                if changes.get("assignee_id") is not None:
                    await facts.assigned(s, conv, changes["assignee_id"], now, group)
            for name, value in changes.items():
                setattr(conv, name, value)
            records.add_decision(s, conversation_id, agent_id, action, reason, candidates,
                                 at=self.clock())
        self._decided(action)

    def _decided(self, *outcomes: str) -> None:
        """Count committed decisions (desk.metrics), one per decision row."""
        if self.metrics is not None:
            for outcome in outcomes:
                self.metrics.router_decisions.labels(outcome).inc()

    async def _publish(self, *evs: events.Event) -> None:
        await self.store.publish(self.events_channel, [events.dump(ev) for ev in evs])

    def _views(self, live: Mapping[int, AgentLive],
               skills: Mapping[int, Mapping[str, int]]) -> dict[int, AgentView]:
        return {a: AgentView(a, s.online, s.active, s.chats, s.tickets, s.max_chats,
                             s.max_tickets, skills.get(a, {}))
                for a, s in live.items()}


"""Agent presence shared by every process: a heartbeat key with an expiry per agent.

An agent is online while ``heartbeat(a)`` exists (set with PX = presence TTL on every beat).
``presence()`` remembers each agent's last beat so the timer loop can tell when one has been
gone for longer than TTL + grace and their chats must be re-queued.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from routing import keys
from routing.store import text


class Presence:
    def __init__(self, redis: aioredis.Redis, ttl_s: int, grace_s: int) -> None:
        self.redis = redis
        self.ttl_ms = ttl_s * 1000
        self.grace_ms = grace_s * 1000

    async def beat(self, agent_id: int, now_ms: int, max_chats: int, max_tickets: int) -> bool:
        """Refresh the heartbeat (and capacities); True if the agent was offline until now."""
        return bool(await self.beat_many([(agent_id, max_chats, max_tickets)], now_ms))

    async def beat_many(self, agents: list[tuple[int, int, int]], now_ms: int) -> list[int]:
        """``beat`` for many (agent, max chats, max tickets) in one pipeline: the agents that
        were offline until now."""
        if not agents:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for agent_id, max_chats, max_tickets in agents:
            pipe.set(keys.heartbeat(agent_id), now_ms, px=self.ttl_ms, get=True)
            pipe.hset(keys.agent(agent_id),
                      mapping={"max_chats": max_chats, "max_tickets": max_tickets})
        pipe.zadd(keys.presence(), {str(a): now_ms for a, _, _ in agents})
        replies = await pipe.execute()
        return [a for (a, _, _), previous in zip(agents, replies[0:-1:2], strict=True)
                if previous is None]

    async def leave(self, agent_id: int) -> None:
        await self.redis.delete(keys.heartbeat(agent_id))

    async def forget(self, agent_id: int) -> None:
        await self.redis.zrem(keys.presence(), str(agent_id))

    async def online(self, agent_id: int) -> bool:
        return bool(await self.redis.exists(keys.heartbeat(agent_id)))

    async def lapsed(self, now_ms: int) -> list[int]:
        """Agents last seen more than TTL + grace ago and not back since."""
        cutoff = now_ms - self.ttl_ms - self.grace_ms
        raw = await self.redis.zrangebyscore(keys.presence(), "-inf", cutoff)
        agents = [int(text(a)) for a in raw]
        if not agents:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for a in agents:
            pipe.exists(keys.heartbeat(a))
        alive = await pipe.execute()
        return [a for a, up in zip(agents, alive, strict=True) if not up]

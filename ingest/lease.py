"""Per-mailbox Redis lease: one active poller per mailbox, taken over when its holder dies.

The lease is a key with a random token and a TTL, renewed well before it expires. A poller that
stops renewing (killed, frozen, partitioned) loses it after ``ttl_ms`` and another takes over.
The lease is an efficiency measure, not the exactly-once guarantee: two pollers briefly working
the same mailbox still import each mail once, because the records' unique key decides.
"""

from __future__ import annotations

import secrets
from importlib import resources

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from routing import keys


def _script(client: aioredis.Redis, name: str) -> AsyncScript:
    source = resources.files("ingest").joinpath(f"lua/{name}.lua").read_text()
    return client.register_script(source)


class Lease:
    def __init__(self, client: aioredis.Redis, mailbox_id: int, ttl_ms: int = 15_000) -> None:
        self.client = client
        self.key = keys.mailbox_lease(mailbox_id)
        self.ttl_ms = ttl_ms
        self.token = secrets.token_hex(16)
        self._renew = _script(client, "lease_renew")
        self._release = _script(client, "lease_release")

    async def acquire(self) -> bool:
        return bool(await self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    async def renew(self) -> bool:
        return bool(await self._renew(keys=[self.key], args=[self.token, self.ttl_ms]))

    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.token])

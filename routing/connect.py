"""Every Redis client of every process is built here (web, worker, poller, routing timers).

A pooled connection can be dead when it is taken (Redis restarted, a proxy dropped it while
idle): one command on it fails with ``ConnectionError: Connection closed by server``. So every
client retries a command that failed on a dead or silent connection, on a fresh one, with a
short exponential backoff (``RETRIES`` times, well under a second in all: a request waits that
long at most before it answers 503), checks a connection idle for ``HEALTH_CHECK_S`` with a PING
before using it, and gives up on a silent socket after ``SOCKET_TIMEOUT_S``. Retrying a
non-idempotent command (INCR, a routing script) on a connection that broke after the server
ran it would run it twice; a connection found dead when taken never sent it, which is the case
this is for.

A pool built from a URL gets none of redis-py's client defaults (``Redis.from_pool`` keeps the
pool's own connection settings), which is why the options are set on the pool here.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel
import redis.sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from desk import redis_url

RETRIES = 2
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 0.4
HEALTH_CHECK_S = 10
SOCKET_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 2.0


def _options() -> dict[str, Any]:
    return {"health_check_interval": HEALTH_CHECK_S, "socket_timeout": SOCKET_TIMEOUT_S,
            "socket_connect_timeout": CONNECT_TIMEOUT_S, "socket_keepalive": True}


def _backoff() -> ExponentialBackoff:
    return ExponentialBackoff(cap=BACKOFF_CAP_S, base=BACKOFF_BASE_S)


class _BlockingSentinelPool(aioredis.sentinel.SentinelConnectionPool,
                            aioredis.BlockingConnectionPool):
    """The primary's connections, found through Sentinel, in a pool that blocks when full."""


class _AsyncSentinelClient(aioredis.Redis):
    """Closing it closes the connections to the Sentinels too (the manager's own clients)."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        for sentinel in self.connection_pool.sentinel_manager.sentinels:  # type: ignore[attr-defined]
            await sentinel.aclose()


class _SentinelClient(redis.Redis):
    def close(self) -> None:
        super().close()
        for sentinel in self.connection_pool.sentinel_manager.sentinels:  # type: ignore[attr-defined]
            sentinel.close()


def async_client(url: str, *, max_connections: int | None = None,
                 wait_s: float | None = None) -> aioredis.Redis:
    """An asyncio client. With ``wait_s``, the pool blocks: past ``max_connections`` a command
    waits up to ``wait_s`` for a free connection instead of failing at once (a burst queues).
    A ``redis+sentinel://`` URL gives a client of the current primary: after a failover, a
    connection still on the old one fails (read-only, or closed) and is retried on the new."""
    options = {**_options(), "retry": AsyncRetry(_backoff(), RETRIES)}
    if max_connections is not None:
        options["max_connections"] = max_connections
    if redis_url.is_sentinel(url):
        found = redis_url.parse_sentinel(url)
        manager = aioredis.sentinel.Sentinel(
            list(found.sentinels), sentinel_kwargs=_options(), db=found.db,
            password=found.password, **options)
        client: aioredis.Redis = (
            manager.master_for(found.service, redis_class=_AsyncSentinelClient)
            if wait_s is None else
            manager.master_for(found.service, redis_class=_AsyncSentinelClient,
                               connection_pool_class=_BlockingSentinelPool, timeout=wait_s))
        return client
    pool: aioredis.ConnectionPool
    if wait_s is None:
        pool = aioredis.ConnectionPool.from_url(url, **options)
    else:
        pool = aioredis.BlockingConnectionPool.from_url(url, timeout=wait_s, **options)
    return aioredis.Redis.from_pool(pool)


def sync_client(url: str) -> redis.Redis:
    """A blocking client (RQ's queue and worker); a Sentinel URL as for ``async_client``."""
    retry = Retry(_backoff(), RETRIES)
    if redis_url.is_sentinel(url):
        found = redis_url.parse_sentinel(url)
        manager = redis.sentinel.Sentinel(list(found.sentinels), sentinel_kwargs=_options(),
                                          db=found.db, password=found.password,
                                          **_options(), retry=retry)
        primary: redis.Redis = manager.master_for(found.service, redis_class=_SentinelClient)
        return primary
    pool = redis.ConnectionPool.from_url(url, **_options(), retry=retry)
    return redis.Redis.from_pool(pool)

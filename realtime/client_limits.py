"""Requests a stranger may make per client address and minute: one counter rule for every
public endpoint (visitor sessions, uploads, the case page, the help centre).

The window is opened and counted in one MULTI (``SET NX EX`` then ``INCR``), so a process dying
between the two can never leave a counter without its expiry (an address blocked for good).
Past the limit the request is ``RateLimited`` (429 + Retry-After, when the window closes);
with Redis down it is ``Unavailable`` (503), never let through uncounted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from desk.errors import DeskError, RateLimited, Unavailable
from desk.http import client_address, desk_error_response
from routing import keys

log = logging.getLogger(__name__)
WINDOW_S = 60
# Help-centre pages and widget suggestions per client address and minute: each one is a
# search and a logged event, so this also bounds what a stranger adds to kb_events.
KB_REQUESTS_PER_MIN = 120


async def admit(redis: aioredis.Redis, counter: str, limit: int, what: str) -> None:
    """Count one request against ``counter``'s minute; refuse it past ``limit``."""
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.set(counter, 0, ex=WINDOW_S, nx=True)
            pipe.incr(counter)
            pipe.ttl(counter)
            _, count, ttl = await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("%s refused: redis unavailable (%r)", what, exc)
        raise Unavailable("a service is briefly unavailable; retry shortly") from None
    if int(count) > limit:
        wait = int(ttl) if int(ttl) > 0 else WINDOW_S
        raise RateLimited(f"too many {what} from your address; retry in {wait} s", wait)


Endpoint = Callable[[Request], Awaitable[Response]]


def kb_limited(endpoint: Endpoint) -> Endpoint:
    """A public help-centre page, counted per client address (``KB_REQUESTS_PER_MIN``)."""
    async def limited(request: Request) -> Response:
        try:
            await admit(request.app.state.redis,
                        keys.kb_limit(client_address(request)), KB_REQUESTS_PER_MIN,
                        "help centre requests")
        except DeskError as exc:
            return desk_error_response(exc)
        return await endpoint(request)

    return limited

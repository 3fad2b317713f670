"""The one guard every stranger-triggered outbound mail goes through: the Redis side of
``routing.mail_budget``.

One Lua script (``routing/lua/mail_budget.lua``) checks and charges every counter of a request
in one atomic step, so concurrent requests on any number of processes never overspend, and a
refused request charges nothing. What to count and what a refusal says is decided by the pure
``routing.mail_budget``.
"""

from __future__ import annotations

from importlib import resources

import redis.asyncio as aioredis

from desk.settings import Settings
from routing import keys
from routing.mail_budget import MailLimits, MailRequest, Verdict, checks, verdict


class MailGuard:
    def __init__(self, redis: aioredis.Redis, limits: MailLimits) -> None:
        self.limits = limits
        lua = resources.files("routing") / "lua" / "mail_budget.lua"
        self._charge = redis.register_script(lua.read_text())

    @classmethod
    def of(cls, redis: aioredis.Redis, settings: Settings) -> MailGuard:
        """The guard with the deployment's budgets (``Settings.mail_*``)."""
        return cls(redis, MailLimits(settings.mail_transcript_interval_s,
                                     settings.mail_per_recipient_per_hour,
                                     settings.mail_per_client_per_hour,
                                     settings.mail_staff_per_hour))

    async def admit(self, request: MailRequest) -> Verdict:
        """Charge ``request`` to its budget if every counter has room (then it may be sent)."""
        found = checks(request, self.limits)
        args: list[int] = []
        for check in found:
            args += [check.limit, check.window_s]
        refused, ttl = await self._charge(
            keys=[keys.mail_budget(c.scope, c.subject) for c in found], args=args)
        return verdict(request, found, int(refused) - 1 if int(refused) else None, int(ttl))

"""What a command handler may use: settings, the records, the hub, the router, the mailer and
the caches of conversation and site facts. One per web process, built by ``realtime.chat.Chat``
and handed to ``staff``, ``presence``, ``routing_events``, ``rights`` and the visitor-session
endpoint, so none of them needs the ``Chat`` that carries the commands out.
"""

from __future__ import annotations

import time

from desk.db import SessionMaker
from desk.settings import Settings
from realtime import records
from realtime.hub import Hub
from realtime.mail import Mailer
from routing.mail_guard import MailGuard
from routing.router import Router

SITE_CACHE_S = 5.0


class Context:
    __slots__ = ("_sites", "convs", "hub", "mail_guard", "mailer", "router", "settings", "sm")

    def __init__(self, settings: Settings, sm: SessionMaker, hub: Hub, router: Router,
                 mailer: Mailer) -> None:
        self.settings = settings
        self.sm = sm
        self.hub = hub
        self.router = router
        self.mailer = mailer
        self.mail_guard = MailGuard.of(hub.redis, settings)
        self._sites: dict[str, tuple[float, records.SiteInfo | None]] = {}
        # Conversation facts (rights checks, the message path), dropped on every change.
        self.convs: dict[int, records.ConvInfo] = {}

    async def site(self, key: str) -> records.SiteInfo | None:
        now = time.monotonic()
        hit = self._sites.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        site = await records.site_by_key(self.sm, key[:64])
        self._sites[key] = (now + SITE_CACHE_S, site)
        return site

    async def conv(self, conversation_id: int, fresh: bool = False) -> records.ConvInfo | None:
        info = None if fresh else self.convs.get(conversation_id)
        if info is None:
            info = await records.get_conv(self.sm, conversation_id)
            if info is not None:
                self.convs[conversation_id] = info
        return info

    def forget_conv(self, conversation_id: int) -> None:
        self.convs.pop(conversation_id, None)

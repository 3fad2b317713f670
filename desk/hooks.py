"""Callbacks through which desk tells the live layers what changed.

desk imports neither routing nor realtime; the app factory passes an implementation that
publishes to Redis so every web process can close sockets, re-check rights or send mail.
"""

from __future__ import annotations


class DeskHooks:
    """No-op defaults; the web app overrides what it needs."""

    async def session_ended(self, agent_id: int, session_id: str | None) -> None:
        """A session (or, with ``session_id=None``, every session of the agent) ended."""

    async def rights_changed(self, agent_id: int) -> None:
        """Group membership, role or activation of an agent changed."""

    async def message_posted(self, conversation_id: int, message_id: int) -> None:
        """A message was stored through the HTTP API (e.g. a ticket reply)."""

    async def conversation_changed(self, conversation_id: int) -> None:
        """Status, assignee, group or priority changed through the HTTP API."""

    async def conversation_queued(self, conversation_id: int) -> None:
        """A conversation was set ``queued`` in the records (a promoted noise ticket) and
        waits to be routed; the router's sweep queues it if this call is lost."""

    async def admit_mail(self, recipient: str, conversation_id: int, requester: str) -> None:
        """Charge a mail staff send to someone outside the desk (a forwarded ticket) to the
        mail budget; raises ``desk.errors.RateLimited`` past it, before anything is written.
        (No budget without the live layers.)"""

    async def forward_recorded(self, event_id: int) -> None:
        """A forward was recorded (its ``conversation.forwarded`` audit event): mail it."""

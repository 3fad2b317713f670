"""Who's On frames: page views from the widget, the live visitors list, proactive invitations.

Pure module, registered in ``realtime.protocol`` (one ``parse``, one ``serialize``). What a
stranger sends is bounded here; what an agent is shown is plain text (the console never renders
it as markup, and links only http(s) addresses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from realtime.frame_meta import ID, bounds

URL_MAX = 2048  # the widget cuts longer addresses before sending; longer ones are refused
TITLE_MAX = 300
PAGE_MAX = 100  # rows in one page of the visitors list
INVITE_TEXT_MAX = 300
INVITATION_ID_MAX = 32


# --- client -> server -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageView:
    """The visitor's widget: this page is open now. Identity is the socket's, never a field.
    ``repeat``: the page its beacon reported already (not another page view)."""

    TYPE: ClassVar[str] = "page_view"
    url: str = field(metadata=bounds(1, URL_MAX))
    title: str = field(default="", metadata=bounds(0, TITLE_MAX))
    referrer: str = field(default="", metadata=bounds(0, URL_MAX))
    lang: str = field(default="", metadata=bounds(0, 35))
    repeat: bool = False


@dataclass(frozen=True, slots=True)
class WatchVisitors:
    """Staff: follow one page of a site's visitors (newest arrival first); answered with
    ``visitors``, then ``visitors_delta`` at most once per interval while anything changed.
    ``site_id`` None: the first site the agent may watch."""

    TYPE: ClassVar[str] = "watch_visitors"
    site_id: int | None = field(default=None, metadata=ID)
    offset: int = field(default=0, metadata=bounds(0, 1_000_000))
    limit: int = field(default=50, metadata=bounds(1, PAGE_MAX))


@dataclass(frozen=True, slots=True)
class UnwatchVisitors:
    TYPE: ClassVar[str] = "unwatch_visitors"


@dataclass(frozen=True, slots=True)
class InviteVisitor:
    """Staff: invite a visitor now on the site to chat; accepted, the chat is the inviter's."""

    TYPE: ClassVar[str] = "invite_visitor"
    site_id: int = field(metadata=ID)
    visitor_id: int = field(metadata=ID)
    text: str = field(default="", metadata=bounds(0, INVITE_TEXT_MAX))


@dataclass(frozen=True, slots=True)
class InvitationAnswer:
    """The visitor's widget: yes or no to an invitation this visitor was sent."""

    TYPE: ClassVar[str] = "invitation_answer"
    invitation_id: str = field(metadata=bounds(1, INVITATION_ID_MAX))
    accept: bool
    client_id: str = field(default="inv", metadata=bounds(1, 64))
    language: str | None = field(default=None, metadata=bounds(2, 8))  # the widget's


CLIENT = (PageView, WatchVisitors, UnwatchVisitors, InviteVisitor, InvitationAnswer)


# --- server -> client -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VisitorRow:
    """One visitor as agents see them. ``name``: only when the host site verified who it is."""

    visitor_id: int
    url: str
    title: str
    referrer: str
    lang: str
    page_since: int  # epoch ms the current page was opened
    arrived: int  # epoch ms this visit began
    pages: int  # page views this visit
    returning: bool
    chatted: bool  # had a conversation before
    name: str | None
    chatting: bool  # in a chat now (accepted an invitation or started one)


@dataclass(frozen=True, slots=True)
class SiteChoice:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Visitors:
    """A fresh page of the list: replaces what the console shows."""

    TYPE: ClassVar[str] = "visitors"
    site_id: int
    total: int
    offset: int
    rows: tuple[VisitorRow, ...]
    now: int  # server epoch ms (times on page are shown against it)
    sites: tuple[SiteChoice, ...] = ()


@dataclass(frozen=True, slots=True)
class VisitorsDelta:
    """What changed on the watched page since the last push: rows new or changed, ids gone,
    and the page's order when it moved."""

    TYPE: ClassVar[str] = "visitors_delta"
    site_id: int
    total: int
    upserts: tuple[VisitorRow, ...]
    removed: tuple[int, ...]
    order: tuple[int, ...] | None
    now: int


@dataclass(frozen=True, slots=True)
class Invitation:
    """To the visitor's widget."""

    TYPE: ClassVar[str] = "invitation"
    invitation_id: str
    agent_name: str
    text: str


@dataclass(frozen=True, slots=True)
class InvitationOutcome:
    """To the inviting agent: ``accepted`` (with the chat), ``declined`` or ``expired``."""

    TYPE: ClassVar[str] = "invitation_outcome"
    invitation_id: str
    visitor_id: int
    outcome: str
    conversation_id: int | None = None


SERVER = (Visitors, VisitorsDelta, Invitation, InvitationOutcome)

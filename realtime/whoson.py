"""Who's On, the pure part: what a page view stores, a visitor's row, a watcher's page delta.

What a visitor sends is cleaned here before it is stored (controls and bidi overrides out,
lengths bounded); it stays text: the console shows it with ``textContent`` and links only
http(s) addresses, so ``javascript:`` and markup in a title are shown, never run.

A watcher (one agent socket) follows one page of a site's list. Every interval the I/O side
reads which visitors changed and the page's ids as they are now; ``page_delta`` says which rows
to send, which ids left the page and whether its order moved, so a push carries only what the
agent's page lost or gained, however many page views came in meanwhile.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from realtime.protocol_visits import TITLE_MAX, URL_MAX, PageView, VisitorRow

_UNSHOWN = re.compile("[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str, max_len: int) -> str:
    return _UNSHOWN.sub("", text)[:max_len]


def view_fields(view: PageView, now_ms: int) -> dict[str | bytes, str | int]:
    """The visit hash's fields a page view sets (the visit's own fields are set once)."""
    return {"u": clean(view.url, URL_MAX), "t": clean(view.title, TITLE_MAX),
            "l": clean(view.lang, 35), "ps": now_ms}


def visit_start(view: PageView, now_ms: int, chatted: bool,
                name: str | None) -> dict[str, str | int]:
    """Fields written when a visit begins (its first page view); whether it is a returning
    one (``ret``) is Redis's to say (``routing/lua/page_view.lua``)."""
    out: dict[str, str | int] = {"a": now_ms, "r": clean(view.referrer, URL_MAX),
                                 "ch": int(chatted), "n": 0, "on": 0}
    if name:
        out["nm"] = clean(name, 120)
    return out


def row(visitor_id: int, h: Mapping[Any, Any]) -> VisitorRow | None:
    """The visitor's row from the visit hash (None: the visit has lapsed)."""
    if b"a" not in h:
        return None

    def s(k: bytes) -> str:
        return bytes(h.get(k, b"")).decode("utf-8", "replace")

    def n(k: bytes) -> int:
        try:
            return int(h.get(k, b"0"))
        except ValueError:
            return 0

    return VisitorRow(visitor_id, s(b"u"), s(b"t"), s(b"r"), s(b"l"), n(b"ps"), n(b"a"),
                      n(b"n"), bool(n(b"ret")), bool(n(b"ch")), s(b"nm") or None,
                      bool(n(b"on")))


@dataclass(slots=True)
class Watch:
    """One socket's view of a site's list: the page it follows and what it was last sent."""

    site_id: int
    offset: int
    limit: int
    shown: tuple[int, ...] = ()
    total: int = -1


@dataclass(frozen=True, slots=True)
class Delta:
    need: tuple[int, ...]  # ids whose rows go out (new on the page, or changed)
    removed: tuple[int, ...]
    order: tuple[int, ...] | None  # the page's ids, when they are not what was shown
    total_changed: bool

    @property
    def empty(self) -> bool:
        return not (self.need or self.removed or self.order is not None or self.total_changed)


def page_delta(watch: Watch, page: Sequence[int], changed: Iterable[int], total: int) -> Delta:
    """What ``watch`` must be sent for its page to read ``page`` (``changed``: visitors heard
    of since the last push)."""
    now = tuple(page)
    on_page = set(now)
    before = set(watch.shown)
    moved = {v for v in changed if v in on_page}
    need = tuple(v for v in now if v not in before or v in moved)
    removed = tuple(v for v in watch.shown if v not in on_page)
    return Delta(need, removed, None if now == watch.shown else now, total != watch.total)

"""Field metadata of wire frames (pure): the one shape ``realtime.protocol``'s parser reads.

Its own module so that the frame families beside ``protocol`` (``protocol_visits``,
``protocol_im``) declare their bounds the same way without importing ``protocol`` (which
imports them).
"""

from __future__ import annotations

from typing import Any

from desk.limits import ID_MAX, ID_MIN


def bounds(lo: int, hi: int, choices: tuple[str, ...] = ()) -> dict[str, Any]:
    """Field metadata: string length or integer value bounds, optional closed set of strings."""
    return {"lo": lo, "hi": hi, "choices": choices}


ID = bounds(ID_MIN, ID_MAX)  # what the id columns hold (desk.limits)

"""Who may read a message: the one rule for the records (desk's API, the mail worker) and the live
sockets (``realtime.session``), on the reader's kind — the ``author_kind`` names: contact, agent,
supervisor.

A public message reaches everyone; an internal note, staff only; a whisper (a supervisor
coaching the assigned agent) supervisors and the agent it was whispered to, never the contact.
"""

from __future__ import annotations

STAFF_KINDS = frozenset({"agent", "supervisor"})


def readable(kind: str, visibility: str, whisper_target: bool) -> bool:
    """May a reader of ``kind`` read a message of ``visibility``? ``whisper_target``: the
    message was whispered to this reader."""
    match visibility:
        case "public":
            return True
        case "internal":
            return kind in STAFF_KINDS
        case "whisper":
            return kind == "supervisor" or (kind == "agent" and whisper_target)
    return False

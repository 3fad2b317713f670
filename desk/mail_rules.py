"""What is mailed to the customer: ONE rule per kind of mail, for every path.

A reply an agent types reaches a ticket by the console's ticket view (HTTP API), by the agent's
WebSocket (a ticket accepted from an offer) or by any client of the documented API; each of
those paths, and the mail job itself, asks ``reply_is_mailed``. A path that stored a public reply
on an email ticket without asking would leave the agent believing the customer was answered.
"""

from __future__ import annotations

# Channels whose customer reads replies by mail (a portal case's contact is told by mail too,
# and a logged phone call continues by mail; whether there is an address to mail is the
# recipient lookup's business, when the mail is queued).
MAILED_CHANNELS = frozenset({"email", "portal", "phone"})
STAFF_AUTHORS = frozenset({"agent", "supervisor"})


def reply_is_mailed(channel: str, *, visibility: str, author_kind: str,
                    email_message_id: str | None) -> bool:
    """True when the stored message must go out as a mail to the conversation's customer:
    a public message by staff on a mailed channel that did not itself come in as mail."""
    return (channel in MAILED_CHANNELS and visibility == "public"
            and author_kind in STAFF_AUTHORS and email_message_id is None)


CLOSED_STATUSES = frozenset({"resolved", "closed"})


def closing_is_mailed(channel: str, status: str, closed_by: str | None = None) -> bool:
    """True when the customer is told their conversation was resolved or closed (by the HTTP
    API's status change; the job asks again when it runs). A case the customer closed
    themselves on its page (``closed_by`` ``contact``) is not mailed back to them: they saw it
    close, and the page showed them the survey."""
    return (channel in MAILED_CHANNELS and status in CLOSED_STATUSES
            and closed_by != CLOSED_BY_CONTACT)


CLOSED_BY_CONTACT = "contact"



# How a department tells the customer of new activity on a case: ``full`` mails the reply's text
# (reply by mail threads back); ``link`` mails only that there is something new and the case
# link (replying to that mail still threads back).
NOTIFY_MODES = ("full", "link")


def reply_text_is_mailed(notify_mode: str) -> bool:
    """Does the mail about a staff reply carry the reply's text? (Unknown modes: no; the
    safer side for a department that asked for links only.)"""
    return notify_mode == "full"


# How an address takes part in an email conversation (``EmailParticipant.role``): it wrote or
# was copied on a mail that came in (``mail``); staff copy it on every reply (``cc``); staff
# forwarded the ticket to it (``outside``: someone who is no user of the desk answering by mail;
# what it writes back joins the ticket as an internal note, never reaching the customer).
PARTICIPANT_ROLES = ("mail", "cc", "outside")
CC_MAX = 10  # addresses staff may copy on a conversation's replies


def reply_copies(cc: list[str], to_address: str) -> list[str]:
    """Who is copied on a mail to the customer: the conversation's ``cc`` participants, each
    once, never the recipient itself (case-insensitively), at most ``CC_MAX``."""
    seen = {to_address.lower()}
    out = []
    for address in cc:
        if address.lower() not in seen:
            seen.add(address.lower())
            out.append(address)
    return out[:CC_MAX]


def outsider_visibility(role: str | None) -> str | None:
    """The visibility a mail from a participant of ``role`` is stored with, when its role
    decides it: an outsider's answer is for staff only."""
    return "internal" if role == "outside" else None

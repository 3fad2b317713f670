"""The budget of mail that a stranger can cause: which counters a request is charged to, and what
a refusal says. Pure (no Redis): ``routing.mail_guard`` does the atomic counting.

Every outbound mail that a visitor or any unauthenticated caller can trigger (a chat transcript,
the acknowledgement of a ticket filed by mail or through "leave a message", later portal
notifications and sign-in links) asks the guard first. A request is charged to:

- its conversation, for the purposes that may repeat (a transcript: at most one per
  ``mail_transcript_interval_s``),
- its recipient address (``mail_per_recipient_per_hour``, all purposes together: a victim's
  mailbox is the thing protected),
- its client address when there is one (``mail_per_client_per_hour``: one requester cannot
  spread a flood over many recipients).

Either every counter has room and all are charged, or none is: a refused request costs nothing,
so a flood of refusals never eats the budget of the next legitimate request.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

HOUR_S = 3600


class Purpose(StrEnum):
    TRANSCRIPT = "transcript"
    ACKNOWLEDGEMENT = "acknowledgement"  # ticket created: by mail or by "leave a message"
    SIGNIN = "signin"  # a one-time sign-in link to the case page, for a typed address
    REMINDER = "reminder"  # the desk's own timers: inactivity ladder, rule mails to the customer
    FORWARD = "forward"  # staff forwarding a ticket to an address outside the desk
    STAFF = "staff"  # a rule's notice to an agent, a group or an address (a budget of its own)


class Scope(StrEnum):
    CONVERSATION = "conversation"
    RECIPIENT = "recipient"
    CLIENT = "client"


@dataclass(frozen=True, slots=True)
class MailLimits:
    transcript_interval_s: int
    per_recipient_per_hour: int
    per_client_per_hour: int
    staff_per_hour: int = 30


@dataclass(frozen=True, slots=True)
class MailRequest:
    purpose: Purpose
    recipient: str
    client: str | None = None  # the requester's network address, when a request came in
    conversation_id: int | None = None


@dataclass(frozen=True, slots=True)
class Check:
    """One counter: at most ``limit`` charges per ``window_s`` for ``subject`` in ``scope``."""

    scope: Scope
    subject: str
    limit: int
    window_s: int


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    scope: Scope | None = None  # the first counter without room
    retry_after_s: int = 0
    message: str = ""


ALLOWED = Verdict(True)


def normalise(address: str) -> str:
    return address.strip().lower()


def checks(request: MailRequest, limits: MailLimits) -> tuple[Check, ...]:
    """The counters ``request`` is charged to, most specific first (that one is reported)."""
    out: list[Check] = []
    if request.purpose is Purpose.TRANSCRIPT and request.conversation_id is not None:
        out.append(Check(Scope.CONVERSATION, f"{request.purpose}:{request.conversation_id}", 1,
                         limits.transcript_interval_s))
    if request.purpose is Purpose.STAFF:
        # Staff get more than a customer may, and a flood of them spends none of the
        # customers' budget (nor theirs): a counter apart.
        out.append(Check(Scope.RECIPIENT, f"staff:{normalise(request.recipient)}",
                         limits.staff_per_hour, HOUR_S))
    else:
        out.append(Check(Scope.RECIPIENT, normalise(request.recipient),
                         limits.per_recipient_per_hour, HOUR_S))
    if request.client:
        out.append(Check(Scope.CLIENT, request.client, limits.per_client_per_hour, HOUR_S))
    return tuple(out)


def verdict(request: MailRequest, found: tuple[Check, ...], refused: int | None,
            ttl_s: int) -> Verdict:
    """What the guard's answer means: ``refused`` is the index in ``found`` of the counter
    without room (None: all charged), ``ttl_s`` the seconds until that counter resets."""
    if refused is None:
        return ALLOWED
    scope = found[refused].scope
    wait = max(1, ttl_s)
    when = f"in {-(-wait // 60)} min" if wait >= 60 else f"in {wait} s"
    what = {Purpose.TRANSCRIPT: "a transcript", Purpose.SIGNIN: "a sign-in link",
            Purpose.FORWARD: "a forwarded ticket", Purpose.STAFF: "a notice"}.get(
        request.purpose, "a confirmation")
    match scope:
        case Scope.CONVERSATION:
            text = f"a transcript of this chat was sent recently; ask again {when}"
        case Scope.RECIPIENT:
            text = f"too many mails to this address; {what} can be sent again {when}"
        case Scope.CLIENT:
            text = f"too many mail requests from your network; try again {when}"
    return Verdict(False, scope, wait, text)

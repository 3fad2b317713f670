"""Is this mail from a person, or from a machine that must never be answered automatically?

Pure classification of a parsed mail. Every kind except ``PERSON`` is stored on the ticket like
any other mail but never triggers an acknowledgement or notification (mail loops between two
auto-responders are the failure this prevents). Header names follow Zammad's loop filters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from ingest.compose import is_own_message_id
from ingest.mime import ParsedMail

_PERMANENT = re.compile(r"^5\.\d{1,3}\.\d{1,3}$")
_DAEMON_LOCALS = {"mailer-daemon", "mailer_daemon", "mailerdaemon"}
_BULK_PRECEDENCE = {"bulk", "list", "junk"}


class Kind(StrEnum):
    PERSON = "person"
    AUTO_REPLY = "auto_reply"
    BULK = "bulk"
    BOUNCE = "bounce"
    OWN = "own"  # our own outgoing mail coming back (Bcc to self, list echo, loop)


@dataclass(frozen=True, slots=True)
class Bounce:
    """A permanent delivery failure: who could not be reached, and which mail of ours failed."""

    recipients: tuple[str, ...]
    original_message_id: str | None
    status: str


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: Kind
    reason: str
    bounce: Bounce | None = None

    @property
    def may_auto_answer(self) -> bool:
        return self.kind is Kind.PERSON

    @property
    def is_noise(self) -> bool:
        """Machine mail that no agent need handle: a new ticket from it waits unrouted (status
        ``noise``) until someone promotes it."""
        return self.kind in (Kind.AUTO_REPLY, Kind.BULK)


def classify(mail: ParsedMail, secret: str) -> Verdict:
    """First matching rule wins; the order puts the most specific evidence first.

    Our own Message-IDs carry an HMAC tag (``ingest.compose``), so a forged one in our domain
    is just a mail from its sender, never "ours".
    """
    if is_own_message_id(mail.message_id, secret):
        return Verdict(Kind.OWN, "our own Message-ID")
    bounce = _bounce(mail)
    if bounce is not None:
        return bounce
    auto_submitted = (mail.header("auto-submitted") or "").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return Verdict(Kind.AUTO_REPLY, f"Auto-Submitted: {auto_submitted}")
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress", "x-loop"):
        if mail.header(name) is not None:
            return Verdict(Kind.AUTO_REPLY, f"{name} header present")
    precedence = (mail.header("precedence") or "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return Verdict(Kind.BULK, f"Precedence: {precedence}")
    return_path = mail.header("return-path")
    if return_path is not None and return_path.replace(" ", "") == "<>":
        return Verdict(Kind.AUTO_REPLY, "empty Return-Path")
    if mail.sender is not None and mail.sender.local in _DAEMON_LOCALS:
        return Verdict(Kind.AUTO_REPLY, "sent by mailer-daemon")
    if mail.sender is None:
        # Nobody to answer to (or an address we refuse to guess at): never auto-answer.
        return Verdict(Kind.AUTO_REPLY, "no unambiguous sender")
    return Verdict(Kind.PERSON, "")


def _bounce(mail: ParsedMail) -> Verdict | None:
    if not mail.delivery_status:
        return None
    failed = tuple(
        s.recipient for s in mail.delivery_status
        if s.recipient and (_PERMANENT.match(s.status) or s.action == "failed")
    )
    original = mail.embedded_message_ids[0] if mail.embedded_message_ids else None
    if not failed:
        return Verdict(Kind.AUTO_REPLY, "delivery status notification without permanent failure")
    status = next((s.status for s in mail.delivery_status if s.recipient in failed), "")
    return Verdict(
        Kind.BOUNCE,
        f"permanent delivery failure {status}".strip(),
        Bounce(recipients=tuple(dict.fromkeys(failed)), original_message_id=original,
               status=status),
    )

"""Webhook rules, free of I/O: the signature, the retry schedule, the event payload.

The signature (docs/webhooks.md): ``Switchboard-Signature: t=<unix seconds>,v1=<hex>`` where
``hex`` is HMAC-SHA256 under the webhook's secret of ``"<t>." + body``; the receiver recomputes
it over the raw body and refuses a timestamp older than a few minutes (a replay).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

SIGNATURE_HEADER = "Switchboard-Signature"
EVENT_HEADER = "Switchboard-Event"
DELIVERY_HEADER = "Switchboard-Delivery"
# Every domain event a webhook can subscribe to: the report facts (desk.facts) plus the two
# changes that are no fact of their own.
EVENTS = ("created", "message", "status", "assigned", "transferred", "first_response",
          "response", "resolved", "reopened", "closed", "rating", "sla_met", "sla_breached",
          "abandoned", "time_logged")
# Seconds before attempt 2, 3, ...; a delivery still failing after the last is given up.
BACKOFF_S = (10, 60, 300, 1800, 7200, 21600)
MAX_ATTEMPTS = len(BACKOFF_S) + 1
REPLAY_WINDOW_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: int,
           window_s: int = REPLAY_WINDOW_S) -> bool:
    """What a receiver does (and the tests): the header parsed, fresh, and matching."""
    fields = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - t) > window_s:
        return False
    return hmac.compare_digest(sign(secret, t, body), f"t={t},v1={fields.get('v1', '')}")


def next_attempt(attempts: int, now: datetime) -> datetime | None:
    """After ``attempts`` failed attempts: when to try again, or None to give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + timedelta(seconds=BACKOFF_S[attempts - 1])


def subscribed(events: list[str], kind: str) -> bool:
    return not events or kind in events


def body(event_id: int, kind: str, payload: dict[str, Any]) -> bytes:
    """The bytes sent (and signed): the event's id and kind around its payload."""
    return json.dumps({"id": event_id, "event": kind, **payload},
                      separators=(",", ":"), sort_keys=True).encode()

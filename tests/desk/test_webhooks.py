"""Outgoing webhooks against real local receivers: the event arrives signed, a 500 is retried
on the backoff schedule, the log shows it and the admin redelivers it; a target redirecting to
a private address, a slow one and a huge one are refused or limited, and logged."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from desk import outbound_http, webhooks
from desk.conversations import NewMessage, append_messages, create_conversation
from desk.db import SessionMaker
from desk.models import WebhookDelivery, WebhookEvent, utcnow
from desk.net_guard import Refused, parse_networks
from desk.webhook_rules import SIGNATURE_HEADER, verify
from tests.desk.conftest import login
from tests.support.local_http import serving

LOOPBACK = parse_networks("127.0.0.1/32")


class Receiver:
    """Answers each delivery with the next status of ``statuses`` (then 200) and keeps it."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        self.got.append((dict(request.headers), await request.body()))
        return Response(status_code=self.statuses.pop(0) if self.statuses else 200)


async def _webhook(client: httpx.AsyncClient, url: str, events: list[str]) -> dict[str, Any]:
    csrf = await login(client, "admin@x.test")
    r = await client.post("/api/webhooks", headers={"x-csrf-token": csrf},
                          json={"name": "crm", "url": url, "events": events})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    body["csrf"] = csrf
    return body


async def test_an_event_arrives_signed_and_a_500_is_retried_then_redelivered(
        client: httpx.AsyncClient, org: dict[str, int], sm: SessionMaker) -> None:
    receiver = Receiver([500])
    async with serving(receiver.app) as base:
        hook = await _webhook(client, f"{base}/hook", ["created"])
        conv = await create_conversation(sm, channel="email", department_id=org["d1"])
        await webhooks.run_once(sm, allowed=LOOPBACK)
        assert len(receiver.got) == 1
        log = (await client.get(f"/api/webhooks/{hook['id']}/deliveries")).json()
        assert [(d["state"], d["attempts"], d["last_status"]) for d in log] == \
            [("pending", 1, 500)]
        # Not before its backoff: nothing sent; after it, the second attempt is answered.
        await webhooks.run_once(sm, allowed=LOOPBACK, now=utcnow() + timedelta(seconds=5))
        assert len(receiver.got) == 1
        await webhooks.run_once(sm, allowed=LOOPBACK, now=utcnow() + timedelta(seconds=11))
        assert len(receiver.got) == 2
        headers, body = receiver.got[1]
        assert verify(hook["secret"], headers[SIGNATURE_HEADER.lower()], body, int(time.time()))
        assert not verify("another secret of some length", headers[SIGNATURE_HEADER.lower()],
                          body, int(time.time()))
        event = json.loads(body)
        assert event["event"] == "created" and event["conversation"]["id"] == conv.id
        assert event["conversation"]["number"] == conv.number
        log = (await client.get(f"/api/webhooks/{hook['id']}/deliveries")).json()
        assert [(d["state"], d["attempts"]) for d in log] == [("delivered", 2)]
        r = await client.post(f"/api/webhook-deliveries/{log[0]['id']}/redeliver",
                              headers={"x-csrf-token": hook["csrf"]}, json={})
        assert r.status_code == 202 and r.json()["state"] == "pending"
        await webhooks.run_once(sm, allowed=LOOPBACK)
        assert len(receiver.got) == 3 and receiver.got[2][1] == body


async def test_events_nobody_subscribed_to_are_dropped(
        client: httpx.AsyncClient, org: dict[str, int], sm: SessionMaker) -> None:
    receiver = Receiver()
    async with serving(receiver.app) as base:
        await _webhook(client, f"{base}/hook", ["sla_breached"])
        await create_conversation(sm, channel="email", department_id=org["d1"])
        await webhooks.run_once(sm, allowed=LOOPBACK)
    assert receiver.got == []
    async with sm() as s:
        assert await s.scalar(select(func.count()).select_from(WebhookEvent)) == 0


async def test_a_redirect_to_a_private_address_is_refused_and_logged(
        client: httpx.AsyncClient, org: dict[str, int], sm: SessionMaker,
        caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver()
    async with serving(receiver.app) as inside:
        async def bounce(_: Request) -> Response:
            return RedirectResponse(f"{inside}/hook", status_code=307)

        redirector = Starlette(routes=[Route("/hook", bounce, methods=["POST"])])
        # The redirector's address is allowed, the one it points at is not.
        async with serving(redirector, host="127.0.0.2") as outside:
            hook = await _webhook(client, f"{outside}/hook", [])
            await create_conversation(sm, channel="email", department_id=org["d1"])
            with caplog.at_level(logging.WARNING, logger="desk.webhooks"):
                await webhooks.run_once(sm, allowed=parse_networks("127.0.0.2/32"))
    assert receiver.got == []
    assert "refused" in caplog.text and "127.0.0.1 is not a public address" in caplog.text
    log = (await client.get(f"/api/webhooks/{hook['id']}/deliveries")).json()
    assert log and all(d["state"] == "refused" for d in log)
    assert "127.0.0.1 is not a public address" in log[0]["last_error"]
    # Refused is final: a later pass does not try again.
    await webhooks.run_once(sm, allowed=parse_networks("127.0.0.2/32"),
                            now=utcnow() + timedelta(days=1))
    async with sm() as s:
        assert set(await s.scalars(select(WebhookDelivery.attempts))) == {1}


async def test_a_name_resolving_to_a_private_address_is_refused_before_any_connect() -> None:
    async def rebinding(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "127.0.0.1"]  # one public answer does not vouch for the rest

    with pytest.raises(Refused, match=re.escape("127.0.0.1")):
        await outbound_http.request("POST", "http://hooks.example.com/x", content=b"{}",
                                    resolver=rebinding)
    with pytest.raises(Refused, match=re.escape("169.254.169.254")):
        await outbound_http.request("GET", "http://169.254.169.254/latest/meta-data/")


async def test_a_slow_or_huge_answer_is_limited() -> None:
    async def slow(_: Request) -> Response:
        await asyncio.sleep(2)
        return Response("late")

    async def huge(_: Request) -> Response:
        return Response(b"x" * 200_000)

    app = Starlette(routes=[Route("/slow", slow), Route("/huge", huge)])
    async with serving(app) as base:
        with pytest.raises(outbound_http.Failed, match=re.escape("no answer within 0.3 s")):
            await outbound_http.request("GET", f"{base}/slow", allowed=LOOPBACK, timeout_s=0.3)
        with pytest.raises(outbound_http.Failed, match="larger than 1000 bytes"):
            await outbound_http.request("GET", f"{base}/huge", allowed=LOOPBACK, max_bytes=1000)


async def test_bad_webhook_bodies_are_refused_with_a_reason(
        client: httpx.AsyncClient, org: dict[str, int]) -> None:
    csrf = await login(client, "admin@x.test")
    for body, field in [({"name": "a", "url": "ftp://x.test/"}, "only http"),
                        ({"name": "a", "url": "https://x.test/", "events": ["boom"]}, "events"),
                        ({"name": "a", "url": "https://x.test/", "secret": "short"}, "secret")]:
        r = await client.post("/api/webhooks", headers={"x-csrf-token": csrf}, json=body)
        assert r.status_code == 422 and field in r.json()["error"]["message"], r.text
    r = await client.post("/api/webhooks", headers={"x-csrf-token": csrf},
                          json={"name": "a", "url": "https://x.test/"})
    listed = (await client.get("/api/webhooks")).json()
    assert "secret" not in listed[0] and listed[0]["secret_hint"] == "…" + r.json()["secret"][-4:]
    await login(client, "agent@x.test")
    assert (await client.get("/api/webhooks")).status_code == 403


async def test_a_visitors_chat_line_is_an_event_only_while_a_webhook_listens(
        client: httpx.AsyncClient, org: dict[str, int], sm: SessionMaker) -> None:
    """The hub's batch path skips the clock work for chat lines nothing waits for; an active
    webhook is something that waits (its message event), and nothing else is."""
    chat = await create_conversation(sm, channel="chat", department_id=org["d1"])
    await append_messages(sm, [NewMessage(chat.id, "contact", "no one listens")])
    async with sm() as s:
        assert await s.scalar(select(func.count()).select_from(WebhookEvent).where(
            WebhookEvent.kind == "message")) == 0
    await _webhook(client, "https://crm.example/hook", ["message"])
    await append_messages(sm, [NewMessage(chat.id, "contact", "now someone does")])
    async with sm() as s:
        events = (await s.scalars(select(WebhookEvent).where(
            WebhookEvent.kind == "message"))).all()
    assert [(e.conversation_id, e.payload["data"]["author_kind"]) for e in events] == [
        (chat.id, "contact")]

"""Tickets in the flow, against real web processes, Redis and the records: the queue list
carries email tickets beside chats (kind, age, SLA due, my capacity), agents take one or
assign it to a colleague through the router, and status moves free and re-queue through it."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from desk.db import SessionMaker
from desk.models import Agent, Conversation, Group, RoutingDecision, Site, utcnow
from tests.realtime.conftest import (
    SITE_KEY,
    Client,
    Clients,
    Org,
    Web,
    WebFactory,
    api,
    start_chat,
    update_row,
)


async def _ticket(w: Web, org: Org, sm: SessionMaker, email: str) -> int:
    """An email ticket filed through the widget's leave-a-message endpoint, routed."""
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{w.http}/api/public/sites/{SITE_KEY}/messages",
                            json={"department_id": org.dept, "name": "Olga", "email": email,
                                  "text": "The parcel never came"})
    assert r.status_code == 201, r.text
    async with sm() as s:
        cid: int = (await s.execute(select(Conversation.id).where(
            Conversation.number == r.json()["number"]))).scalar_one()
    return cid


async def _live(c: Client) -> dict[str, object]:
    await c.send(type="list_live")
    return await c.expect("live")


async def _conv(sm: SessionMaker, cid: int) -> Conversation:
    async with sm() as s:
        conv = await s.get(Conversation, cid)
        assert conv is not None
        return conv


async def test_tickets_are_listed_taken_and_assigned_through_the_router(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    await update_row(sm, Group, org.group, policy="manual")  # nothing pushed: agents pick
    await update_row(sm, Site, org.site, config={"departments": [{"id": org.dept}]})
    await update_row(sm, Agent, org.bob, ticket_capacity=1)
    await update_row(sm, Agent, org.ana, ticket_capacity=1)
    [w] = await web(1)
    ana = await clients.staff(w, "ana@x.test")
    bob = await clients.staff(w, "bob@x.test")
    first = await _ticket(w, org, sm, "olga@example.org")
    second = await _ticket(w, org, sm, "pia@example.org")
    due = utcnow() + timedelta(hours=2)
    await update_row(sm, Conversation, first, sla_due=due)
    v = await clients.visitor(w)
    chat = await start_chat(v, org.dept, "a chat beside them")

    live = await _live(ana)
    rows = {c["conversation_id"]: c for c in live["conversations"]}  # type: ignore[attr-defined]
    assert rows[first]["channel"] == "email" and rows[first]["status"] == "queued"
    assert rows[first]["subject"] and rows[first]["waiting_s"] >= 0
    assert rows[first]["sla_due"].startswith(due.isoformat()[:16])
    assert rows[second]["sla_due"] is None
    assert rows[chat]["channel"] == "chat"
    assert live["capacity"] == {"chats": 0, "max_chats": 3, "tickets": 0, "max_tickets": 1}

    # Ana gives the first to Bob (a colleague of the group): the router assigns it.
    await ana.send(type="assign", conversation_id=first, agent_id=org.bob)
    await ana.expect("done", op="assign")
    conv = await _conv(sm, first)
    assert (conv.status, conv.assignee_id) == ("active", org.bob)
    async with sm() as s:
        last = (await s.execute(select(RoutingDecision).where(
            RoutingDecision.conversation_id == first).order_by(RoutingDecision.id.desc())
        )).scalars().first()
    assert last is not None and last.agent_id == org.bob
    assert f"assigned from the queue to agent {org.bob} by agent {org.ana}" in last.reason
    assert (await _live(bob))["capacity"]["tickets"] == 1  # type: ignore[index]

    # Bob is at capacity now: the router refuses, naming him and why.
    await ana.send(type="assign", conversation_id=second, agent_id=org.bob)
    refused = await ana.expect("error", ref="assign")
    assert refused["message"] == "Bob cannot take it: at capacity 1/1 tickets"
    # Zed is not of the group; a chat is not assigned this way.
    await ana.send(type="assign", conversation_id=second, agent_id=org.zed)
    assert (await ana.expect("error", ref="assign"))["code"] == "forbidden"
    await ana.send(type="assign", conversation_id=chat, agent_id=org.bob)
    assert (await ana.expect("error", ref="assign"))["code"] == "bad_field"

    # Ana takes the second herself; then she is at capacity, which the live list says.
    await ana.send(type="assign", conversation_id=second, agent_id=org.ana)
    await ana.expect("done", op="accept")
    assert (await _conv(sm, second)).assignee_id == org.ana
    assert (await _live(ana))["capacity"]["tickets"] == 1  # type: ignore[index]

    # Waiting for the customer frees her slot; reopening queues it again; closed is final.
    r = await api(w, "PATCH", f"/api/conversations/{second}", "ana@x.test", {"status": "pending"})
    assert r.status_code == 200 and r.json()["status_options"] == ["queued", "resolved", "closed"]
    assert (await _live(ana))["capacity"]["tickets"] == 0  # type: ignore[index]
    r = await api(w, "PATCH", f"/api/conversations/{second}", "ana@x.test", {"status": "queued"})
    assert r.status_code == 200
    rows = {c["conversation_id"]: c for c in (await _live(ana))["conversations"]}  # type: ignore[attr-defined]
    assert rows[second]["status"] == "queued"
    r = await api(w, "PATCH", f"/api/conversations/{second}", "ana@x.test", {"status": "closed"})
    assert r.json()["status"] == "closed"
    assert (await _conv(sm, second)).closed_at is not None
    r = await api(w, "PATCH", f"/api/conversations/{second}", "ana@x.test", {"status": "queued"})
    assert r.status_code == 409
    assert second not in {c["conversation_id"] for c in (await _live(ana))["conversations"]}  # type: ignore[attr-defined]

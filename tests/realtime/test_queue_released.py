"""A queued ticket resolved or merged leaves the router's queue and every console's queue list at
once (the router's ``released`` event, as a ``released`` frame on each process), and staff ending
a chat from the socket answer to the required-before-close rule as the API does."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from desk.db import SessionMaker
from desk.models import Conversation, Department, Group, Site
from tests.realtime.conftest import (
    SITE_KEY,
    Client,
    Clients,
    Org,
    Web,
    WebFactory,
    accepted_chat,
    api,
    update_row,
)

REQUIRED = [{"name": "order", "label": "Order number", "type": "text", "required": True}]


async def _ticket(w: Web, org: Org, sm: SessionMaker, email: str, text: str) -> int:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{w.http}/api/public/sites/{SITE_KEY}/messages",
                            json={"department_id": org.dept, "name": "Olga", "email": email,
                                  "text": text})
    assert r.status_code == 201, r.text
    async with sm() as s:
        cid: int = (await s.execute(select(Conversation.id).where(
            Conversation.number == r.json()["number"]))).scalar_one()
    return cid


async def _queue_length(sam: Client, group_id: int) -> int:
    await sam.send(type="board")
    board = await sam.expect("board")
    [queue] = [q for q in board["queues"] if q["group_id"] == group_id]
    length: int = queue["length"]
    return length


async def _listed(c: Client) -> set[int]:
    await c.send(type="list_live")
    live: dict[str, Any] = await c.expect("live")
    return {row["conversation_id"] for row in live["conversations"]}


async def test_a_queued_ticket_resolved_or_merged_leaves_every_queue_list_at_once(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    await update_row(sm, Group, org.group, policy="manual")  # nothing offered: they wait
    await update_row(sm, Site, org.site, config={"departments": [{"id": org.dept}]})
    a, b = await web(2)
    ana = await clients.staff(a, "ana@x.test")
    bob = await clients.staff(b, "bob@x.test")  # another process
    zed = await clients.staff(b, "zed@x.test")  # another group
    sam = await clients.staff(a, "sam@x.test", "supervisor")
    resolved = await _ticket(a, org, sm, "olga@example.org", "The parcel never came")
    merged = await _ticket(a, org, sm, "olga@example.org", "Still no parcel")
    survivor = await _ticket(a, org, sm, "olga@example.org", "Where is it?")
    assert {resolved, merged, survivor} <= await _listed(ana)
    assert await _queue_length(sam, org.group) == 3

    r = await api(b, "PATCH", f"/api/conversations/{resolved}", "bob@x.test",
                  {"status": "resolved"})
    assert r.status_code == 200, r.text
    for c in (ana, bob, sam):
        assert (await c.expect("released", conversation_id=resolved))["status"] == "resolved"
    assert await _queue_length(sam, org.group) == 2

    async with sm() as s:  # each message left makes its own contact: make them one
        olga = await s.get(Conversation, survivor)
        assert olga is not None
    await update_row(sm, Conversation, merged, contact_id=olga.contact_id)
    r = await api(a, "POST", f"/api/conversations/{merged}/merge", "ana@x.test",
                  {"into": survivor})
    assert r.status_code == 200, r.text
    for c in (ana, bob, sam):
        assert (await c.expect("released", conversation_id=merged))["status"] == "closed"
    assert await _queue_length(sam, org.group) == 1
    assert await _listed(bob) & {resolved, merged, survivor} == {survivor}
    await zed.quiet(0.3)
    assert not zed.of("released")  # not of Zed's groups: not even its id


async def test_staff_ending_a_chat_on_the_socket_waits_for_required_fields(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    await update_row(sm, Department, org.dept, fields=REQUIRED)
    [w] = await web(1)
    v, ana, cid = await accepted_chat(clients, org, w, w)
    await ana.send(type="close", conversation_id=cid)
    refused = await ana.expect("error", ref="close")
    assert refused["code"] == "conflict" and "Order number" in refused["message"]
    async with sm() as s:
        conv = await s.get(Conversation, cid)
        assert conv is not None and conv.status == "active"
    r = await api(w, "PATCH", f"/api/conversations/{cid}/fields", "ana@x.test",
                  {"fields": {"order": "A-17"}})
    assert r.status_code == 200, r.text
    await ana.send(type="close", conversation_id=cid)
    await ana.expect("done", op="end")
    assert (await v.expect("ended"))["by"] == "agent"
    # The visitor leaving is the customer's say, not the desk's bookkeeping: never held.
    await update_row(sm, Conversation, cid, custom_fields={})
    v2, _, cid2 = await accepted_chat(clients, org, w, w, "again")
    await v2.send(type="end", conversation_id=cid2)
    await v2.expect("done", op="end")
    async with sm() as s:
        conv = await s.get(Conversation, cid2)
        assert conv is not None and conv.status == "closed"

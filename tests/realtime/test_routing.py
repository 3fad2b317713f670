"""The hub driven by the real router: queue positions, offers, accept, timeouts, grace, transfers.

Real web processes (uvicorn), real Redis (the router's Lua scripts), real records; the routing
timers run inside the web process where a test needs them (``TEST_ROUTING_TIMERS=1``).
"""

from __future__ import annotations

from sqlalchemy import select

from desk.db import SessionMaker
from desk.models import Agent, Conversation, Group, RoutingDecision
from tests.realtime.conftest import Client, Clients, Org, WebFactory, start_chat, update_row

TIMERS = {"TEST_ROUTING_TIMERS": "1"}


async def _actions(sm: SessionMaker, cid: int) -> list[tuple[str, int | None]]:
    async with sm() as s:
        rows = (await s.execute(select(RoutingDecision).where(
            RoutingDecision.conversation_id == cid).order_by(RoutingDecision.id))).scalars()
        return [(r.action, r.agent_id) for r in rows]


async def _available(c: Client, *groups: int) -> None:
    await c.send(type="active_groups", group_ids=list(groups))
    await c.expect("done", op="active_groups")


async def test_queued_offered_accepted_and_end_pulls_the_next(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    await update_row(sm, Agent, org.ana, chat_capacity=1)
    [w] = await web(1)
    v1 = await clients.visitor(w)
    c1 = await start_chat(v1, org.dept, "first in line")
    assert await v1.expect("queued") == {"type": "queued", "conversation_id": c1,
                                         "position": 1, "eta_s": None}
    v2 = await clients.visitor(w)
    c2 = await start_chat(v2, org.dept, "second in line")
    assert (await v2.expect("queued"))["position"] == 2

    # An agent coming online and switching the group on is offered the oldest at once.
    ana = await clients.staff(w, "ana@x.test")
    await ana.send(type="active_groups", group_ids=[org.group])
    offer = await ana.expect("offer")
    assert offer["conversation_id"] == c1 and 25 < offer["expires_in_s"] <= 30
    assert (await v2.expect("queued"))["position"] == 1  # the queue moved
    await ana.send(type="accept", conversation_id=c1)
    await ana.expect("done", op="accept")
    assert (await v1.expect("assigned"))["agent_name"] == "Ana"
    assert [m["text"] for m in ana.of("message")] == ["first in line"]  # history on accept

    await ana.send(type="message", conversation_id=c1, client_id="a1", text="How can I help?")
    assert (await v1.expect("message", client_id="a1"))["seq"] == 2
    # At capacity (1): the second visitor waits, nothing is offered.
    assert not [f for f in await ana.quiet(0.3) if f["type"] == "offer"]

    # The first chat ends: the agent's capacity pulls the second one immediately.
    await v1.send(type="end", conversation_id=c1)
    await ana.expect("ended", conversation_id=c1)
    # The release pulls c2 at once, so its offer may arrive before or after "ended".
    if not [f for f in ana.of("offer") if f["conversation_id"] == c2]:
        await ana.expect("offer", conversation_id=c2, within=2)
    await ana.send(type="decline", conversation_id=c2)
    await ana.expect("done", op="decline")
    assert not [f for f in await ana.quiet(0.3) if f["type"] == "offer"]  # skipped for it

    assert [a for a, _ in await _actions(sm, c1)] == ["queued", "offered", "accepted",
                                                      "released"]
    assert ("declined", org.ana) in await _actions(sm, c2)
    async with sm() as s:
        assert (await s.get(Conversation, c1)).status == "closed"  # type: ignore[union-attr]


async def test_offer_timeout_moves_to_a_second_agent(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    await update_row(sm, Group, org.group, offer_timeout_s=1)
    [w] = await web(1, **TIMERS)
    ana = await clients.staff(w, "ana@x.test")
    bob = await clients.staff(w, "bob@x.test")
    await _available(ana, org.group)
    await _available(bob, org.group)
    v = await clients.visitor(w)
    cid = await start_chat(v, org.dept, "anyone?")
    first = await _offered(ana, bob)
    second = bob if first is ana else ana
    # Nobody answers: the offer lapses, is revoked, and goes to the other agent.
    await first.expect("offer_revoked", conversation_id=cid, within=4)
    await second.expect("offer", conversation_id=cid, within=4)
    await second.send(type="accept", conversation_id=cid)
    name = "Ana" if second is ana else "Bob"
    assert (await v.expect("assigned"))["agent_name"] == name
    # The one who let it lapse is not offered it again.
    assert not [f for f in await first.quiet(1.5) if f["type"] == "offer"]
    assert "offer_expired" in [a for a, _ in await _actions(sm, cid)]


async def _offered(*agents: Client) -> Client:
    for _ in range(50):
        for a in agents:
            if a.of("offer"):
                return a
            for f in await a.quiet(0.05):
                if f["type"] == "offer":
                    return a
    raise AssertionError("nobody was offered the chat")


async def test_agent_gone_past_grace_has_the_chat_requeued(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    [w] = await web(1, SWITCHBOARD_PRESENCE_TTL="2", SWITCHBOARD_PRESENCE_GRACE="1", **TIMERS)
    ana = await clients.staff(w, "ana@x.test")
    await _available(ana, org.group)
    v = await clients.visitor(w)
    cid = await start_chat(v, org.dept, "hello")
    await ana.expect("offer", conversation_id=cid)
    await ana.send(type="accept", conversation_id=cid)
    await v.expect("assigned")
    # Ana's console goes away for good; Bob is there.
    await ana.close()
    bob = await clients.staff(w, "bob@x.test")
    await _available(bob, org.group)
    assert not bob.of("offer")
    # Past TTL + grace the chat goes back to the front of the queue and on to Bob.
    assert (await v.expect("participant_left", within=8))["name"] == "Ana"
    assert (await v.expect("queued"))["position"] == 1
    await bob.expect("offer", conversation_id=cid, within=3)
    await bob.send(type="accept", conversation_id=cid)
    assert (await v.expect("assigned"))["agent_name"] == "Bob"
    assert ("requeued", org.ana) in await _actions(sm, cid)


async def test_cherry_pick_transfer_to_agent_and_group_and_the_board(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    a, b = await web(2)
    v = await clients.visitor(a)
    cid = await start_chat(v, org.dept, "billing problem")
    await v.expect("queued")
    # Nobody has the group on: Ana picks it from the queue (on the other process).
    ana = await clients.staff(b, "ana@x.test")
    await ana.send(type="accept", conversation_id=cid)
    await ana.expect("done", op="accept")
    assert (await v.expect("assigned"))["agent_name"] == "Ana"
    bob = await clients.staff(a, "bob@x.test")
    await _available(bob, org.group)

    sam = await clients.staff(a, "sam@x.test", "supervisor")
    await sam.send(type="board")
    board = await sam.expect("board")
    agents = {x["agent_id"]: x for x in board["agents"]}
    assert agents[org.ana]["status"] == "online" and agents[org.ana]["chats"] == 1
    assert agents[org.ana]["active_groups"] == []
    assert agents[org.bob]["active_groups"] == [org.group]
    assert agents[org.sam]["status"] == "offline"  # no console open
    assert board["queues"] == [{"group_id": org.group, "length": 0, "oldest_wait_s": None}]

    # To an agent, with a note: Bob gets the chat and its history, Ana leaves it.
    await ana.send(type="transfer", conversation_id=cid, agent_id=org.bob, note="VIP, careful")
    await ana.expect("done", op="transfer")
    assert (await v.expect("assigned"))["agent_name"] == "Bob"
    await v.quiet(0.2)
    assert [f["name"] for f in v.of("participant_left")] == ["Ana"]
    note = await bob.expect("message", visibility="internal")
    assert note["text"] == "Transfer note: VIP, careful"
    assert "VIP" not in str(v.frames)
    await ana.send(type="message", conversation_id=cid, client_id="late", text="still here?")
    assert (await ana.expect("error"))["code"] == "forbidden"

    # To a group: back in a queue, and offered to that group's agent.
    zed = await clients.staff(b, "zed@x.test")
    await _available(zed, org.other_group)
    await bob.send(type="transfer", conversation_id=cid, group_id=org.other_group)
    await bob.expect("done", op="transfer")
    await zed.expect("offer", conversation_id=cid)
    await zed.send(type="accept", conversation_id=cid)
    assert (await v.expect("assigned"))["agent_name"] == "Zed"

    # Away: no more offers, chats kept; the board says so.
    await bob.send(type="presence", status="away")
    await bob.expect("done", op="presence")
    await sam.send(type="board")
    board = await sam.expect("board")
    bob_row = next(x for x in board["agents"] if x["agent_id"] == org.bob)
    assert bob_row["status"] == "away" and bob_row["active_groups"] == []
    await bob.send(type="presence", status="online")
    await bob.expect("done", op="presence")
    await sam.send(type="board")
    bob_row = next(x for x in (await sam.expect("board"))["agents"] if x["agent_id"] == org.bob)
    assert bob_row["status"] == "online" and bob_row["active_groups"] == [org.group]

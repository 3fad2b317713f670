"""The Router against real Redis and the records: offers, timeouts, pulls, transfers, fairness."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import redis.asyncio as aioredis

from desk.models import Conversation
from routing import errors, events, keys
from routing.router import Router
from tests.routing.conftest import Clock
from tests.support.routing_desk import Desk, online


async def _ana_and_bob(router: Router, desk: Desk) -> tuple[int, int, int]:
    """A group with a 30 s offer timeout and two agents online in it: (group, Ana, Bob)."""
    g = await desk.group(offer_timeout_s=30)
    ana, bob = await desk.agent([g]), await desk.agent([g])
    await online(router, ana, [g])
    await online(router, bob, [g])
    return g, ana, bob


async def test_offer_accept_and_explain(router: Router, desk: Desk) -> None:
    g, ana, bob = await _ana_and_bob(router, desk)
    first = await desk.conversation(g)
    await router.enqueue(first)
    conv = await desk.get(first)
    assert conv.status == "offered" and conv.assignee_id is None
    await router.accept(ana, first)
    conv = await desk.get(first)
    assert (conv.status, conv.assignee_id) == ("active", ana)
    with pytest.raises(errors.NotOffered):
        await router.accept(bob, first)
    second = await desk.conversation(g)
    await router.enqueue(second)
    await router.accept(bob, second)  # least loaded: bob has 0, ana 1
    story = await router.explain(first)
    assert [d["action"] for d in story] == ["queued", "offered", "accepted"]
    offered = story[1]
    assert offered["agent_id"] == ana
    by_agent = {c["agent_id"]: c for c in offered["candidates"]["candidates"]}
    assert by_agent[ana]["reason"] == "chosen"
    assert by_agent[bob]["reason"] == "eligible, ranked lower"
    assert "least loaded" in offered["reason"]


async def test_offer_timeout_moves_to_next_agent(router: Router, desk: Desk,
                                                 clock: Clock) -> None:
    g, ana, bob = await _ana_and_bob(router, desk)
    c = await desk.conversation(g)
    await router.enqueue(c)
    first = (await router.store.conv(c))
    assert first is not None and first.agent_id == ana
    clock.advance(29)
    await router.tick()
    assert (await router.store.conv(c)).agent_id == ana  # type: ignore[union-attr]
    clock.advance(2)
    await router.tick()
    moved = await router.store.conv(c)
    assert moved is not None and (moved.state, moved.agent_id) == ("offered", bob)
    clock.advance(31)
    await router.tick()  # bob lapses too: nobody left who has not let it lapse
    left = await router.store.conv(c)
    assert left is not None and left.state == "queued"
    actions = [d["action"] for d in await router.explain(c)]
    assert actions == ["queued", "offered", "offer_expired", "offered", "offer_expired"]


async def test_decline_skips_the_agent(router: Router, desk: Desk) -> None:
    g, ana, bob = await _ana_and_bob(router, desk)
    c = await desk.conversation(g)
    await router.enqueue(c)
    await router.decline(ana, c)
    now = await router.store.conv(c)
    assert now is not None and now.agent_id == bob
    await router.decline(bob, c)
    assert (await desk.get(c)).status == "queued"
    with pytest.raises(errors.NotOffered):
        await router.decline(bob, c)


async def test_skills_and_tiers(router: Router, desk: Desk) -> None:
    g = await desk.group()
    de = await desk.agent([g], chats=1, skills={"german": 3})
    plain = await desk.agent([g], chats=1)
    await online(router, de, [g])
    b_client = await desk.conversation(g, priority=2, skills={"german": 2})
    a_client = await desk.conversation(g, priority=1, skills={"german": 2})
    await router.set_group_active(de, g, False)  # nobody able: both wait
    await router.enqueue(b_client)
    await router.enqueue(a_client)
    assert await router.store.queue_ids(g) == [a_client, b_client]
    assert (await router.queue_position(b_client))[0] == 2
    await online(router, plain, [g])
    assert await router.store.queue_ids(g) == [a_client, b_client]  # plain lacks german
    await router.set_group_active(de, g, True)  # activation pulls: A-client first
    assert (await desk.get(a_client)).assignee_id == de
    assert (await desk.get(b_client)).status == "queued"
    why = (await router.explain(a_client))[-1]["candidates"]["candidates"]
    assert {c["agent_id"]: c["reason"] for c in why}[plain] == "missing skill"


async def test_release_pulls_next_immediately(router: Router, desk: Desk) -> None:
    g = await desk.group()
    ana = await desk.agent([g], chats=1)
    await online(router, ana, [g])
    c1, c2 = await desk.conversation(g), await desk.conversation(g)
    await router.enqueue(c1)
    assert await router.enqueue(c2) == (1, None) or (await router.queue_position(c2))[0] == 1
    await router.release(c1, "resolved")
    assert (await desk.get(c2)).assignee_id == ana
    assert (await desk.get(c1)).status == "resolved"


async def test_coming_online_pulls(router: Router, desk: Desk) -> None:
    g = await desk.group()
    ana = await desk.agent([g])
    await router.set_active_groups(ana, [g])
    c = await desk.conversation(g)
    await router.enqueue(c)
    assert (await desk.get(c)).status == "queued"
    await router.heartbeat(ana)
    assert (await desk.get(c)).assignee_id == ana


async def test_inactive_or_offline_never_offered(router: Router, desk: Desk) -> None:
    g = await desk.group()
    ana, bob = await desk.agent([g]), await desk.agent([g])
    await router.heartbeat(ana)  # online, but active nowhere
    await router.set_active_groups(bob, [g])  # active, never online
    c = await desk.conversation(g)
    await router.enqueue(c)
    assert (await desk.get(c)).status == "queued"
    with pytest.raises(errors.NotEligible):
        await router.set_active_groups(ana, [g + 1000])


async def test_heartbeat_loss_requeues_chats_at_front(router: Router, desk: Desk,
                                                      clock: Clock,
                                                      redis: aioredis.Redis) -> None:
    g = await desk.group()
    ana, bob = await desk.agent([g], chats=1), await desk.agent([g], chats=1)
    await online(router, ana, [g])
    held = await desk.conversation(g)
    ticket = await desk.conversation(g, channel="email")
    await router.enqueue(held)
    await router.enqueue(ticket)
    waiting = await desk.conversation(g)
    await router.enqueue(waiting)
    assert (await desk.get(held)).assignee_id == ana
    await redis.delete(keys.heartbeat(ana))  # as if the TTL ran out
    clock.advance(30 + 5)
    await router.tick()  # within grace: nothing moves
    assert (await desk.get(held)).assignee_id == ana
    clock.advance(10)
    await router.tick()
    assert await router.store.queue_ids(g) == [held, waiting]  # front of the queue
    assert (await desk.get(ticket)).assignee_id == ana  # tickets wait for their agent
    await online(router, bob, [g])
    assert (await desk.get(held)).assignee_id == bob
    assert (await router.explain(held))[-2]["action"] == "requeued"


async def test_go_offline_returns_chats(router: Router, desk: Desk) -> None:
    g = await desk.group()
    ana, bob = await desk.agent([g]), await desk.agent([g])
    await online(router, ana, [g])
    c = await desk.conversation(g)
    await router.enqueue(c)
    await online(router, bob, [g])
    await router.go_offline(ana)
    assert (await desk.get(c)).assignee_id == bob


async def test_fairness_within_one(router: Router, desk: Desk) -> None:
    g = await desk.group()
    agents = [await desk.agent([g], chats=50) for _ in range(4)]
    for a in agents:
        await online(router, a, [g])
    for _ in range(22):
        await router.enqueue(await desk.conversation(g))
    got: Counter[int] = Counter()
    for a in agents:
        got[a] = len(await router.store.agent_convs(a))
    assert sum(got.values()) == 22
    assert max(got.values()) - min(got.values()) <= 1


async def test_round_robin_rotates(router: Router, desk: Desk) -> None:
    g = await desk.group(policy="round_robin")
    agents = [await desk.agent([g], chats=50) for _ in range(3)]
    for a in agents:
        await online(router, a, [g])
    order = []
    for _ in range(6):
        c = await desk.conversation(g)
        await router.enqueue(c)
        order.append((await desk.get(c)).assignee_id)
    assert order == agents + agents


async def test_manual_and_cherry_pick(router: Router, desk: Desk) -> None:
    g = await desk.group(policy="manual")
    other = await desk.group()
    ana = await desk.agent([g], chats=1)
    outsider = await desk.agent([other])
    await online(router, ana, [g])
    c1, c2 = await desk.conversation(g), await desk.conversation(g)
    await router.enqueue(c1)
    await router.enqueue(c2)
    assert (await desk.get(c1)).status == "queued"
    with pytest.raises(errors.NotEligible):
        await router.cherry_pick(outsider, c2)
    await router.cherry_pick(ana, c2)
    assert (await desk.get(c2)).assignee_id == ana
    with pytest.raises(errors.NotEligible):
        await router.cherry_pick(ana, c1)  # at capacity
    with pytest.raises(errors.NotQueued):
        await router.cherry_pick(ana, c2)
    assert (await router.explain(c2))[-1]["action"] == "picked"


async def test_a_colleague_assigns_within_the_router_s_rules(router: Router,
                                                              desk: Desk) -> None:
    g = await desk.group(policy="manual")
    ana = await desk.agent([g])
    bob = await desk.agent([g], skills={"german": 1})
    cat = await desk.agent([g], skills={"german": 2})
    await online(router, ana, [g])
    c = await desk.conversation(g, skills={"german": 2}, channel="email")
    await router.enqueue(c)
    with pytest.raises(errors.NotEligible, match="offline"):
        await router.cherry_pick(cat, c, by_agent_id=ana)
    await online(router, bob, [g])
    await online(router, cat, [])  # no group switched on: an assignment needs none
    with pytest.raises(errors.NotEligible, match="skill level too low german 1 < 2"):
        await router.cherry_pick(bob, c, by_agent_id=ana)
    await router.cherry_pick(cat, c, by_agent_id=ana)
    assert (await desk.get(c)).assignee_id == cat
    last = (await router.explain(c))[-1]
    assert last["action"] == "picked" and f"to agent {cat} by agent {ana}" in last["reason"]


async def test_transfer_to_agent_and_group(router: Router, desk: Desk) -> None:
    g, vip = await desk.group(), await desk.group()
    ana = await desk.agent([g])
    bob = await desk.agent([g], skills={"billing": 1})
    cat = await desk.agent([vip], chats=1, skills={"billing": 2})
    await online(router, ana, [g])
    c = await desk.conversation(g, skills={"billing": 1})
    await router.set_group_active(ana, g, True)
    waiting = await desk.conversation(g, skills={"billing": 1})
    # ana lacks billing: nobody eligible, so both wait; give ana the chat by picking it.
    await router.enqueue(c)
    await router.cherry_pick(ana, c)
    with pytest.raises(errors.NotEligible):
        await router.transfer(c, to_agent_id=bob)  # bob offline
    await online(router, bob, [g])
    await router.transfer(c, to_agent_id=bob, by_agent_id=ana, note="needs billing")
    assert (await desk.get(c)).assignee_id == bob
    await router.transfer(c, to_group_id=vip, by_agent_id=bob)
    conv = await desk.get(c)
    assert (conv.group_id, conv.status) == (vip, "queued")
    await online(router, cat, [vip])
    assert (await desk.get(c)).assignee_id == cat
    assert "needs billing" in (await router.explain(c))[-3]["reason"]
    await router.enqueue(waiting)
    assert (await desk.get(waiting)).assignee_id == bob


async def test_events_published(router: Router, desk: Desk, redis: aioredis.Redis) -> None:
    g = await desk.group(offer_timeout_s=30)
    ana = await desk.agent([g])
    await online(router, ana, [g])
    pubsub = redis.pubsub()
    await pubsub.subscribe(router.events_channel)
    await pubsub.get_message(timeout=1)
    c = await desk.conversation(g)
    await router.enqueue(c)
    await router.accept(ana, c)
    waiting = await desk.conversation(g)
    await router.set_group_active(ana, g, False)
    await router.enqueue(waiting)
    seen: list[events.Event] = []
    while (msg := await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)):
        seen.append(events.parse(msg["data"]))
    await pubsub.aclose()
    kinds = [type(e).__name__ for e in seen]
    assert kinds == ["Offer", "QueueChanged", "Assigned", "QueueChanged", "Queued"]
    assert seen[-1] == events.Queued(waiting, g, 1, None)
    assert seen[-2] == events.QueueChanged(g, [waiting], None)
    assert events.parse(events.dump(seen[0])) == seen[0]
    with pytest.raises(ValueError):
        events.parse(b'{"type": "nope"}')


async def test_flush_recovery_rebuilds_from_records(router: Router, desk: Desk,
                                                    redis: aioredis.Redis) -> None:
    g = await desk.group(offer_timeout_s=30)
    ana, bob = await desk.agent([g], chats=1), await desk.agent([g], chats=1)
    await online(router, ana, [g])
    await router.set_active_groups(bob, [g])
    c1, c2, c3 = [await desk.conversation(g) for _ in range(3)]
    await router.enqueue(c1)
    await router.accept(ana, c1)
    await router.enqueue(c2)  # queued: ana full, bob offline
    await redis.flushdb()
    await router.heartbeat(bob)  # heartbeats resume first, like live agents would
    await router.tick()  # notices the missing epoch and rebuilds
    assert await router.store.epoch() is not None
    assert await router.store.agent_convs(ana) == {c1}
    assert await router.store.active_groups(bob) == {g}
    # c2 went to bob as soon as the rebuild re-queued it; never to ana (full).
    assert (await router.store.conv(c2)).agent_id == bob  # type: ignore[union-attr]
    await router.enqueue(c3)
    assert (await desk.get(c3)).status == "queued"  # both full: no overshoot after rebuild


async def test_concurrent_dispatchers_never_double_assign(
        settings: object, redis: aioredis.Redis, router: Router, desk: Desk) -> None:
    g = await desk.group()
    agents = [await desk.agent([g], chats=3) for _ in range(3)]
    for a in agents:
        await online(router, a, [g])
    convs = [await desk.conversation(g) for _ in range(12)]
    peers = [Router(router.settings, redis, router.sessions) for _ in range(4)]
    await asyncio.gather(*[peers[i % 4].enqueue(c) for i, c in enumerate(convs)])
    held = [len(await router.store.agent_convs(a)) for a in agents]
    assert held == [3, 3, 3]
    statuses = Counter([(await desk.get(c)).status for c in convs])
    assert statuses == {"active": 9, "queued": 3}


async def test_a_batch_read_as_queued_leaves_one_resolved_since_as_it_is(
        router: Router, desk: Desk) -> None:
    # The sweep (or a poller) read the records as queued; an agent resolved one before the
    # batch's transaction: the resolve stands (it once went back to "queued", and the customer's
    # closed notice was skipped as the ticket was no longer closed).
    g = await desk.group()
    waiting, resolved = await desk.conversation(g, "email"), await desk.conversation(g, "email")
    async with desk.sessions() as s, s.begin():
        conv = await s.get(Conversation, resolved)
        assert conv is not None
        conv.status = "resolved"
    found = await router.enqueue_many([waiting, resolved])
    assert list(found) == [waiting]
    assert (await desk.get(resolved)).status == "resolved"
    assert await router.store.conv(resolved) is None
    assert [d["action"] for d in await router.explain(resolved)] == []


async def test_enqueue_many_one_batch_across_groups(router: Router, desk: Desk,
                                                    redis: aioredis.Redis) -> None:
    g, other = await desk.group(), await desk.group()
    ana = await desk.agent([g], tickets=2)
    await online(router, ana, [g])
    tickets = [await desk.conversation(g, channel="email") for _ in range(3)]
    waiting = [await desk.conversation(other, channel="email") for _ in range(2)]
    nowhere = await desk.conversation(g, channel="email")
    async with desk.sessions() as s, s.begin():
        conv = await s.get(Conversation, nowhere)
        assert conv is not None
        conv.group_id = None
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(router.events_channel)
    await pubsub.get_message(timeout=1)
    found = await router.enqueue_many([*tickets, *waiting, nowhere, 999_999, tickets[0]])
    assert {c: position for c, (position, _) in found.items()} == {
        tickets[0]: 0, tickets[1]: 0, tickets[2]: 1, waiting[0]: 1, waiting[1]: 2}
    assert found[waiting[1]] == (2, None)  # no throughput in that group yet: no estimate
    assert [(await desk.get(c)).assignee_id for c in tickets] == [ana, ana, None]
    assert [d["action"] for d in await router.explain(tickets[0])] == ["queued", "assigned"]
    assert await router.store.conv(nowhere) is None
    seen = []
    while (msg := await pubsub.get_message(timeout=0.2)) is not None:
        seen.append(events.parse(msg["data"]))
    await pubsub.aclose()
    assert [e for e in seen if isinstance(e, events.Queued)] == [
        events.Queued(c, group, *found[c])
        for c, group in ((tickets[2], g), (waiting[0], other), (waiting[1], other))]


async def test_sweep_routes_what_only_the_records_queued(router: Router, desk: Desk,
                                                         clock: Clock) -> None:
    # A poller that died between committing its tickets and routing them.
    g = await desk.group()
    ana = await desk.agent([g])
    await online(router, ana, [g])
    lost = await desk.conversation(g, channel="email")
    await router.tick()  # too recent to judge
    clock.advance(6)
    await router.tick()  # first sighting: it may be in the middle of being enqueued
    assert (await desk.get(lost)).status == "queued"
    assert await router.store.conv(lost) is None
    clock.advance(6)
    await router.tick()  # still only in the records: queued and routed
    assert (await desk.get(lost)).assignee_id == ana
    assert [d["action"] for d in await router.explain(lost)] == ["queued", "assigned"]


async def test_sweep_leaves_routed_and_released_conversations_alone(
        router: Router, desk: Desk, clock: Clock) -> None:
    g = await desk.group()
    waiting = await desk.conversation(g)
    await router.enqueue(waiting)  # nobody online: stays queued in Redis and the records
    done = await desk.conversation(g)
    await router.enqueue(done)
    await router.release(done, "closed")
    for _ in range(3):
        clock.advance(6)
        await router.tick()
    assert await router.store.queue_ids(g) == [waiting]
    assert [d["action"] for d in await router.explain(waiting)] == ["queued"]
    assert (await desk.get(done)).status == "closed"

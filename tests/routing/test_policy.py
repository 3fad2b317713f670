"""Pure policy tests: eligibility, queue order, policies, ties, fairness, explanations."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from dataclasses import replace

import pytest

from routing.policy import (
    AgentView,
    Decision,
    Item,
    Policy,
    Reason,
    decide,
    estimate_wait,
    kind_of,
    member_conversation,
    queue_member,
    queue_score,
    rejection,
    rotation,
    sort_key,
)


def agent(aid: int, **kw: object) -> AgentView:
    base = AgentView(aid, online=True, active=True, chats=0, tickets=0, max_chats=3,
                     max_tickets=10, skills={})
    return replace(base, **kw)  # type: ignore[arg-type]


def item(cid: int = 1, **kw: object) -> Item:
    return replace(Item(cid, group_id=7, channel="chat"), **kw)  # type: ignore[arg-type]


# -- eligibility ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("who", "what", "reason"),
    [
        (agent(1), item(), None),
        (agent(1, online=False), item(), Reason.OFFLINE),
        (agent(1, active=False), item(), Reason.INACTIVE),
        (agent(1, chats=3), item(), Reason.AT_CAPACITY),
        (agent(1, chats=3), item(channel="email"), None),
        (agent(1, tickets=10), item(channel="email"), Reason.AT_CAPACITY),
        (agent(1, tickets=10), item(channel="portal"), Reason.AT_CAPACITY),
        (agent(1, tickets=10), item(), None),
        (agent(1, max_chats=0), item(), Reason.AT_CAPACITY),
        (agent(1), item(required_skills={"de": 1}), Reason.MISSING_SKILL),
        (agent(1, skills={"de": 2}), item(required_skills={"de": 3}), Reason.SKILL_TOO_LOW),
        (agent(1, skills={"de": 3}), item(required_skills={"de": 3}), None),
        (agent(1, skills={"de": 9}), item(required_skills={"de": 3}), None),
        (agent(1, skills={"de": 5}), item(required_skills={"de": 3, "vip": 1}),
         Reason.MISSING_SKILL),
        (agent(1, skills={"de": 5, "vip": 1}), item(required_skills={"de": 3, "vip": 1}), None),
        (agent(1), item(excluded=frozenset({1})), Reason.EXCLUDED),
        (agent(2), item(excluded=frozenset({1})), None),
    ],
)
def test_rejection(who: AgentView, what: Item, reason: Reason | None) -> None:
    got = rejection(who, what)
    assert (got[0] if got else None) == reason


def test_offline_and_inactive_win_over_other_reasons() -> None:
    # An offline agent is reported offline even if also full and unskilled: the primary reason.
    a = agent(1, online=False, active=False, chats=9)
    assert rejection(a, item(required_skills={"x": 1})) == (Reason.OFFLINE, "")


def test_kind_of() -> None:
    assert kind_of("chat") == "chat"
    assert kind_of("email") == kind_of("portal") == "ticket"


# -- queue order ---------------------------------------------------------------------------------

def test_queue_order_tier_then_sla_then_arrival() -> None:
    items = [
        item(1, priority=2, sla_due=None, arrival=1.0),
        item(2, priority=2, sla_due=5000.0, arrival=9.0),
        item(3, priority=1, sla_due=None, arrival=50.0),
        item(4, priority=2, sla_due=4000.0, arrival=10.0),
        item(5, priority=2, sla_due=4000.0, arrival=8.0),
        item(6, priority=3, sla_due=1.0, arrival=0.5),
        item(7, priority=2, sla_due=None, arrival=60.0, front=True),
        item(8, priority=1, sla_due=100.0, arrival=70.0),
    ]
    order = [i.conversation_id for i in sorted(items, key=sort_key)]
    assert order == [7, 8, 3, 5, 4, 2, 1, 6]


def test_score_and_member_sort_like_redis() -> None:
    rng = random.Random(5)
    items = [
        item(c, priority=rng.randint(0, 4), front=rng.random() < 0.1,
             sla_due=rng.choice([None, rng.uniform(1e9, 2e9)]), arrival=rng.uniform(1e9, 2e9))
        for c in range(1, 500)
    ]
    redis_like = sorted(
        items, key=lambda i: (float(queue_score(i.priority, i.sla_due, i.front)),
                              queue_member(i.conversation_id, i.arrival)))
    expected = sorted(items, key=lambda i: (0 if i.front else i.priority + 1,
                                            i.sla_due if i.sla_due is not None else 1e30,
                                            int(i.arrival * 1000)))
    assert [i.conversation_id for i in redis_like] == [i.conversation_id for i in expected]


def test_score_is_exact_as_float_and_clamped() -> None:
    s = queue_score(98, 99_999_999_999)
    assert float(s) == s
    assert queue_score(500, None) == queue_score(98, None)
    assert queue_score(-5, None) == queue_score(0, None)
    assert queue_score(0, None, front=True) < queue_score(0, 0)


def test_member_roundtrip() -> None:
    assert member_conversation(queue_member(10427, 1_700_000_000.123)) == 10427
    assert queue_member(3, 1.5) < queue_member(2, 2.0)


# -- policies ------------------------------------------------------------------------------------

def test_least_loaded_picks_fewest_of_the_same_kind() -> None:
    agents = [agent(1, chats=2, tickets=0), agent(2, chats=1, tickets=9), agent(3, chats=2)]
    d = decide(Policy.LEAST_LOADED, item(), agents, cursor=None)
    assert d.agent_id == 2
    assert d.ranking == (2, 1, 3)
    d = decide(Policy.LEAST_LOADED, item(channel="email"), agents, cursor=None)
    assert d.agent_id == 1  # tickets: 0 < 9, tie 1/3 broken by rotation


def test_least_loaded_ties_rotate_after_cursor() -> None:
    agents = [agent(1), agent(2), agent(3)]
    assert decide(Policy.LEAST_LOADED, item(), agents, cursor=None).agent_id == 1
    assert decide(Policy.LEAST_LOADED, item(), agents, cursor=1).agent_id == 2
    assert decide(Policy.LEAST_LOADED, item(), agents, cursor=2).agent_id == 3
    assert decide(Policy.LEAST_LOADED, item(), agents, cursor=3).agent_id == 1
    # A cursor naming an agent who left still rotates correctly.
    assert decide(Policy.LEAST_LOADED, item(), [agent(1), agent(5)], cursor=3).agent_id == 5


def test_round_robin_is_strict_rotation_regardless_of_load() -> None:
    agents = [agent(1, chats=0), agent(2, chats=2), agent(3, chats=1)]
    d = decide(Policy.ROUND_ROBIN, item(), agents, cursor=1)
    assert d.agent_id == 2
    assert d.ranking == (2, 3, 1)


def test_round_robin_skips_ineligible() -> None:
    agents = [agent(1), agent(2, online=False), agent(3)]
    assert decide(Policy.ROUND_ROBIN, item(), agents, cursor=1).agent_id == 3


def test_manual_never_chooses() -> None:
    d = decide(Policy.MANUAL, item(), [agent(1), agent(2)], cursor=None)
    assert d.agent_id is None and d.ranking == ()
    assert "manual" in d.reason


def test_no_eligible_agent() -> None:
    d = decide(Policy.LEAST_LOADED, item(required_skills={"fr": 2}),
               [agent(1), agent(2, skills={"fr": 1})], cursor=None)
    assert d.agent_id is None
    assert d.reason == "no eligible agent"
    assert [c.reason for c in d.candidates] == [Reason.MISSING_SKILL, Reason.SKILL_TOO_LOW]


def test_policy_parse_defaults() -> None:
    assert Policy.parse("round_robin") is Policy.ROUND_ROBIN
    assert Policy.parse(None) is Policy.LEAST_LOADED
    assert Policy.parse("bogus") is Policy.LEAST_LOADED


def test_rotation() -> None:
    assert rotation([3, 1, 2], None) == [1, 2, 3]
    assert rotation([3, 1, 2], 2) == [3, 1, 2]
    assert rotation([3, 1, 2], 9) == [1, 2, 3]
    assert rotation([], 1) == []


# -- explanations --------------------------------------------------------------------------------

def test_explanation_covers_every_member() -> None:
    agents = [
        agent(1, online=False),
        agent(2, active=False),
        agent(3, chats=3),
        agent(4, skills={"de": 1}),
        agent(5, skills={"de": 4}, chats=1),
        agent(6, skills={"de": 5}, chats=2),
        agent(7, skills={"de": 5}),
    ]
    d = decide(Policy.LEAST_LOADED, item(required_skills={"de": 2}, excluded=frozenset({7})),
               agents, cursor=None)
    assert d.agent_id == 5
    rec = d.to_record()
    by_id = {c["agent_id"]: c for c in rec["candidates"]}
    assert set(by_id) == {1, 2, 3, 4, 5, 6, 7}
    assert by_id[1]["reason"] == "offline"
    assert by_id[2]["reason"] == "not active in the group"
    assert by_id[3]["reason"] == "at capacity" and by_id[3]["detail"] == "3/3 chats"
    assert by_id[4]["reason"] == "skill level too low" and by_id[4]["detail"] == "de 1 < 2"
    assert by_id[5]["reason"] == "chosen" and by_id[5]["eligible"]
    assert by_id[6]["reason"] == "eligible, ranked lower" and by_id[6]["detail"] == "rank 2"
    assert by_id[7]["reason"] == "declined or let the offer lapse"
    assert rec["ranking"] == [5, 6]
    assert rec["policy"] == "least_loaded"
    assert "least loaded: 1 open chats" in d.reason


def test_with_winner_records_fallthrough() -> None:
    d = decide(Policy.LEAST_LOADED, item(), [agent(1), agent(2, chats=1)], cursor=None)
    assert d.with_winner(1) is d
    moved = d.with_winner(2)
    assert moved.agent_id == 2 and moved.ranking == (2, 1)
    assert "fell through to 2" in moved.reason
    reasons = {c.agent_id: c.reason for c in moved.candidates}
    assert reasons == {1: Reason.RANKED, 2: Reason.CHOSEN}
    assert isinstance(moved, Decision)


def test_with_winner_for_a_manual_pick() -> None:
    d = decide(Policy.MANUAL, item(), [agent(1), agent(2)], cursor=None)
    picked = d.with_winner(2, "picked from the queue by agent 2")
    assert picked.agent_id == 2
    assert picked.reason.endswith("picked from the queue by agent 2")
    assert {c.agent_id: c.reason for c in picked.candidates} == {
        1: Reason.RANKED, 2: Reason.CHOSEN}


# -- fairness ------------------------------------------------------------------------------------

def simulate(policy: Policy, n_agents: int, n_items: int, seed: int,
             close_prob: float = 0.0) -> Counter[int]:
    """Assign ``n_items`` one after another, applying each decision as Redis would."""
    rng = random.Random(seed)
    loads = dict.fromkeys(range(1, n_agents + 1), 0)
    open_by: dict[int, list[int]] = {a: [] for a in loads}
    cursor: int | None = None
    got: Counter[int] = Counter()
    for cid in range(n_items):
        agents = [agent(a, chats=loads[a], max_chats=10**6) for a in loads]
        d = decide(policy, item(cid), agents, cursor)
        assert d.agent_id is not None
        loads[d.agent_id] += 1
        open_by[d.agent_id].append(cid)
        got[d.agent_id] += 1
        cursor = d.agent_id
        if close_prob and rng.random() < close_prob:
            victim = rng.choice([a for a in loads if open_by[a]])
            open_by[victim].pop()
            loads[victim] -= 1
    return got


@pytest.mark.parametrize("policy", [Policy.LEAST_LOADED, Policy.ROUND_ROBIN])
@pytest.mark.parametrize(("n_agents", "n_items"), [(2, 7), (3, 100), (7, 1000), (13, 999)])
def test_spread_within_one_under_equal_load(policy: Policy, n_agents: int, n_items: int) -> None:
    got = simulate(policy, n_agents, n_items, seed=n_items)
    assert sum(got.values()) == n_items
    counts = [got[a] for a in range(1, n_agents + 1)]
    assert max(counts) - min(counts) <= 1


def test_least_loaded_keeps_loads_within_one_while_closing() -> None:
    # With closes, least_loaded keeps *current* loads balanced (not cumulative counts).
    rng = random.Random(3)
    loads = dict.fromkeys(range(1, 6), 0)
    cursor: int | None = None
    for cid in range(2000):
        d = decide(Policy.LEAST_LOADED, item(cid),
                   [agent(a, chats=loads[a], max_chats=10**6) for a in loads], cursor)
        assert d.agent_id is not None
        loads[d.agent_id] += 1
        cursor = d.agent_id
        assert max(loads.values()) - min(loads.values()) <= 1 or cid == 0
        if rng.random() < 0.3:
            # close on the most-loaded agent: the balance must survive it
            loads[max(loads, key=lambda a: loads[a])] -= 1


def test_every_permutation_of_ties_is_served_in_id_order() -> None:
    for perm in itertools.permutations([agent(1), agent(2), agent(3)]):
        assert decide(Policy.LEAST_LOADED, item(), list(perm), cursor=None).ranking == (1, 2, 3)


# -- wait estimate -------------------------------------------------------------------------------

def test_estimate_wait() -> None:
    now = 10_000.0
    recent = [now - 100 + 10 * i for i in range(10)]  # 9 intervals over 100 s
    eta = estimate_wait(3, recent, now)
    assert eta is not None and eta == pytest.approx(3 * 100 / 9)
    assert estimate_wait(0, recent, now) == 0.0
    assert estimate_wait(1, [now - 5], now) is None
    assert estimate_wait(1, [now - 5000, now - 4000], now) is None  # outside the window

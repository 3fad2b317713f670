"""Routing policy: who may take a conversation, in what order the queue is served, who gets it.

Pure: no I/O, no clocks. The Redis adapter feeds it snapshots and enforces the decision atomically
(``routing/lua/claim.lua``); this module only ranks and explains.

A conversation's skills are required (an agent without them is not eligible) unless the name
starts with ``PREFERRED``: then agents holding it rank first and the others still may take it
(a chat's language when the site prefers, not requires, a speaker: ``desk.site_config``).

Queue order is (priority band, SLA deadline, arrival). Band 0 is reserved for conversations put
back at the front (their agent vanished); priority tier ``p`` maps to band ``p + 1`` so a lower
number is served first (tier 1 = A-clients before tier 2 = B-clients).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

CHAT = "chat"
TICKET = "ticket"
MAX_PRIORITY = 98
NO_SLA_S = 99_999_999_999  # sorts after every real deadline (year 5138)
_BAND = 100_000_000_000  # > NO_SLA_S, so (band, sla) packs into one exact float score
PREFERRED = "~"


class Policy(StrEnum):
    LEAST_LOADED = "least_loaded"
    ROUND_ROBIN = "round_robin"
    MANUAL = "manual"

    @classmethod
    def parse(cls, value: str | None) -> Policy:
        try:
            return cls(value or cls.LEAST_LOADED)
        except ValueError:
            return cls.LEAST_LOADED


class Reason(StrEnum):
    """Why an agent was not eligible (or, for CHOSEN/RANKED, that they were)."""

    CHOSEN = "chosen"
    RANKED = "eligible, ranked lower"
    EXCLUDED = "declined or let the offer lapse"
    OFFLINE = "offline"
    INACTIVE = "not active in the group"
    AT_CAPACITY = "at capacity"
    MISSING_SKILL = "missing skill"
    SKILL_TOO_LOW = "skill level too low"


def kind_of(channel: str) -> str:
    """Chats and everything else (email, portal tickets) have separate capacities."""
    return CHAT if channel == CHAT else TICKET


@dataclass(frozen=True, slots=True)
class AgentView:
    """One agent as seen at decision time."""

    agent_id: int
    online: bool
    active: bool  # active in the group being routed
    chats: int
    tickets: int
    max_chats: int
    max_tickets: int
    skills: Mapping[str, int] = field(default_factory=dict)

    def load(self, kind: str) -> int:
        return self.chats if kind == CHAT else self.tickets

    def capacity(self, kind: str) -> int:
        return self.max_chats if kind == CHAT else self.max_tickets


@dataclass(frozen=True, slots=True)
class Item:
    """A queued conversation."""

    conversation_id: int
    group_id: int
    channel: str
    priority: int = 2
    sla_due: float | None = None  # epoch seconds
    arrival: float = 0.0  # epoch seconds
    required_skills: Mapping[str, int] = field(default_factory=dict)
    excluded: frozenset[int] = frozenset()
    front: bool = False

    @property
    def kind(self) -> str:
        return kind_of(self.channel)


def queue_score(priority: int, sla_due: float | None, front: bool = False) -> int:
    """ZSET score: band then SLA second. Ties are broken by ``queue_member`` (arrival)."""
    band = 0 if front else min(max(priority, 0), MAX_PRIORITY) + 1
    sla = NO_SLA_S if sla_due is None else min(max(int(sla_due), 0), NO_SLA_S)
    return band * _BAND + sla


def queue_member(conversation_id: int, arrival: float) -> str:
    """ZSET member: zero-padded arrival (ms) first, so equal scores sort by arrival."""
    return f"{max(int(arrival * 1000), 0):015d}:{conversation_id}"


def member_conversation(member: str) -> int:
    return int(member.rsplit(":", 1)[1])


def sort_key(item: Item) -> tuple[int, str]:
    """The order Redis keeps the queue in, for use on in-memory lists."""
    return (
        queue_score(item.priority, item.sla_due, item.front),
        queue_member(item.conversation_id, item.arrival),
    )


def rejection(agent: AgentView, item: Item) -> tuple[Reason, str] | None:
    """Why ``agent`` may not take ``item`` (reason, detail), or None if eligible."""
    if agent.agent_id in item.excluded:
        return Reason.EXCLUDED, ""
    if not agent.online:
        return Reason.OFFLINE, ""
    if not agent.active:
        return Reason.INACTIVE, f"group {item.group_id}"
    kind = item.kind
    if agent.load(kind) >= agent.capacity(kind):
        return Reason.AT_CAPACITY, f"{agent.load(kind)}/{agent.capacity(kind)} {kind}s"
    for skill, need in sorted(item.required_skills.items()):
        if skill.startswith(PREFERRED):
            continue
        have = agent.skills.get(skill)
        if have is None:
            return Reason.MISSING_SKILL, f"{skill} (needs {need})"
        if have < need:
            return Reason.SKILL_TOO_LOW, f"{skill} {have} < {need}"
    return None


def rotation(agent_ids: Iterable[int], cursor: int | None) -> list[int]:
    """Agents in id order starting just after ``cursor`` (the last one served), wrapping."""
    ordered = sorted(agent_ids)
    if cursor is None:
        return ordered
    after = [a for a in ordered if a > cursor]
    return after + [a for a in ordered if a <= cursor]


@dataclass(frozen=True, slots=True)
class Candidate:
    agent_id: int
    reason: Reason
    detail: str
    load: int
    capacity: int

    @property
    def eligible(self) -> bool:
        return self.reason in (Reason.CHOSEN, Reason.RANKED)

    def to_json(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "eligible": self.eligible,
            "reason": self.reason.value,
            "detail": self.detail,
            "load": self.load,
            "capacity": self.capacity,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one conversation, with the evidence a supervisor needs to audit it.

    ``ranking`` lists every eligible agent in preference order; the claim script takes the first
    one still eligible when it runs, so a lost race falls through instead of failing. The
    per-agent explanation (``candidates``) is derived on demand: deciding is the hot path,
    explaining happens once per executed decision.
    """

    conversation_id: int
    group_id: int
    policy: Policy
    agent_id: int | None
    reason: str
    ranking: tuple[int, ...]
    agents: tuple[AgentView, ...]
    verdicts: Mapping[int, tuple[Reason, str]]
    kind: str = CHAT

    @property
    def candidates(self) -> tuple[Candidate, ...]:
        rank = {a: i for i, a in enumerate(self.ranking)}
        out = []
        for agent in sorted(self.agents, key=lambda a: a.agent_id):
            aid = agent.agent_id
            if aid in self.verdicts:
                reason, detail = self.verdicts[aid]
            elif aid == self.agent_id:
                reason, detail = Reason.CHOSEN, self.reason
            elif aid in rank:
                reason, detail = Reason.RANKED, f"rank {rank[aid] + 1}"
            else:
                reason, detail = Reason.RANKED, f"{self.policy.value} policy"
            out.append(Candidate(aid, reason, detail, agent.load(self.kind),
                                 agent.capacity(self.kind)))
        return tuple(out)

    def with_winner(self, agent_id: int, note: str = "") -> Decision:
        """The decision as executed: ``agent_id`` may be a fallback if the first choice filled,
        or an agent who picked it themselves."""
        if agent_id == self.agent_id and not note:
            return self
        reason = self.reason
        if self.agent_id is not None and agent_id != self.agent_id:
            reason += (f"; first choice {self.agent_id} was taken meanwhile, "
                       f"fell through to {agent_id}")
        if note:
            reason = f"{reason}; {note}" if reason else note
        ranking = (agent_id, *(a for a in self.ranking if a != agent_id))
        verdicts = {a: v for a, v in self.verdicts.items() if a != agent_id}
        return Decision(self.conversation_id, self.group_id, self.policy, agent_id, reason,
                        ranking, self.agents, verdicts, self.kind)

    def to_record(self) -> dict[str, Any]:
        return {
            "policy": self.policy.value,
            "group_id": self.group_id,
            "ranking": list(self.ranking),
            "candidates": [c.to_json() for c in self.candidates],
        }


def decide(policy: Policy, item: Item, agents: Sequence[AgentView],
           cursor: int | None) -> Decision:
    """Choose an agent for ``item`` among ``agents`` (the group's members)."""
    kind = item.kind
    chat = kind == CHAT
    excluded = item.excluded
    needs = tuple((s, n) for s, n in item.required_skills.items() if not s.startswith(PREFERRED))
    verdicts: dict[int, tuple[Reason, str]] = {}
    eligible: list[AgentView] = []
    for agent in agents:
        # Inlined happy path of ``rejection``: this loop runs for every agent of every decision.
        if (agent.online and agent.active and agent.agent_id not in excluded
                and ((agent.chats < agent.max_chats) if chat
                     else (agent.tickets < agent.max_tickets))
                and (not needs or all(agent.skills.get(s, -1) >= n for s, n in needs))):
            eligible.append(agent)
        else:
            rejected = rejection(agent, item)
            assert rejected is not None
            verdicts[agent.agent_id] = rejected

    ranking: list[int]
    if policy is Policy.MANUAL:
        ranking, why = [], "manual policy: waits for an agent to pick it from the queue"
    elif not eligible:
        ranking, why = [], "no eligible agent"
    elif policy is Policy.ROUND_ROBIN:
        ranking = rotation((a.agent_id for a in eligible), cursor)
        why = f"round robin: next in rotation after {cursor}" if cursor is not None else \
            "round robin: first in rotation"
    else:
        # Sort key = (load, position in the rotation after the cursor).
        last = cursor if cursor is not None else -1 << 62
        loads = [(a.chats if chat else a.tickets, a.agent_id <= last, a.agent_id)
                 for a in eligible]
        loads.sort()
        ranking = [a for _, _, a in loads]
        low = loads[0][0]
        ties = sum(1 for n, _, _ in loads if n == low)
        why = f"least loaded: {low} open {kind}s" + (
            f", next in rotation among {ties} tied" if ties > 1 else "")
    if ranking and (wished := preferred(item)):
        ranking, why = prefer(ranking, eligible, wished, why)
    return Decision(item.conversation_id, item.group_id, policy,
                    ranking[0] if ranking else None, why, tuple(ranking), tuple(agents),
                    verdicts, kind)


def preferred(item: Item) -> dict[str, int]:
    return {s[len(PREFERRED):]: n for s, n in item.required_skills.items()
            if s.startswith(PREFERRED)}


def prefer(ranking: list[int], eligible: Sequence[AgentView], wished: Mapping[str, int],
           why: str) -> tuple[list[int], str]:
    """``ranking`` with the agents holding every wished skill first (each part in its order)."""
    holders = {a.agent_id for a in eligible
               if all(a.skills.get(s, -1) >= n for s, n in wished.items())}
    names = ", ".join(sorted(wished))
    if not holders:
        return ranking, f"{why}; nobody free has {names} (preferred)"
    ordered = [a for a in ranking if a in holders] + [a for a in ranking if a not in holders]
    return ordered, f"{why}; {names} preferred"


def estimate_wait(position: int, recent: Sequence[float], now: float,
                  window_s: float = 900.0) -> float | None:
    """Seconds until a conversation at 1-based ``position`` is served, from recent dequeues.

    ``recent`` holds dequeue times (epoch seconds). None when there is too little history.
    """
    if position <= 0:
        return 0.0
    times = sorted(t for t in recent if now - window_s <= t <= now)
    if len(times) < 2:
        return None
    rate = (len(times) - 1) / max(now - times[0], 1e-3)
    return position / rate

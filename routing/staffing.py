"""The agents' side of routing: presence (heartbeats, signing off), the groups they take work
in, and taking back what an agent may no longer hold (offline, lapsed, left the group).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from routing import errors, events, records
from routing.dispatch import Dispatcher
from routing.store import ConvState, GroupSnapshot


class Staffing(Dispatcher):
    """Agents coming, going and choosing their groups; what they hold when they may not."""

    async def heartbeat(self, agent_id: int) -> None:
        cfg = await self._agent(agent_id)
        if await self.presence.beat(agent_id, self._now_ms(), cfg.max_chats, cfg.max_tickets):
            await self._pull(agent_id)

    async def heartbeat_many(self, agent_ids: Iterable[int]) -> None:
        """``heartbeat`` for every agent a process holds a console of, in one query and one
        Redis pipeline (a periodic beat of hundreds of agents one by one kept a web process
        busy); unknown or disabled agents are skipped."""
        async with self.sessions() as s:
            cfgs = await records.agent_configs(s, agent_ids)
        back = await self.presence.beat_many(
            [(a, c.max_chats, c.max_tickets) for a, c in sorted(cfgs.items())], self._now_ms())
        for agent_id in back:
            await self._pull(agent_id)

    async def set_active_groups(self, agent_id: int, group_ids: Iterable[int]) -> None:
        cfg = await self._agent(agent_id)
        wanted = set(group_ids)
        if not wanted <= cfg.groups:
            raise errors.NotEligible(f"agent {agent_id} is not a member of "
                                     f"{sorted(wanted - cfg.groups)}")
        async with self.sessions() as s, s.begin():
            await records.set_active(s, agent_id, wanted, True)
            await records.set_active(s, agent_id, cfg.groups - wanted, False)
        before = await self.store.active_groups(agent_id)
        await self.store.set_active(agent_id, wanted, cfg.groups - wanted)
        for g in sorted(wanted - before):
            await self._dispatch(g)

    async def set_group_active(self, agent_id: int, group_id: int, active: bool) -> None:
        current = await self.store.active_groups(agent_id)
        await self.set_active_groups(
            agent_id, current | {group_id} if active else current - {group_id})

    async def go_offline(self, agent_id: int) -> None:
        """The agent signed off: offers go back, chats are re-queued at the front at once."""
        await self.presence.leave(agent_id)
        await self._take_back(agent_id, "agent_offline", only_if_offline=True)
        await self.presence.forget(agent_id)

    async def drop_heartbeat(self, agent_id: int) -> None:
        """No new offers to the agent from now on (their last console socket on a process
        closed); the grace period re-queues their chats unless a heartbeat comes back."""
        await self.presence.leave(agent_id)

    async def is_online(self, agent_id: int) -> bool:
        return await self.presence.online(agent_id)

    async def active_groups(self, agent_id: int) -> set[int]:
        return await self.store.active_groups(agent_id)

    async def live(self, conversation_id: int) -> ConvState | None:
        """The conversation's live routing state (None: not being routed)."""
        return await self.store.conv(conversation_id)

    async def queue_view(self, group_id: int, agent_ids: Sequence[int], head: int
                         ) -> tuple[GroupSnapshot, int]:
        """The group's first ``head`` queued items and its agents' loads, and its queue length."""
        return (await self.store.snapshot(group_id, agent_ids, head),
                await self.store.queue_length(group_id))

    async def withdraw(self, agent_id: int, may_keep: Callable[[int], bool]) -> None:
        """The agent may no longer work in some groups (their memberships changed): what they
        hold in a group for which ``may_keep(group_id)`` is false — an offer, a chat, a ticket
        — goes back to that group's queue (chats and tickets at the front)."""
        await self._take_back(agent_id, events.LEFT_GROUP, only_if_offline=False,
                              may_keep=may_keep)

    async def _take_back(self, agent_id: int, reason: str, *, only_if_offline: bool,
                         may_keep: Callable[[int], bool] | None = None) -> None:
        groups: set[int] = set()
        for c in sorted(await self.store.agent_convs(agent_id)):
            conv = await self.store.conv(c)
            if conv is None or conv.agent_id != agent_id:
                continue
            if may_keep is not None and may_keep(conv.group_id):
                continue
            if may_keep is None and conv.state == "assigned" and conv.kind != "chat":
                continue  # tickets wait for their agent; chats have a visitor waiting now
            front = conv.state == "assigned"
            status = await self.store.requeue(conv, agent_id, conv.group_id, front=front,
                                              only_if_offline=only_if_offline, exclude=False)
            if status != "ok":
                continue
            why = {"agent_offline": "agent went offline",
                   events.LEFT_GROUP: "agent is no longer in the group"}.get(
                reason, "agent's heartbeat lapsed past the grace period")
            action = "requeued" if front else "offer_withdrawn"
            await self._write(c, agent_id, action, f"{why}; back to the "
                              f"{'front of the ' if front else ''}queue",
                              status="queued", assignee_id=None)
            if front:
                await self._publish(events.Requeued(c, conv.group_id, agent_id, reason))
            else:
                await self._publish(events.OfferExpired(
                    c, agent_id, events.LEFT_GROUP if may_keep is not None else "offline"))
            groups.add(conv.group_id)
        for g in sorted(groups):
            await self._dispatch(g)


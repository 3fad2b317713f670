"""What the console and the supervisor view are told without asking: ``agent_state`` on connect
and after every change, and the board pushed to supervisors who follow it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.realtime.conftest import Client, Clients, Org, WebFactory, start_chat


def _state(status: str, *groups: int) -> dict[str, Any]:
    return {"type": "agent_state", "status": status, "active_groups": list(groups)}


async def _board_until(sam: Client, check: Callable[[dict[str, Any]], bool],
                       within: float = 5.0) -> dict[str, Any]:
    """The first pushed board that passes ``check`` (nothing is asked for meanwhile)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        board = await sam.expect("board", deadline - asyncio.get_running_loop().time())
        if check(board):
            return board


async def test_agent_state_on_connect_and_after_every_change(
        web: WebFactory, clients: Clients, org: Org) -> None:
    a, b = await web(2)
    ana = await clients.staff(a, "ana@x.test")
    assert await ana.expect("agent_state") == _state("online")  # the records: all off
    other = await clients.staff(b, "ana@x.test")  # a second console, on another process
    assert await other.expect("agent_state") == _state("online")

    await ana.send(type="active_groups", group_ids=[org.group])
    await ana.expect("done", op="active_groups")
    assert await other.expect("agent_state") == _state("online", org.group)
    await other.send(type="presence", status="away")
    await other.expect("done", op="presence")
    assert await ana.expect("agent_state") == _state("away", org.group)
    # While away the toggles are kept aside; a new console shows them as they are.
    await ana.send(type="active_groups", group_ids=[])
    assert await other.expect("agent_state") == _state("away")
    await ana.send(type="active_groups", group_ids=[org.group])
    assert await other.expect("agent_state") == _state("away", org.group)
    third = await clients.staff(a, "ana@x.test")
    assert await third.expect("agent_state") == _state("away", org.group)
    await third.send(type="presence", status="online")
    assert await other.expect("agent_state", status="online") == _state("online", org.group)

    # Not a group of hers: refused, nothing changes.
    await ana.send(type="active_groups", group_ids=[org.other_group])
    assert (await ana.expect("error", ref="active_groups"))["code"] == "forbidden"
    assert not [f for f in await other.quiet(0.3) if f["type"] == "agent_state"]


async def test_a_following_supervisor_gets_the_board_when_routing_moves(
        web: WebFactory, clients: Clients, org: Org) -> None:
    [w] = await web(1)
    sam = await clients.staff(w, "sam@x.test", "supervisor")
    await sam.send(type="board", follow=True)
    first = await sam.expect("board")
    assert first["queues"] == [{"group_id": org.group, "length": 0, "oldest_wait_s": None}]

    def queue(board: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = next(q for q in board["queues"] if q["group_id"] == org.group)
        return found

    def ana(board: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = next(x for x in board["agents"] if x["agent_id"] == org.ana)
        return found

    v = await clients.visitor(w)
    cid = await start_chat(v, org.dept, "waiting")
    board = await _board_until(sam, lambda b: queue(b)["length"] == 1)
    assert queue(board)["oldest_wait_s"] is not None
    agent = await clients.staff(w, "ana@x.test")
    await agent.send(type="active_groups", group_ids=[org.group])
    await agent.expect("offer", conversation_id=cid)
    await agent.send(type="accept", conversation_id=cid)
    board = await _board_until(sam, lambda b: ana(b)["chats"] == 1)
    assert queue(board) == {"group_id": org.group, "length": 0, "oldest_wait_s": None}
    assert ana(board)["status"] == "online" and ana(board)["active_groups"] == [org.group]

"""Supervisors on the audit trail: monitoring, whispering and joining are audit_events rows,
and the router's assignment of the chat is there too."""

from __future__ import annotations

from sqlalchemy import select

from desk import audit
from desk.db import SessionMaker
from desk.models import AuditEvent
from tests.realtime.conftest import Clients, Org, WebFactory, accepted_chat


async def test_monitor_whisper_join_are_audited(web: WebFactory, clients: Clients, org: Org,
                                                sm: SessionMaker) -> None:
    [a] = await web(1)
    _, _, cid = await accepted_chat(clients, org, a, a)
    sam = await clients.staff(a, "sam@x.test", "supervisor")
    await sam.send(type="monitor", conversation_id=cid)
    await sam.expect("done", op="monitor")
    await sam.send(type="whisper", conversation_id=cid, client_id="w1", text="try refunds")
    await sam.expect("ack", client_id="w1")
    await sam.send(type="join", conversation_id=cid)
    await sam.expect("done", op="join")
    async with sm() as s:
        rows = (await s.scalars(select(AuditEvent).where(
            AuditEvent.target == audit.target_of(cid)).order_by(AuditEvent.id))).all()
    actions = [r.action for r in rows]
    assert {"routing.assigned", "routing.accepted"} & set(actions), actions
    assert "conversation.status" in actions
    for wanted in ("supervisor.monitor", "supervisor.whisper",
                   "supervisor.join"):
        assert wanted in actions, actions
    supervised = [r for r in rows if r.action.startswith("supervisor.")]
    assert [r.actor_id or r.data["by"] for r in supervised] == [org.sam] * 3
    assert [r.action for r in supervised] == ["supervisor.monitor", "supervisor.whisper",
                                              "supervisor.join"]

"""Rights follow the current records: losing the group ends access everywhere at once, a visitor
writes public messages only, and transfers stay within what the sender may see."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from desk.db import SessionMaker
from desk.models import Conversation, Department, Group, Message
from tests.realtime.conftest import (
    CONSOLE,
    Clients,
    Org,
    WebFactory,
    accepted_chat,
    api,
    login,
)


async def test_assignee_removed_from_the_group_loses_the_chat_and_it_is_requeued(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    a, b = await web(2)
    v, ana, cid = await accepted_chat(clients, org, a, b, "hello")
    await ana.expect("message", conversation_id=cid, seq=1)
    cookie, csrf = await login(b, "ana@x.test")
    async with httpx.AsyncClient(base_url=b.http, cookies={"sb_session": cookie},
                                 headers={"X-CSRF-Token": csrf, "Origin": CONSOLE}) as http:
        assert (await http.get(f"/api/conversations/{cid}")).status_code == 200

        r = await api(a, "PATCH", f"/api/agents/{org.ana}", "adm@x.test",
                      {"group_ids": [org.other_group]})
        assert r.status_code == 200, r.text
        removed = await ana.expect("conversation_removed", conversation_id=cid)
        assert removed["reason"]
        # Back in its group's queue: the visitor is told, the records say so.
        await v.expect("participant_left", name="Ana")
        await v.expect("queued", conversation_id=cid)
        async with sm() as s:
            conv = await s.get(Conversation, cid)
            assert conv is not None
            assert (conv.status, conv.assignee_id, conv.group_id) == ("queued", None, org.group)

        # Nothing more reaches Ana, live or on replay; her writes are refused.
        await v.send(type="message", conversation_id=cid, client_id="v2", text="AFTER")
        await v.expect("ack", client_id="v2")
        for frame in ({"type": "message", "conversation_id": cid, "client_id": "a1",
                       "text": "still mine?"},
                      {"type": "resume", "conversation_id": cid, "after_seq": 0},
                      {"type": "typing", "conversation_id": cid, "draft": "x"}):
            await ana.send(**frame)
            assert (await ana.expect("error", ref=frame["type"]))["code"] == "forbidden"
        await ana.send(type="ping")
        await ana.expect("pong")
        assert "AFTER" not in str(ana.frames)
        # A new console of hers does not get it back either.
        again = await clients.staff(b, "ana@x.test")
        assert cid not in again.frames[0]["conversations"]

        # HTTP alike: the conversation, its messages and the listing.
        assert (await http.get(f"/api/conversations/{cid}")).status_code == 403
        r = await http.post(f"/api/conversations/{cid}/messages", json={"body": "via http"})
        assert r.status_code == 403
        listed = (await http.get("/api/conversations")).json()
        assert cid not in [c["id"] for c in listed]
    async with sm() as s:
        written = (await s.execute(select(func.count()).select_from(Message).where(
            Message.conversation_id == cid, Message.author_kind == "agent"))).scalar_one()
    assert written == 0

    # Bob, still in the group, picks it up.
    bob = await clients.staff(a, "bob@x.test")
    await bob.send(type="accept", conversation_id=cid)
    await bob.expect("message", text="AFTER")  # the history, then the confirmation
    await bob.expect("done", op="accept")


async def test_visitor_cannot_write_internal_notes(web: WebFactory, clients: Clients,
                                                   org: Org, sm: SessionMaker) -> None:
    [w] = await web(1)
    v, ana, cid = await accepted_chat(clients, org, w, w, "hello")
    await v.send(type="message", conversation_id=cid, client_id="n1", text="NOTE?",
                 internal=True)
    error = await v.expect("error", client_id="n1")
    assert error["code"] == "forbidden"
    await v.send(type="message", conversation_id=cid, client_id="p1", text="public")
    await ana.expect("message", text="public")
    async with sm() as s:
        visibilities = (await s.execute(select(Message.visibility).where(
            Message.conversation_id == cid, Message.author_kind == "contact"))).scalars().all()
    assert sorted(visibilities) == ["public", "public"]
    assert "NOTE?" not in str(ana.frames)


async def test_transfer_only_to_groups_of_the_senders_departments(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    async with sm() as s:
        billing = Department(name="Billing")
        s.add(billing)
        await s.flush()
        foreign = Group(department_id=billing.id, name="B1")
        s.add(foreign)
        await s.commit()
        foreign_id = foreign.id
    [w] = await web(1)
    _, ana, cid = await accepted_chat(clients, org, w, w, "hello")
    for target in ({"group_id": foreign_id}, {"group_id": 2**31 - 1},
                   {"agent_id": org.zed}, {"agent_id": org.admin + 1000}):
        await ana.send(type="transfer", conversation_id=cid, **target)
        error = await ana.expect("error", ref="transfer")
        assert error["code"] == "forbidden", (target, error)
    # Within her department: L2 is not her group, but Support is her department.
    await ana.send(type="transfer", conversation_id=cid, group_id=org.other_group)
    await ana.expect("done", op="transfer")
    async with sm() as s:
        conv = await s.get(Conversation, cid)
        assert conv is not None and (conv.group_id, conv.status) == (org.other_group, "queued")

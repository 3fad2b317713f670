from __future__ import annotations

import httpx

from desk.contacts import new_visitor
from desk.conversations import append_message, create_conversation
from desk.db import SessionMaker
from desk.models import RoutingDecision
from tests.desk.conftest import login


async def test_ticket_list_view_reply_and_note(client: httpx.AsyncClient, sm: SessionMaker,
                                               org: dict[str, int]) -> None:
    contact = await new_visitor(sm, name="<b>Eve</b>", email="eve@x.test")
    mine = await create_conversation(sm, channel="email", group_id=org["ga"],
                                     contact_id=contact.id, subject="Help", priority=1)
    await create_conversation(sm, channel="email", group_id=org["gb"], subject="Not yours")
    await append_message(sm, mine.id, author_kind="supervisor", author_id=org["sup"],
                         body="psst", visibility="whisper", whisper_to=999)
    csrf = await login(client, "agent@x.test")
    h = {"x-csrf-token": csrf}
    listed = (await client.get("/api/conversations?channel=email")).json()
    assert [c["number"] for c in listed] == [mine.number]
    assert listed[0]["contact"]["name"] == "<b>Eve</b>"  # the list's Contact column
    assert listed[0]["status_options"] == ["resolved", "closed"]
    assert (await client.get("/api/conversations?priority=1&status=queued")).json()[0]["id"] \
        == mine.id
    assert (await client.get("/api/conversations?status=bogus")).status_code == 422
    view = (await client.get(f"/api/conversations/{mine.id}")).json()
    assert view["contact"]["name"] == "<b>Eve</b>"
    assert "token_nonce" not in str(view) and contact.token_nonce not in str(view)
    assert view["messages"] == []  # the whisper was for someone else
    r = await client.post(f"/api/conversations/{mine.id}/messages", headers=h,
                          json={"body": "On it", "client_id": "r1"})
    assert r.status_code == 201 and r.json()["seq"] == 2
    again = await client.post(f"/api/conversations/{mine.id}/messages", headers=h,
                              json={"body": "On it", "client_id": "r1"})
    assert again.status_code == 200 and again.json()["seq"] == 2
    note = await client.post(f"/api/conversations/{mine.id}/messages", headers=h,
                             json={"body": "internal", "visibility": "internal"})
    assert note.json()["visibility"] == "internal"
    bad = await client.post(f"/api/conversations/{mine.id}/messages", headers=h,
                            json={"body": "x", "visibility": "whisper"})
    assert bad.status_code == 422
    taking = await client.patch(f"/api/conversations/{mine.id}", headers=h,
                                json={"status": "active"})
    assert taking.status_code == 409 and "take it" in taking.json()["error"]["message"]
    r = await client.patch(f"/api/conversations/{mine.id}", headers=h,
                           json={"status": "resolved"})
    assert r.json()["status"] == "resolved"
    assert r.json()["status_options"] == ["queued", "closed"]
    r = await client.patch(f"/api/conversations/{mine.id}", headers=h, json={"status": "closed"})
    assert r.json()["status"] == "closed" and r.json()["status_options"] == []
    final = await client.patch(f"/api/conversations/{mine.id}", headers=h,
                               json={"status": "queued"})
    assert final.status_code == 409 and "final" in final.json()["error"]["message"]
    assert (await client.get(f"/api/conversations/{mine.id}/decisions")).status_code == 403


async def test_supervisor_reads_decisions_and_others_get_403(
    client: httpx.AsyncClient, sm: SessionMaker, org: dict[str, int]
) -> None:
    conv = await create_conversation(sm, channel="chat", group_id=org["gb"])
    async with sm() as s:
        s.add(RoutingDecision(conversation_id=conv.id, agent_id=org["sup"], action="assigned",
                              reason="least loaded", candidates={"considered": [org["sup"]]}))
        await s.commit()
    await login(client, "sup@x.test")
    decisions = (await client.get(f"/api/conversations/{conv.id}/decisions")).json()
    assert decisions[0]["reason"] == "least loaded"
    await login(client, "agent@x.test")
    assert (await client.get(f"/api/conversations/{conv.id}")).status_code == 403
    assert (await client.get("/api/conversations/777777")).status_code == 404

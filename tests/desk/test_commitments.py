"""Commitments over the real app (both databases): committing on a case, the 422s for a due
time in the past or years away, every due-date change kept with who and why, the pending
list per owner with the overdue ones flagged, done."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from desk.conversations import create_conversation
from desk.db import SessionMaker
from desk.models import Commitment, utcnow
from tests.desk.conftest import login


async def test_commit_move_list_and_finish(client: httpx.AsyncClient, sm: SessionMaker,
                                           org: dict[str, int]) -> None:
    conv = await create_conversation(sm, channel="email", group_id=org["ga"],
                                     department_id=org["d1"], subject="Broken kettle")
    h = {"x-csrf-token": await login(client, "agent@x.test")}
    url = f"/api/conversations/{conv.id}/commitments"
    soon = (utcnow() + timedelta(days=1)).isoformat()
    for due_at, says in (((utcnow() - timedelta(hours=1)).isoformat(), "in the past"),
                         ((utcnow() + timedelta(days=900)).isoformat(), "365 days away"),
                         ("next week", "date and time")):
        r = await client.post(url, headers=h, json={"kind": "Call back", "due_at": due_at})
        assert r.status_code == 422 and says in r.json()["error"]["message"], r.text
    r = await client.post(url, headers=h, json={"kind": "Call back", "due_at": soon,
                                                 "owner_id": 999999})
    assert r.status_code == 422 and r.json()["error"]["field"] == "owner_id"
    r = await client.post(url, headers=h, json={"kind": "Call back", "due_at": soon,
                                                 "public": True})
    assert r.status_code == 201, r.text
    call = r.json()
    assert (call["owner_id"], call["public"], call["overdue"]) == (org["agent"], True, False)
    r = await client.post(url, headers=h, json={"kind": "Send replacement", "due_at": soon,
                                                 "owner_id": org["sup"]})
    part = r.json()

    later = (utcnow() + timedelta(days=3)).isoformat()
    r = await client.patch(f"/api/commitments/{call['id']}", headers=h,
                           json={"due_at": later})
    assert r.status_code == 422 and r.json()["error"]["field"] == "why"
    r = await client.patch(f"/api/commitments/{call['id']}", headers=h,
                           json={"due_at": later, "why": "the customer is away"})
    assert r.status_code == 200, r.text
    [change] = r.json()["changes"]
    assert (change["by_id"], change["why"]) == (org["agent"], "the customer is away")

    async with sm() as s:  # time passes: the replacement is late
        await s.execute(update(Commitment).where(Commitment.id == part["id"])
                        .values(due_at=utcnow() - timedelta(hours=2)))
        await s.commit()
    mine = (await client.get("/api/commitments", params={"owner_id": "me"})).json()
    assert [(x["kind"], x["overdue"], x["number"]) for x in mine] == [
        ("Call back", False, conv.number)]
    theirs = (await client.get("/api/commitments", params={"owner_id": org["sup"]})).json()
    assert [(x["kind"], x["overdue"]) for x in theirs] == [("Send replacement", True)]
    assert (await client.get("/api/commitments", params={"owner_id": "x"})).status_code == 422

    r = await client.patch(f"/api/commitments/{call['id']}", headers=h, json={"status": "done"})
    assert r.status_code == 200 and r.json()["status"] == "done"
    r = await client.patch(f"/api/commitments/{call['id']}", headers=h,
                           json={"status": "cancelled"})
    assert r.status_code == 409
    assert (await client.get("/api/commitments")).json() == []
    listed = (await client.get(url)).json()
    assert [x["status"] for x in listed] == ["pending", "done"]

"""Internal tasks over the real app (both databases): created about conversations the caller
may open, the due/reminder checks with their messages, listed per owner, moved, done; only
the owner, the creator or a supervisor changes one."""

from __future__ import annotations

from datetime import timedelta

import httpx

from desk.conversations import create_conversation
from desk.db import SessionMaker
from desk.models import utcnow
from tests.desk.conftest import login


async def test_tasks(client: httpx.AsyncClient, sm: SessionMaker, org: dict[str, int]) -> None:
    mine = await create_conversation(sm, channel="phone", group_id=org["ga"],
                                     department_id=org["d1"], subject="Inbound call")
    other = await create_conversation(sm, channel="chat", group_id=org["gb"],
                                      department_id=org["d2"])
    h = {"x-csrf-token": await login(client, "agent@x.test")}
    due = (utcnow() + timedelta(days=2)).isoformat()
    remind = (utcnow() + timedelta(days=1)).isoformat()
    bad_input: list[tuple[dict[str, object], str]] = [
                       ({"title": ""}, "title"),
                       ({"due_at": (utcnow() - timedelta(days=1)).isoformat()}, "due_at"),
                       ({"remind_at": (utcnow() + timedelta(days=3)).isoformat()}, "remind_at"),
                       ({"related": [other.id]}, "related"), ({"related": "x"}, "related"),
                       ({"owner_id": 999999}, "owner_id")]
    for bad, field in bad_input:
        r = await client.post("/api/tasks", headers=h, json={
            "title": "Order the fuse", "due_at": due, "remind_at": remind, **bad})
        assert r.status_code == 422 and r.json()["error"]["field"] == field, (bad, r.text)
    r = await client.post("/api/tasks", headers=h, json={
        "title": "Order the fuse", "due_at": due, "remind_at": remind, "related": [mine.id]})
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["related"] == [{"id": mine.id, "number": mine.number, "channel": "phone"}]
    assert (task["owner_id"], task["status"], task["reminded_at"]) == (org["agent"], "open",
                                                                       None)
    r = await client.post("/api/tasks", headers=h, json={"title": "For Sam",
                                                         "owner_id": org["sup"]})
    assert r.status_code == 201
    assert [t["title"] for t in (await client.get("/api/tasks")).json()] == ["Order the fuse"]
    assert [t["title"] for t in (await client.get(
        "/api/tasks", params={"owner_id": org["sup"]})).json()] == ["For Sam"]
    later = (utcnow() + timedelta(days=5)).isoformat()
    r = await client.patch(f"/api/tasks/{task['id']}", headers=h, json={"due_at": later})
    assert r.status_code == 200 and r.json()["due_at"] != task["due_at"]
    r = await client.patch(f"/api/tasks/{task['id']}", headers=h, json={"status": "done"})
    assert r.status_code == 200 and r.json()["status"] == "done"
    assert (await client.get("/api/tasks")).json() == []
    assert len((await client.get("/api/tasks", params={"status": "done"})).json()) == 1

    await login(client, "admin@x.test")
    r = await client.post("/api/tasks", headers={"x-csrf-token": await login(
        client, "admin@x.test")}, json={"title": "Admin's own"})
    theirs = r.json()["id"]
    h = {"x-csrf-token": await login(client, "agent@x.test")}
    r = await client.patch(f"/api/tasks/{theirs}", headers=h, json={"status": "done"})
    assert r.status_code == 403

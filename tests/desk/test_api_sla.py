"""The SLA admin API and the records side: policy chosen at creation, sla_due set, first
response met by the agent's reply, pause while pending, the timeline of it all."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from desk import portal, sla_store
from desk.catalogues import shipped
from desk.conversations import (
    Appended,
    NewMessage,
    append_message,
    append_messages,
    create_conversation,
    set_status,
)
from desk.db import SessionMaker
from desk.models import Conversation, ConversationSla, DueTimer, ReportFact, utcnow
from tests.desk.conftest import login

HOURS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


async def _admin(client: httpx.AsyncClient) -> dict[str, str]:
    return {"x-csrf-token": await login(client, "admin@x.test")}


async def test_calendar_validation(client: httpx.AsyncClient, org: dict[str, int]) -> None:
    h = await _admin(client)
    r = await client.post("/api/calendars", headers=h, json={"name": "empty", "hours": {}})
    assert r.status_code == 422
    assert "no working hours" in r.json()["error"]["message"]
    r = await client.post("/api/calendars", headers=h, json={
        "name": "office", "timezone": "Europe/Berlin",
        "hours": {"mon": [["09:00", "17:00"]]},
        "holidays": ["2026-12-25", {"from": "2026-12-24", "to": "2026-12-26"}]})
    assert r.status_code == 201, r.text
    cal = r.json()
    assert cal["holidays"] == [{"from": "2026-12-24", "to": "2026-12-26"}]
    r = await client.patch(f"/api/calendars/{cal['id']}", headers=h, json={"hours": {}})
    assert r.status_code == 422
    r = await client.post("/api/sla-policies", headers=h, json={
        "name": "p", "targets": {"first_response": 0}})
    assert r.status_code == 422 and "between" in r.json()["error"]["message"]
    r = await client.post("/api/sla-policies", headers=h, json={
        "name": "p", "targets": {"resolution": 5 * 365 * 86400}})
    assert r.status_code == 422
    r = await client.post("/api/sla-policies", headers=h, json={
        "name": "p", "targets": {"first_response": 3600}, "calendar_id": cal["id"]})
    assert r.status_code == 201
    assert (await client.delete(f"/api/calendars/{cal['id']}", headers=h)).status_code == 409
    agent = {"x-csrf-token": await login(client, "agent@x.test")}
    assert (await client.get("/api/calendars", headers=agent)).status_code == 403


async def test_ladder_api(client: httpx.AsyncClient, org: dict[str, int]) -> None:
    h = await _admin(client)
    r = await client.get(f"/api/departments/{org['d1']}/ladder", headers=h)
    assert r.json()["default"] and [s["days"] for s in r.json()["steps"]] == [7, 14, 21]
    r = await client.put(f"/api/departments/{org['d1']}/ladder", headers=h,
                         json={"steps": [{"days": 2, "action": "remind"},
                                         {"days": 1, "action": "close"}]})
    assert r.status_code == 422
    r = await client.put(f"/api/departments/{org['d1']}/ladder", headers=h,
                         json={"steps": [{"days": 3, "action": "close"}]})
    assert r.status_code == 200 and not r.json()["default"]


async def test_clocks_through_a_conversation(client: httpx.AsyncClient, org: dict[str, int],
                                             sm: SessionMaker) -> None:
    h = await _admin(client)
    cal = (await client.post("/api/calendars", headers=h, json={
        "name": "24/7", "hours": HOURS})).json()
    r = await client.post("/api/sla-policies", headers=h, json={
        "name": "email", "department_id": org["d1"], "calendar_id": cal["id"],
        "conditions": {"channels": ["email"]},
        "targets": {"first_response": 3600, "next_response": 7200, "resolution": 86400}})
    assert r.status_code == 201, r.text
    conv = await create_conversation(sm, channel="email", department_id=org["d1"],
                                     group_id=org["ga"])
    chat = await create_conversation(sm, channel="chat", department_id=org["d1"])
    assert conv.sla_due is not None and chat.sla_due is None
    async with sm() as s:
        kinds = set((await s.scalars(select(DueTimer.kind).where(
            DueTimer.conversation_id == conv.id))).all())
        assert kinds == {"sla:first_response", "sla:resolution"}
        assert "within 60 minutes" == await sla_store.expected_response(
            s, conv.id, conv.created_at, shipped().translator("en"))
    await append_message(sm, conv.id, author_kind="agent", author_id=org["admin"], body="hi")
    await append_message(sm, conv.id, author_kind="contact", body="thanks, but")
    async with sm() as s:
        row = await s.get(ConversationSla, conv.id)
        assert row is not None and row.first_response_met_at is not None
        assert row.next_response_due is not None
    await set_status(sm, conv.id, "active")  # an agent has it (pending is from there)
    r = await client.patch(f"/api/conversations/{conv.id}", headers=h,
                           json={"status": "pending"})
    assert r.status_code == 200
    async with sm() as s:
        row = await s.get(ConversationSla, conv.id, populate_existing=True)
        assert row is not None and row.paused and row.resolution_due is None
        assert row.pending_since is not None
        kinds = set((await s.scalars(select(DueTimer.kind).where(
            DueTimer.conversation_id == conv.id))).all())
        assert "ladder" in kinds and "sla:resolution" not in kinds
    await append_message(sm, conv.id, author_kind="contact", body="here is the info")
    async with sm() as s:
        row = await s.get(ConversationSla, conv.id)
        assert row is not None and not row.paused and row.resolution_due is not None
    timeline = (await client.get(f"/api/conversations/{conv.id}/timeline")).json()
    actions = [e["action"] for e in timeline]
    assert actions == ["sla.met", "conversation.status", "conversation.status"]
    assert timeline[2]["data"] == {"old": "active", "new": "pending"}
    assert timeline[2]["actor_id"] == org["admin"]


async def test_batched_lines_move_the_clocks(client: httpx.AsyncClient, org: dict[str, int],
                                             sm: SessionMaker) -> None:
    """The hub's path (append_messages; on PostgreSQL one statement that also reports which
    conversations have a clock): a clocked conversation's lines move it, in the same batch
    as a chat's lines that have no clock."""
    h = await _admin(client)
    cal = (await client.post("/api/calendars", headers=h, json={
        "name": "24/7", "hours": HOURS})).json()
    r = await client.post("/api/sla-policies", headers=h, json={
        "name": "email", "department_id": org["d1"], "calendar_id": cal["id"],
        "conditions": {"channels": ["email"]},
        "targets": {"first_response": 3600, "next_response": 7200}})
    assert r.status_code == 201, r.text
    conv = await create_conversation(sm, channel="email", department_id=org["d1"])
    chat = await create_conversation(sm, channel="chat", department_id=org["d1"])
    results = await append_messages(sm, [
        NewMessage(chat.id, "contact", "hello?"),
        NewMessage(conv.id, "agent", "on it", author_id=org["admin"]),
        NewMessage(chat.id, "contact", "anyone?")])
    assert all(isinstance(a, Appended) and a.created for a in results)
    async with sm() as s:
        row = await s.get(ConversationSla, conv.id)
        assert row is not None and row.first_response_met_at is not None
        assert row.next_response_due is None
        assert await s.get(ConversationSla, chat.id) is None
    await append_messages(sm, [NewMessage(conv.id, "contact", "still broken"),
                               NewMessage(chat.id, "contact", "hello again")])
    async with sm() as s:
        row = await s.get(ConversationSla, conv.id, populate_existing=True)
        assert row is not None and row.next_response_due is not None
        assert await s.get(ConversationSla, chat.id) is None


def test_only_staff_lines_or_clocked_conversations_move_clocks() -> None:
    assert sla_store.moves_clocks("agent", clocked=False)
    assert sla_store.moves_clocks("supervisor", clocked=False)
    assert sla_store.moves_clocks("contact", clocked=True)
    assert not sla_store.moves_clocks("contact", clocked=False)


async def _policy(client: httpx.AsyncClient, h: dict[str, str], org: dict[str, int]) -> None:
    cal = (await client.post("/api/calendars", headers=h, json={
        "name": "24/7", "hours": HOURS})).json()
    r = await client.post("/api/sla-policies", headers=h, json={
        "name": "all", "department_id": org["d1"], "calendar_id": cal["id"],
        "targets": {"first_response": 3600, "resolution": 86400}})
    assert r.status_code == 201, r.text


async def test_a_promoted_noise_ticket_starts_its_clocks_through_the_status_hook(
        client: httpx.AsyncClient, org: dict[str, int], sm: SessionMaker) -> None:
    h = await _admin(client)
    await _policy(client, h, org)
    async with sm() as s:  # as the importer stores an auto-reply that joined no ticket
        noise = Conversation(number="SB-9000001", channel="email", status="noise",
                             department_id=org["d1"], group_id=org["ga"])
        s.add(noise)
        await s.commit()
    async with sm() as s:
        assert await s.get(ConversationSla, noise.id) is None
    r = await client.post(f"/api/conversations/{noise.id}/promote", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "queued"
    async with sm() as s:
        row = await s.get(ConversationSla, noise.id)
        assert row is not None and row.first_response_due is not None
        kinds = set((await s.scalars(select(DueTimer.kind).where(
            DueTimer.conversation_id == noise.id))).all())
        assert kinds == {"sla:first_response", "sla:resolution"}
        conv = await s.get(Conversation, noise.id)
        assert conv is not None and conv.sla_due is not None
        created = await s.scalar(select(func.count()).select_from(ReportFact).where(
            ReportFact.conversation_id == noise.id, ReportFact.kind == "created"))
        assert created == 1
    timeline = (await client.get(f"/api/conversations/{noise.id}/timeline")).json()
    assert [e["action"] for e in timeline] == ["conversation.promoted", "conversation.status"]
    assert timeline[1]["data"] == {"old": "noise", "new": "queued"}
    assert timeline[1]["actor_id"] == org["admin"]
    again = await client.post(f"/api/conversations/{noise.id}/promote", headers=h)
    assert again.status_code == 409


async def test_the_case_pages_reopen_goes_through_the_status_hook(
        client: httpx.AsyncClient, org: dict[str, int], sm: SessionMaker) -> None:
    h = await _admin(client)
    await _policy(client, h, org)
    conv = await create_conversation(sm, channel="portal", department_id=org["d1"],
                                     group_id=org["ga"])
    await set_status(sm, conv.id, "active")
    await set_status(sm, conv.id, "resolved")
    async with sm() as s:
        row = await s.get(ConversationSla, conv.id)
        assert row is not None and row.resolution_met_at is not None
    now = utcnow()
    assert await portal.reopen(sm, conv.id, now, wrote=False)
    assert not await portal.reopen(sm, conv.id, now, wrote=False)  # once
    async with sm() as s:
        c = await s.get(Conversation, conv.id)
        assert c is not None and c.status == "queued" and c.closed_at is None
        row = await s.get(ConversationSla, conv.id)
        assert row is not None and row.resolution_due is not None  # a new resolution cycle
        assert row.resolution_met_at is None
        reopened = await s.scalar(select(func.count()).select_from(ReportFact).where(
            ReportFact.conversation_id == conv.id, ReportFact.kind == "reopened"))
        assert reopened == 1
    timeline = (await client.get(f"/api/conversations/{conv.id}/timeline")).json()
    last = timeline[-1]
    assert last["action"] == "conversation.status"
    assert last["data"] == {"old": "resolved", "new": "queued"}
    assert "case page" in last["why"]
    # A reply on the page into a pending case queues it, as a mailed-in reply does; the
    # reopen button leaves a pending case alone.
    await set_status(sm, conv.id, "active")
    await set_status(sm, conv.id, "pending")
    assert not await portal.reopen(sm, conv.id, utcnow(), wrote=False)
    assert await portal.reopen(sm, conv.id, utcnow(), wrote=True)
    async with sm() as s:
        c = await s.get(Conversation, conv.id)
        assert c is not None and c.status == "queued"
        ladder = await s.scalar(select(func.count()).select_from(DueTimer).where(
            DueTimer.conversation_id == conv.id, DueTimer.kind == "ladder"))
        assert ladder == 0

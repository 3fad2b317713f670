"""The rules API: validation, versions, and trying a rule against a past conversation."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from desk.conversations import create_conversation
from desk.db import SessionMaker
from desk.models import Agent
from tests.desk.conftest import login


async def test_rules_are_versioned_and_tried(client: httpx.AsyncClient, org: dict[str, int],
                                             sm: SessionMaker) -> None:
    h = {"x-csrf-token": await login(client, "admin@x.test")}
    r = await client.post("/api/rules", headers=h, json={
        "name": "bad", "event": "whenever", "actions": [{"type": "close"}]})
    assert r.status_code == 422 and "event must be one of" in r.json()["error"]["message"]
    r = await client.post("/api/rules", headers=h, json={
        "name": "refunds", "event": "created",
        "conditions": [{"field": "keyword", "value": ["refund"]},
                       {"field": "channel", "value": ["email"]}],
        "actions": [{"type": "add_tag", "value": "money"}]})
    assert r.status_code == 201, r.text
    rule = r.json()
    assert rule["version"] == 1 and not rule["enabled"]
    conv = await create_conversation(sm, channel="email", subject="Refund please",
                                     department_id=org["d1"])
    chat = await create_conversation(sm, channel="chat", subject="Refund please")
    r = await client.post(f"/api/rules/{rule['id']}/try", headers=h,
                          json={"conversation_id": conv.id})
    assert r.json()["would_fire"] is True
    assert any("keywords found: ['refund']" in b for b in r.json()["because"])
    r = await client.post(f"/api/rules/{rule['id']}/try", headers=h,
                          json={"conversation_id": chat.id})
    assert r.json()["would_fire"] is False
    assert "channel in ['email']: no (channel is chat)" in r.json()["because"]
    r = await client.patch(f"/api/rules/{rule['id']}", headers=h, json={
        "actions": [{"type": "set_priority", "value": 1}], "enabled": True})
    assert r.json()["version"] == 2 and r.json()["enabled"]
    versions = (await client.get(f"/api/rules/{rule['id']}/versions")).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[1]["actions"] == [{"type": "add_tag", "value": "money"}]
    r = await client.post(f"/api/rules/{rule['id']}/try", headers=h,
                          json={"conversation_id": 2_000_000_000})
    assert r.status_code == 404


async def test_the_agents_a_rule_names_must_exist(client: httpx.AsyncClient, org: dict[str, int],
                                                  sm: SessionMaker) -> None:
    h = {"x-csrf-token": await login(client, "admin@x.test")}
    async with sm() as s:
        me = (await s.scalars(select(Agent.id).where(Agent.email == "admin@x.test"))).one()
    for action, said in [
            ({"type": "assign", "value": 999_999}, "agent 999999 does not exist or is disabled"),
            ({"type": "assign", "value": "ana"}, "actions[0].value must be an agent id"),
            ({"type": "notify", "value": {"text": "hi", "console": "everyone"}},
             "actions[0].value.console must be assignee or an agent id"),
            ({"type": "notify", "value": {"text": "hi", "console": 999_999}},
             "agent 999999 does not exist or is disabled")]:
        r = await client.post("/api/rules", headers=h, json={
            "name": "x", "event": "created", "actions": [action]})
        assert r.status_code == 422 and r.json()["error"]["message"] == said, r.text
    r = await client.post("/api/rules", headers=h, json={
        "name": "mine", "event": "created", "actions": [
            {"type": "assign", "value": me},
            {"type": "notify", "value": {"text": "yours", "console": "assignee"}}]})
    assert r.status_code == 201, r.text
    r = await client.patch(f"/api/rules/{r.json()['id']}", headers=h, json={
        "actions": [{"type": "assign", "value": 999_999}]})
    assert r.status_code == 422
    assert (await client.get("/api/rules")).json()[0]["version"] == 1

"""Mailboxes without SQL (issue 10, item 13): the admin API's CRUD, its validation, and a
password that no answer, audit event or error ever contains."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from desk.db import SessionMaker
from desk.models import AuditEvent, Mailbox
from tests.desk.conftest import login

SECRET = "s3cret-imap-pass  with spaces "


def _new(org: dict[str, int], **fields: Any) -> dict[str, Any]:
    return {"department_id": org["d1"], "host": "imap.example.org", "username": "support",
            "password": SECRET, **fields}


async def test_mailbox_crud_and_password_never_returned(
    client: httpx.AsyncClient, org: dict[str, int], sm: SessionMaker
) -> None:
    h = {"x-csrf-token": await login(client, "admin@x.test")}
    answers: list[httpx.Response] = []
    r = await client.post("/api/mailboxes", headers=h, json=_new(
        org, rules=[{"keyword": "outage", "priority": 1}]))
    answers.append(r)
    assert r.status_code == 201, r.text
    box = r.json()
    assert box["has_password"] and box["port"] == 993 and box["security"] == "tls"
    assert (box["folder"], box["enabled"], box["poll_interval_s"]) == ("INBOX", True, 60)
    assert box["rules"] == [{"keyword": "outage", "priority": 1}]
    async with sm() as s:
        row = await s.get(Mailbox, box["id"])
        assert row is not None and row.password == SECRET  # stored exactly as given
        row.uidvalidity, row.last_uid = 7, 42
        await s.commit()
    answers.append(await client.get("/api/mailboxes"))
    answers.append(await client.get(f"/api/mailboxes/{box['id']}"))
    assert answers[-1].json()["last_uid"] == 42
    # Disable, and a new password: the cursor stays (same mail).
    r = await client.patch(f"/api/mailboxes/{box['id']}", headers=h,
                           json={"enabled": False, "password": "another one"})
    answers.append(r)
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert r.json()["last_uid"] == 42
    # Another folder is other mail: the cursor starts again.
    r = await client.patch(f"/api/mailboxes/{box['id']}", headers=h, json={"folder": "Support"})
    answers.append(r)
    assert (r.json()["folder"], r.json()["last_uid"], r.json()["uidvalidity"]) == (
        "Support", 0, None)
    answers.append(await client.get("/api/openapi.json"))
    assert {"get", "post"} <= set(answers[-1].json()["paths"]["/api/mailboxes"])
    assert {"get", "patch", "delete"} <= set(answers[-1].json()["paths"]["/api/mailboxes/{id}"])
    for answer in answers:
        assert SECRET.strip() not in answer.text and "another one" not in answer.text
    async with sm() as s:
        audit = (await s.execute(select(AuditEvent).where(
            AuditEvent.action.like("mailbox.%")).order_by(AuditEvent.id))).scalars().all()
    assert [a.action for a in audit] == ["mailbox.created", "mailbox.updated", "mailbox.updated"]
    assert audit[1].data == {"fields": ["password", "enabled"]}
    assert all(SECRET.strip() not in str(a.data) for a in audit)
    r = await client.delete(f"/api/mailboxes/{box['id']}", headers=h)
    assert r.status_code == 200
    assert (await client.get(f"/api/mailboxes/{box['id']}")).status_code == 404
    assert (await client.delete(f"/api/mailboxes/{box['id']}", headers=h)).status_code == 404


async def test_mailbox_validation_answers_4xx_and_writes_nothing(
    client: httpx.AsyncClient, org: dict[str, int], sm: SessionMaker
) -> None:
    h = {"x-csrf-token": await login(client, "admin@x.test")}
    bad: list[tuple[dict[str, Any], int, str]] = [
        ({"host": None}, 422, "host is required"),
        ({"host": "imap.example.org\r\nA1 LOGOUT"}, 422, "host"),
        ({"host": "-bad-.example"}, 422, "host must be"),
        ({"port": 0}, 422, "port must be between 1 and 65535"),
        ({"port": "993"}, 422, "port must be an integer"),
        ({"security": "ssl"}, 422, "security must be one of"),
        ({"username": "a" * 256}, 422, "username must be 1 to 255"),
        ({"password": None}, 422, "password is required"),
        ({"password": "x" * 256}, 422, "password must be a string of 1 to 255"),
        ({"password": "pa\r\nss"}, 422, "password must not contain control characters"),
        ({"folder": "INBOX\r\nA2 DELETE INBOX"}, 422, "folder must not contain control"),
        ({"poll_interval_s": 1}, 422, "poll_interval_s must be between"),
        ({"enabled": "yes"}, 422, "enabled must be true or false"),
        ({"rules": {"keyword": "x"}}, 422, "rules must be a JSON list"),
        ({"rules": [{"keyword": "x", "domain": "y"}]}, 422, "exactly one of"),
        ({"rules": [{"keyword": 5}]}, 422, "keyword or domain must be a string"),
        ({"department_id": 999_999}, 404, "department 999999 not found"),
        ({"department_id": 2**31}, 422, "department_id must be between"),
    ]
    for fields, status, message in bad:
        r = await client.post("/api/mailboxes", headers=h, json=_new(org, **fields))
        assert r.status_code == status, (fields, r.text)
        assert message in r.json()["error"]["message"], (fields, r.text)
        assert "pa\r\nss" not in r.text and SECRET.strip() not in r.text
    r = await client.post("/api/mailboxes", headers=h, json=_new(org))
    box_id = r.json()["id"]
    r = await client.patch(f"/api/mailboxes/{box_id}", headers=h, json={"port": 70_000})
    assert r.status_code == 422
    assert (await client.patch("/api/mailboxes/999999", headers=h, json={})).status_code == 404
    async with sm() as s:
        rows = (await s.execute(select(Mailbox))).scalars().all()
    assert [(m.id, m.port) for m in rows] == [(box_id, 993)]


async def test_mailboxes_are_admin_only_and_need_csrf(
    client: httpx.AsyncClient, org: dict[str, int]
) -> None:
    await login(client, "admin@x.test")
    assert (await client.post("/api/mailboxes", json=_new(org))).status_code == 403  # no CSRF
    for email in ("agent@x.test", "sup@x.test"):
        h = {"x-csrf-token": await login(client, email)}
        assert (await client.get("/api/mailboxes")).status_code == 403
        r = await client.post("/api/mailboxes", headers=h, json=_new(org))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"

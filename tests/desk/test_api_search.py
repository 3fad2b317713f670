"""GET /api/conversations/search over the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from desk import search
from desk.contacts import new_visitor
from desk.conversations import append_message, create_conversation
from desk.db import SessionMaker
from desk.models import Conversation, Organisation
from tests.desk.conftest import login

SEARCH = "/api/conversations/search"
# PostgreSQL's routes for text (desk.search): collect the matches, walk newest first, or a walk
# that ends short and hands over to collecting. Each must give the same answers.
ROUTES = {"collect": (10**9, 1000), "walk": (-1, 10**6), "walk_short": (-1, 2)}


ON_POSTGRES = os.environ.get("SWITCHBOARD_TEST_DB", "sqlite") == "postgres"


@pytest.fixture(params=list(ROUTES) if ON_POSTGRES else ["collect"])
def route(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    collect_max, walk_max = ROUTES[request.param]
    monkeypatch.setattr(search, "COLLECT_MAX", collect_max)
    monkeypatch.setattr(search, "WALK_MAX", walk_max)
    return str(request.param)


async def numbers(client: httpx.AsyncClient, **params: Any) -> list[str]:
    r = await client.get(SEARCH, params=params)
    assert r.status_code == 200, r.text
    return [c["number"] for c in r.json()["items"]]


async def _ticket(sm: SessionMaker, group: int, subject: str, *bodies: str,
                  **fields: Any) -> Conversation:
    conv = await create_conversation(sm, channel=fields.pop("channel", "email"),
                                     group_id=group, subject=subject, **fields)
    for body in bodies:
        await append_message(sm, conv.id, author_kind="contact", body=body)
    return conv


async def test_text_over_subjects_and_bodies(client: httpx.AsyncClient, sm: SessionMaker,
                                             org: dict[str, int], route: str) -> None:
    jam = await _ticket(sm, org["ga"], "Printer trouble", "The paper jams in tray two")
    invoice = await _ticket(sm, org["ga"], "Invoice 100% wrong", "Charged twice for café")
    await _ticket(sm, org["ga"], "Other", "nothing to see")
    await login(client, "agent@x.test")
    assert await numbers(client, q="printer") == [jam.number]  # subject
    assert await numbers(client, q="JAMS tray") == [jam.number]  # body, every word
    assert await numbers(client, q="jams invoice") == []  # the words in different tickets
    assert await numbers(client, q='"tray two"') == [jam.number]
    assert await numbers(client, q='"two tray"') == []
    assert await numbers(client, q="café") == [invoice.number]
    assert set(await numbers(client, q="")) >= {jam.number, invoice.number}
    # Query syntax is text: none of it errs, none of it widens the match.
    for raw in ['"', '""', "100%", "%", "_", "*", "jams*", "NEAR(paper tray)", "tray OR x",
                "NOT jam", "body:paper", "subject:printer", "'; DROP TABLE messages; --",
                "a & b | !c", "paper:*", "(", "\\", "-paper", "^paper"]:
        r = await client.get(SEARCH, params={"q": raw})
        assert r.status_code == 200, (raw, r.text)
    assert await numbers(client, q="100%") == [invoice.number]
    assert await numbers(client, q="tray OR x") == []


async def test_by_email_contact_organisation_and_filters(
    client: httpx.AsyncClient, sm: SessionMaker, org: dict[str, int]
) -> None:
    async with sm() as s:
        acme = Organisation(name="Acme Ltd", domains=["acme.test"])
        s.add(acme)
        await s.commit()
    eve = await new_visitor(sm, name="Eve Example", email="eve@acme.test")
    bob = await new_visitor(sm, name="Bob_Stone", email="bob@other.test")
    a = await _ticket(sm, org["ga"], "A", "hello", contact_id=eve.id, priority=1,
                      custom_fields={"plan": "gold", "seats": 10})
    b = await _ticket(sm, org["ga"], "B", "hello", contact_id=bob.id, channel="chat")
    async with sm() as s:
        await s.execute(update(Conversation).where(Conversation.id == b.id)
                        .values(status="pending", assignee_id=org["agent"]))
        await s.commit()
    await login(client, "agent@x.test")
    assert await numbers(client, email="EVE@acme.test") == [a.number]
    assert await numbers(client, email="nobody@acme.test") == []
    assert await numbers(client, contact="example") == [a.number]
    assert await numbers(client, contact="_") == [b.number]  # a literal underscore
    assert await numbers(client, contact="%") == []
    assert await numbers(client, organisation_id=str(acme.id)) == [a.number]
    assert await numbers(client, organisation="acme") == [a.number]
    assert await numbers(client, number=a.number) == [a.number]
    assert await numbers(client, number=a.number.removeprefix("SB-")) == [a.number]
    assert await numbers(client, status="pending") == [b.number]
    assert set(await numbers(client, status=["pending", "queued"])) == {a.number, b.number}
    assert await numbers(client, channel="chat") == [b.number]
    assert await numbers(client, priority="1") == [a.number]
    assert await numbers(client, assignee_id="me") == [b.number]
    assert await numbers(client, assignee_id=str(org["agent"])) == [b.number]
    assert await numbers(client, assignee_id="none") == [a.number]
    assert await numbers(client, group_id=str(org["ga"]), q="hello", status="queued") \
        == [a.number]
    assert await numbers(client, field="plan:gold") == [a.number]
    assert await numbers(client, field="seats:10") == [a.number]
    assert await numbers(client, field="plan:silver") == []
    today = datetime.now(UTC).date()
    assert len(await numbers(client, **{"from": today.isoformat()})) == 2
    assert await numbers(client, to=(today - timedelta(days=1)).isoformat()) == []


async def test_pages_through_everything_once(client: httpx.AsyncClient, sm: SessionMaker,
                                             org: dict[str, int], route: str) -> None:
    made = [await _ticket(sm, org["ga"], f"Batch {i}", "common words here")
            for i in range(23)]
    async with sm() as s:  # ties on updated_at: the id breaks them
        same = datetime(2026, 6, 1, tzinfo=UTC)
        await s.execute(update(Conversation).where(Conversation.id.in_(
            [c.id for c in made[5:15]])).values(updated_at=same))
        await s.commit()
    await login(client, "agent@x.test")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"q": "common", "limit": 4}
        if cursor:
            params["cursor"] = cursor
        body = (await client.get(SEARCH, params=params)).json()
        seen += [c["number"] for c in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 6
    assert sorted(seen) == sorted(c.number for c in made) and len(set(seen)) == 23


async def test_scope_and_visibility(client: httpx.AsyncClient, sm: SessionMaker,
                                    org: dict[str, int], route: str) -> None:
    theirs = await _ticket(sm, org["gb"], "Secret plans", "the secret is out")
    mine = await _ticket(sm, org["ga"], "Mine", "public words")
    await append_message(sm, mine.id, author_kind="agent", body="noted internally",
                         visibility="internal")
    await append_message(sm, mine.id, author_kind="supervisor", body="coaching hint",
                         visibility="whisper", whisper_to=org["sup"])
    await login(client, "agent@x.test")  # in group A only
    assert await numbers(client, q="secret") == []
    assert theirs.number not in await numbers(client)
    assert await numbers(client, number=theirs.number) == []
    r = await client.get(SEARCH, params={"group_id": org["gb"]})
    assert r.status_code == 403 and "group_id" in r.json()["error"]["message"]
    assert await numbers(client, q="internally") == [mine.number]  # staff read notes
    assert await numbers(client, q="coaching") == []  # a whisper to someone else
    await login(client, "sup@x.test")
    assert await numbers(client, q="coaching") == [mine.number]
    assert await numbers(client, q="secret") == [theirs.number]
    client.cookies.clear()
    assert (await client.get(SEARCH, params={"q": "secret"})).status_code == 401


async def test_bad_input_is_400_with_a_message(client: httpx.AsyncClient,
                                               org: dict[str, int]) -> None:
    await login(client, "agent@x.test")
    for params, fragment in [
        ({"q": "x" * 10_240}, "q: search text is longer than 500"),
        ({"q": "word " * 3000}, "q: search text is longer"),
        ({"from": "2026-13-01"}, "from:"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "the range ends before it starts"),
        ({"to": "soon"}, "to:"),
        ({"cursor": "garbage"}, "cursor:"),
        ({"limit": "1000"}, "limit:"),
        ({"status": "open"}, "status:"),
        ({"tag": "a,b"}, "tag: 1 to 64 characters"),
        ({"whatever": "1"}, "whatever: not a search parameter"),
    ]:
        r = await client.get(SEARCH, params=params)
        assert r.status_code == 400, (params, r.text)
        assert fragment in r.json()["error"]["message"], (params, r.text)


async def test_openapi_lists_search(client: httpx.AsyncClient, org: dict[str, int]) -> None:
    doc = (await client.get("/api/openapi.json")).json()
    op = doc["paths"][SEARCH]["get"]
    assert op["operationId"] == "search_conversations"
    assert {"q", "email", "cursor", "status", "from", "to", "field", "tag"} <= {
        p["name"] for p in op["parameters"]}

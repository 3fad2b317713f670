"""Who's On through real web processes: page views, agents' live lists, invitations."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update
from websockets.exceptions import ConnectionClosed

from desk.db import SessionMaker
from desk.models import Invitation, Site
from tests.realtime.conftest import Clients, Org, WebFactory, login_cookie


async def test_page_views_reach_watching_agents_as_coalesced_deltas(
        web: WebFactory, clients: Clients, org: Org) -> None:
    w1, w2 = await web(2, SWITCHBOARD_VISIT_PUSH_MS="200")
    ana = await clients.staff(w2, "ana@x.test")
    await ana.send(type="watch_visitors")
    first = await ana.expect("visitors")
    assert first["site_id"] == org.site and first["total"] == 0
    assert first["sites"] == [{"id": org.site, "name": "Shop"}]

    v = await clients.visitor(w1)
    await v.send(type="page_view", url="https://shop.test/pricing", title="<b>Prices</b>",
                 referrer="https://search.test/?q=x", lang="de-DE")
    delta = await ana.expect("visitors_delta")
    [row] = delta["upserts"]
    assert row["url"] == "https://shop.test/pricing" and row["title"] == "<b>Prices</b>"
    assert row["pages"] == 1 and row["returning"] is False and row["lang"] == "de-DE"
    assert delta["total"] == 1 and delta["order"] == [row["visitor_id"]]

    # A burst of page views from one visitor: a handful pass, agents get one row per push.
    for i in range(90):
        await v.send(type="page_view", url=f"https://shop.test/p{i}")
    await v.send(type="ping")
    await v.expect("pong", within=10)
    pushes = [f for f in await ana.quiet(1.0) if f["type"] == "visitors_delta"]
    assert 1 <= len(pushes) <= 3
    assert all(len(f["upserts"]) <= 1 for f in pushes)
    assert pushes[-1]["upserts"][0]["pages"] <= 7  # the socket's burst, the visitor's counter

    # javascript: is kept as text; a 100 KB address is refused (the socket goes on).
    await v.send(type="page_view", url="javascript:alert(1)")
    await v.send(type="page_view", url="https://shop.test/" + "x" * 3000)
    assert (await v.expect("error"))["code"] == "bad_field"
    await v.send(type="ping")
    await v.expect("pong")
    await v.send(type="page_view", url="https://shop.test/" + "x" * 100_000)
    with contextlib.suppress(ConnectionClosed):  # past the frame limit: the socket's rule
        await v.quiet(1.0)
    assert v.ws.close_code == 1009

    # A thousand a second: the socket is cut as any flood is, the agents' pushes stay few.
    v2 = await clients.visitor(w1)
    frame = '{"type":"page_view","url":"https://shop.test/flood"}'
    with contextlib.suppress(ConnectionClosed):
        for _ in range(1000):
            await v2.ws.send(frame)
        await v2.quiet(2.0)
    assert v2.ws.close_code == 4429
    pushes = [f for f in await ana.quiet(1.0) if f["type"] == "visitors_delta"]
    assert len(pushes) <= 8


async def test_tracking_off_for_the_site_records_nothing(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    async with sm() as s:
        await s.execute(update(Site).values(config={"tracking": False}))
        await s.commit()
    [w] = await web(1, SWITCHBOARD_VISIT_PUSH_MS="200")
    ana = await clients.staff(w, "ana@x.test")
    await ana.send(type="watch_visitors")
    await ana.expect("visitors")
    v = await clients.visitor(w)
    await v.send(type="page_view", url="https://shop.test/")
    assert not [f for f in await ana.quiet(0.8) if f["type"] == "visitors_delta"]


async def test_an_agent_of_other_groups_cannot_watch_a_site_of_a_department(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    async with sm() as s:
        await s.execute(update(Site).values(config={"departments": [{"id": org.dept}]}))
        await s.commit()
    [w] = await web(1)
    admin = await clients.staff(w, "adm@x.test")
    await admin.send(type="watch_visitors", site_id=org.site)
    await admin.expect("visitors")
    zed = await clients.staff(w, "zed@x.test")  # L2 is of the same department: may watch
    await zed.send(type="watch_visitors", site_id=org.site)
    await zed.expect("visitors")
    await zed.send(type="watch_visitors", site_id=999)
    assert (await zed.expect("error"))["code"] == "forbidden"


async def test_invite_accepted_is_the_inviters_chat_and_declined_is_told(
        web: WebFactory, clients: Clients, org: Org) -> None:
    [w] = await web(1, SWITCHBOARD_VISIT_PUSH_MS="200")
    ana = await clients.staff(w, "ana@x.test")
    bob = await clients.staff(w, "bob@x.test")  # least loaded too: must not get the chat
    await ana.send(type="watch_visitors")
    await ana.expect("visitors")
    v = await clients.visitor(w)
    await v.send(type="page_view", url="https://shop.test/checkout", title="Checkout")
    row = (await ana.expect("visitors_delta"))["upserts"][0]

    await ana.send(type="invite_visitor", site_id=org.site, visitor_id=row["visitor_id"],
                   text="Need a hand with the order?")
    await ana.expect("done", op="invite_visitor")
    inv = await v.expect("invitation")
    assert inv["agent_name"] == "Ana" and inv["text"] == "Need a hand with the order?"

    other = await clients.visitor(w)  # another visitor cannot answer it
    await other.send(type="invitation_answer", invitation_id=inv["invitation_id"], accept=True)
    assert (await other.expect("error"))["code"] == "forbidden"

    await v.send(type="invitation_answer", invitation_id=inv["invitation_id"], accept=True,
                 client_id="inv1")
    started = await v.expect("started", client_id="inv1")
    assert (await v.expect("assigned"))["agent_name"] == "Ana"
    outcome = await ana.expect("invitation_outcome")
    assert outcome["outcome"] == "accepted"
    assert outcome["conversation_id"] == started["conversation_id"]
    assert not bob.of("offer")
    await v.send(type="invitation_answer", invitation_id=inv["invitation_id"], accept=False)
    assert (await v.expect("error"))["code"] == "conflict"

    # Declined: the agent hears it.
    v2 = await clients.visitor(w)
    await v2.send(type="page_view", url="https://shop.test/")
    row2 = None
    while row2 is None:  # the first visitor's row (now chatting) may come first
        delta = await ana.expect("visitors_delta")
        row2 = next((r for r in delta["upserts"] if r["visitor_id"] != row["visitor_id"]), None)
        if delta["upserts"] and row2 is None:
            assert delta["upserts"][0]["chatting"] is True
    await ana.send(type="invite_visitor", site_id=org.site, visitor_id=row2["visitor_id"])
    inv2 = await v2.expect("invitation")
    await v2.send(type="invitation_answer", invitation_id=inv2["invitation_id"], accept=False)
    assert (await ana.expect("invitation_outcome"))["outcome"] == "declined"
    await ana.send(type="invite_visitor", site_id=org.site, visitor_id=row2["visitor_id"])
    await v2.expect("invitation")  # never answered

    # The reports count them: per inviter, with outcomes (supervisors and admins only).
    day = datetime.now(UTC).date()
    span = {"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()}
    sam = await login_cookie(w, "sam@x.test")
    async with httpx.AsyncClient(base_url=w.http, cookies={"sb_session": sam}) as http:
        r = await http.get("/api/reports/invitations", params=span)
        assert r.status_code == 200, r.text
        assert r.json()["totals"] == {"sent": 3, "accepted": 1, "declined": 1,
                                      "unanswered": 1, "accepted_share": 0.333}
        [by_ana] = r.json()["rows"]
        assert by_ana["agent"] == "Ana" and by_ana["rule"] is None
    ana_cookie = await login_cookie(w, "ana@x.test")
    async with httpx.AsyncClient(base_url=w.http, cookies={"sb_session": ana_cookie}) as http:
        r = await http.get("/api/reports/invitations", params=span)
        assert r.status_code == 403


async def test_an_auto_invite_rule_invites_after_time_on_page_within_the_daily_cap(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    async with sm() as s:
        await s.execute(update(Site).values(config={
            "invites_per_day": 1,
            "auto_invites": [{"url_contains": "/checkout", "min_seconds": 1,
                              "text": "Questions about your order?"}]}))
        await s.commit()
    [w] = await web(1)
    v = await clients.visitor(w)
    await v.send(type="page_view", url="https://shop.test/home")
    assert not [f for f in await v.quiet(1.3) if f["type"] == "invitation"]
    await v.send(type="page_view", url="https://shop.test/checkout")
    inv = await v.expect("invitation", within=4)
    assert inv["text"] == "Questions about your order?" and inv["agent_name"] == "Shop"
    await v.send(type="invitation_answer", invitation_id=inv["invitation_id"], accept=False)
    await v.expect("done", op="invitation_answer")
    await v.send(type="page_view", url="https://shop.test/checkout?again")
    assert not [f for f in await v.quiet(1.8) if f["type"] == "invitation"]  # the cap
    async with sm() as s:
        [shown] = (await s.execute(select(Invitation))).scalars().all()
    assert (shown.rule, shown.agent_id, shown.outcome) == (0, None, "declined")

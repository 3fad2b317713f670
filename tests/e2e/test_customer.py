"""The customer 360 beside a ticket in the console: contact, organisation, history, a contract,
and time logged against it."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from desk.contacts import new_visitor
from desk.conversations import append_message, create_conversation
from desk.db import SessionMaker
from desk.models import Contact, Contract, Conversation, Group, Organisation, Site
from desk.seed import DEMO_SITE_KEY
from desk.webhook_rules import SIGNATURE_HEADER, verify
from tests.e2e.conftest import Server
from tests.e2e.pages import console
from tests.support.local_http import serving_in_thread

pytestmark = pytest.mark.e2e
LOOKUP_SECRET = "e2e-lookup-secret-0123456789"


async def _customer(sm: SessionMaker) -> dict[str, str]:
    async with sm() as s:
        group = (await s.execute(select(Group).where(Group.name == "Support L1"))).scalar_one()
        org = Organisation(name="Umbrella Ltd", domains=["umbrella.test"])
        s.add(org)
        await s.flush()
        today = datetime.now(UTC).date()
        s.add(Contract(organisation_id=org.id, kind="contract", name="Gold support",
                       starts_on=today - timedelta(days=10), ends_on=today + timedelta(days=80),
                       minutes_contracted=600))
        await s.commit()
    olga = await new_visitor(sm, name="Olga Umbrella", email="olga@umbrella.test")
    async with sm() as s:
        await s.execute(update(Contact).where(Contact.id == olga.id)
                        .values(organisation_id=org.id))
        await s.commit()
    old = await create_conversation(sm, channel="chat", group_id=group.id, contact_id=olga.id)
    await append_message(sm, old.id, author_kind="contact", body="An earlier chat")
    now = await create_conversation(sm, channel="email", group_id=group.id, contact_id=olga.id,
                                    subject="Printer on fire")
    await append_message(sm, now.id, author_kind="contact", body="Help, it smokes")
    async with sm() as s:
        await s.execute(update(Conversation).where(Conversation.id == old.id)
                        .values(status="closed"))
        await s.commit()
    return {"old": old.number, "now": now.number}


def test_customer_panel_and_time(browser: Browser, server: Server) -> None:
    numbers = server.run(_customer)
    context, chloe = console(browser, server, "chloe@demo.switchboard.local")
    try:
        search = chloe.locator("section.ticket-search")
        search.get_by_label("Search", exact=True).fill("printer")
        search.get_by_label("Search", exact=True).press("Enter")
        search.get_by_role("button", name=numbers["now"]).click()
        panel = chloe.locator("aside.c360")
        expect(panel).to_contain_text("Olga Umbrella")
        expect(panel).to_contain_text("not verified")
        expect(panel).to_contain_text("Organisation: Umbrella Ltd")
        expect(panel.locator(".c360-list li", has_text=numbers["old"])).to_contain_text(
            "chat · closed")
        expect(panel).to_contain_text("Gold support (contract)")
        expect(panel).to_contain_text("0 h used of 10 h")

        panel.get_by_label("Minutes").fill("45")
        panel.get_by_label("Note").fill("called the customer")
        panel.get_by_role("button", name="Log time").click()
        expect(panel.locator("[role=status]")).to_have_text("Logged 45 min against the contract")
        expect(panel).to_contain_text("0.75 h used of 10 h")
        expect(panel.locator(".c360-total")).to_have_text("Time logged here: 45 min")
        if shots := os.environ.get("SWITCHBOARD_SCREENSHOTS"):  # docs/img, as test_shots
            chloe.screenshot(path=Path(shots) / "console-customer.png")

        panel.get_by_role("button", name=numbers["old"]).click()
        expect(chloe.locator("section.ticket .log .msg .body").last).to_have_text(
            "An earlier chat")
    finally:
        context.close()


def _provider() -> Starlette:
    async def answer(request: Request) -> Response:
        body = await request.body()
        assert verify(LOOKUP_SECRET, request.headers[SIGNATURE_HEADER], body, int(time.time()))
        return JSONResponse({"Plan": "Gold <img src=x onerror=alert(1)>", "Orders": 12,
                             "VIP": True})

    return Starlette(routes=[Route("/lookup", answer, methods=["POST"])])


async def _looked_up(sm: SessionMaker, url: str) -> str:
    async with sm() as s:
        group = (await s.execute(select(Group).where(Group.name == "Support L1"))).scalar_one()
        site = (await s.execute(select(Site).where(Site.key == DEMO_SITE_KEY))).scalar_one()
        site.lookup = {"url": url, "secret": LOOKUP_SECRET, "timeout_ms": 2000,
                       "cache_ttl_s": 60}
        await s.commit()
    ivy = await new_visitor(sm, name="Ivy Lookup", email="ivy@crm.test")
    conv = await create_conversation(sm, channel="email", group_id=group.id, site_id=site.id,
                                     contact_id=ivy.id, subject="Toaster on strike")
    await append_message(sm, conv.id, author_kind="contact", body="It will not toast")
    return conv.number


def test_the_panel_shows_the_company_s_lookup_fields(browser: Browser, server: Server) -> None:
    with serving_in_thread(_provider()) as base:
        number = server.run(lambda sm: _looked_up(sm, f"{base}/lookup"))
        context, chloe = console(browser, server, "chloe@demo.switchboard.local")
        try:
            search = chloe.locator("section.ticket-search")
            search.get_by_label("Search", exact=True).fill("toaster")
            search.get_by_label("Search", exact=True).press("Enter")
            search.get_by_role("button", name=number).click()
            company = chloe.locator("aside.c360 .c360-lookup")
            expect(company.locator("h4")).to_have_text("Company data")
            expect(company.locator("dt")).to_have_text(["Plan", "Orders", "VIP"])
            expect(company.locator("dd")).to_have_text(
                ["Gold <img src=x onerror=alert(1)>", "12", "yes"])
            expect(company.locator("img")).to_have_count(0)  # text, never markup
            expect(chloe.locator("aside.c360")).to_contain_text("Ivy Lookup")
        finally:
            context.close()

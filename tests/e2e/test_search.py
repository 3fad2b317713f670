"""Searching tickets in the console: words, a filter, opening a result, a refused range."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select, update

from desk.contacts import new_visitor
from desk.conversations import append_message, create_conversation
from desk.db import SessionMaker
from desk.models import Conversation, Group
from tests.e2e.conftest import Server
from tests.e2e.pages import console

pytestmark = pytest.mark.e2e


async def _tickets(sm: SessionMaker) -> dict[str, str]:
    async with sm() as s:
        groups = {g.name: g.id for g in (await s.execute(select(Group))).scalars()}
    olga = await new_visitor(sm, name="Olga Search", email="olga@example.org")
    numbers = {}
    for key, group, subject, body in [
        ("parcel", "Support L1", "Where is my parcel", "The courier left a card, parcel lost"),
        ("invoice", "Support L1", "Invoice question", "Charged twice for the parcel box"),
        ("hidden", "Sales", "Parcel for sales", "A parcel the support group cannot see"),
    ]:
        conv = await create_conversation(sm, channel="email", group_id=groups[group],
                                         subject=subject, contact_id=olga.id)
        await append_message(sm, conv.id, author_kind="contact", body=body)
        numbers[key] = conv.number
    async with sm() as s:  # resolved tickets are found too: search is not the open list
        await s.execute(update(Conversation).where(Conversation.number == numbers["invoice"])
                        .values(status="resolved"))
        await s.commit()
    return numbers


def test_search_finds_opens_and_explains(browser: Browser, server: Server) -> None:
    numbers = server.run(_tickets)
    context, chloe = console(browser, server, "chloe@demo.switchboard.local")
    try:
        search = chloe.locator("section.ticket-search")
        results = search.locator("table[aria-label='Search results'] tbody tr")
        search.get_by_label("Search", exact=True).fill("parcel")
        search.get_by_label("Search", exact=True).press("Enter")
        # Chloé is in Support L1 only: the Sales ticket is not hers to find.
        expect(results).to_have_count(2)
        expect(search.locator("[role=status]")).to_have_text("2 found")
        expect(search).not_to_contain_text(numbers["hidden"])

        search.get_by_label("Search", exact=True).fill('"courier left"')
        search.get_by_role("button", name="Search").click()
        expect(results).to_have_count(1)
        expect(results.first).to_contain_text(numbers["parcel"])
        expect(results.first).to_contain_text("Olga Search")

        search.get_by_role("button", name="Clear").click()
        expect(results).to_have_count(0)
        search.locator("summary").click()
        search.get_by_label("Email").fill("olga@example.org")
        search.get_by_label("Status").select_option("resolved")
        search.get_by_role("button", name="Search").click()
        expect(results).to_have_count(1)
        expect(results.first).to_contain_text(numbers["invoice"])
        if shots := os.environ.get("SWITCHBOARD_SCREENSHOTS"):  # docs/img, as test_shots
            chloe.screenshot(path=Path(shots) / "console-search.png")

        results.first.get_by_role("button", name=numbers["invoice"]).click()
        view = chloe.locator("section.ticket")
        expect(view.locator(".log .msg .body")).to_have_text(["Charged twice for the parcel box"])

        chloe.locator('[data-tab="tickets"]').click()
        search.get_by_label("Active from").fill("2030-02-01")
        search.get_by_label("to", exact=True).fill("2030-01-01")
        search.get_by_role("button", name="Search").click()
        expect(search.locator("[role=status]")).to_have_text(
            "Search failed: from/to: the range ends before it starts")
    finally:
        context.close()

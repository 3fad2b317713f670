"""A host page passing its signed-in user to the widget: the agent sees a verified visitor,
and the user on another device is back in the same chat with its history; an anonymous
visitor typing the same address is a new contact, marked unverified."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from desk.db import SessionMaker
from desk.identity import signature
from desk.models import Site
from desk.seed import DEMO_SITE_KEY
from tests.e2e.conftest import Server
from tests.e2e.pages import (
    agent_says,
    chat_pane,
    console,
    new_page,
    open_widget,
    start_chat,
    take_next_chat,
)

pytestmark = pytest.mark.e2e

SECRET = "e2e-identity-secret-" + "9" * 20


def signed_in_host(page: Page, user_id: str, email: str) -> None:
    """The demo page as a host site serves it to its signed-in user: the user and the
    signature the host's server computed, set before the widget's tag runs."""
    identity = {"user_id": user_id, "email": email,
                "hmac": signature(SECRET, user_id, email)}
    page.add_init_script(f"window.SwitchboardIdentity = {json.dumps(identity)};")


def test_the_console_marks_who_is_verified(browser: Browser, server: Server) -> None:
    async def secret(sm: SessionMaker) -> None:
        async with sm() as s:
            await s.execute(update(Site).where(Site.key == DEMO_SITE_KEY)
                            .values(identity_secret=SECRET))
            await s.commit()

    server.run(secret)
    agent_ctx, agent = console(browser, server, "ana@demo.switchboard.local")
    known_ctx, known = new_page(browser)
    typed_ctx, typed = new_page(browser)
    try:
        signed_in_host(known, "shopper-7", "vera@example.org")
        open_widget(known, server)
        start_chat(known, "Signed in, asking about my order")
        cid = take_next_chat(agent)
        facts = chat_pane(agent, cid).locator("dl.facts")
        expect(facts).to_contain_text("vera@example.org")
        expect(facts.get_by_text("verified", exact=True)).to_be_visible()
        expect(facts).not_to_contain_text("unverified")
        agent_says(agent, cid, "Your parcel left this morning.")
        expect(known.locator(".msg.them p")).to_have_text(["Your parcel left this morning."])

        # The same user on another device: the widget joins the same chat, history included.
        again_ctx, again = new_page(browser)
        try:
            signed_in_host(again, "shopper-7", "vera@example.org")
            open_widget(again, server)
            start_chat(again, "Me again, from my phone")
            expect(again.locator(".msg.them p")).to_have_text(["Your parcel left this morning."])
            expect(chat_pane(agent, cid).locator(".log .msg.contact .body")).to_have_text(
                ["Signed in, asking about my order", "Me again, from my phone"])
        finally:
            again_ctx.close()

        # Someone else types the same address: a new contact, shown as unverified.
        open_widget(typed, server)
        start_chat(typed, "I am Vera too, honest")
        other = take_next_chat(agent)
        assert other != cid
        facts = chat_pane(agent, other).locator("dl.facts")
        expect(facts).to_contain_text("vera@example.org (unverified)")
        expect(facts.get_by_text("unverified", exact=True)).to_be_visible()  # the Identity row
        if shots := os.environ.get("SWITCHBOARD_SCREENSHOTS"):  # opt-in, as test_screenshots
            agent.screenshot(path=str(Path(shots) / "console-unverified.png"))
    finally:
        for ctx in (known_ctx, typed_ctx, agent_ctx):
            ctx.close()

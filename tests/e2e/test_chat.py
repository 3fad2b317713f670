"""A visitor chats with an agent end to end, in two browser contexts."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, expect

from desk.db import SessionMaker
from desk.models import Conversation
from tests.e2e.conftest import Server
from tests.e2e.pages import (
    agent_says,
    bodies,
    chat_pane,
    console,
    new_page,
    open_widget,
    start_chat,
    take_next_chat,
    visitor_says,
)

pytestmark = pytest.mark.e2e


def test_visitor_and_agent_chat_end_to_end(browser: Browser, server: Server) -> None:
    agent_ctx, agent = console(browser, server, "ana@demo.switchboard.local")
    visitor_ctx, visitor = new_page(browser, viewport={"width": 1024, "height": 800})
    try:
        open_widget(visitor, server)
        start_chat(visitor, "Hello, is the rubber duck in stock?")
        expect(visitor.locator(".status")).to_contain_text(re.compile("queue|agent"))

        cid = take_next_chat(agent)
        pane = chat_pane(agent, cid)
        expect(pane.locator(".log .msg.contact .body")).to_have_text(
            ["Hello, is the rubber duck in stock?"])
        expect(visitor.locator(".status")).to_contain_text("chatting with Ana")

        # The agent sees the visitor's draft live, before it is sent.
        visitor.fill("textarea.compose", "I need twelve of th")
        visitor.locator("textarea.compose").press_sequentially("em")
        expect(pane.locator(".live-draft")).to_have_text("I need twelve of them")
        visitor.press("textarea.compose", "Enter")
        expect(pane.locator(".log .msg.contact .body")).to_have_text(
            ["Hello, is the rubber duck in stock?", "I need twelve of them"])

        # The visitor sees "Ana is typing", then the reply; an internal note never shows.
        pane.locator("textarea.compose").press_sequentially("Let me check")
        expect(visitor.locator(".typing")).to_contain_text("typing")
        pane.locator("textarea.compose").fill("")
        agent_says(agent, cid, "Checking the warehouse for her.", note=True)
        agent_says(agent, cid, "Yes, we have 40 in stock.")
        expect(visitor.locator(".msg.them p")).to_have_text(["Yes, we have 40 in stock."])
        expect(pane.locator(".log .msg.internal .body")).to_have_text(
            ["Checking the warehouse for her."])

        # Canned response by shortcut: "/quote" + Tab inserts the Sales department's text.
        composer = pane.locator("textarea.compose")
        composer.fill("")
        composer.press_sequentially("/quo")
        expect(pane.locator(".suggest li")).to_have_count(1)
        composer.press("Tab")
        expect(composer).to_have_value("I'll prepare a quote and send it to your email.")
        composer.press("Enter")
        expect(visitor.locator(".msg.them p")).to_have_count(2)

        # Visitor messages exactly once on both sides.
        visitor_says(visitor, "Great, thanks!")
        expect(pane.locator(".log .msg.contact .body")).to_have_count(3)
        assert bodies(visitor.locator(".msg.me p")) == [
            "Hello, is the rubber duck in stock?", "I need twelve of them", "Great, thanks!"]

        # End, transcript by email and the exit survey.
        visitor.locator("header button.link").click()
        expect(pane.locator(".log .msg.system")).to_contain_text(["ended"])
        # The transcript goes to the address of the pre-chat form, the only one offered.
        expect(visitor.locator(".transcript")).to_contain_text("To vera@example.org")
        visitor.locator(".transcript button[type=submit]").click()
        expect(visitor.locator(".transcript [role=status]")).to_have_text(
            "Transcript queued: it is on its way to vera@example.org.")
        visitor.locator(".stars button").nth(4).click()
        visitor.fill("#sb-cm", "Quick and friendly")
        visitor.locator(".survey button[type=submit]").click()
        expect(visitor.locator(".survey")).to_contain_text("Thank you")

        # The widget thanks at once; the rating is stored when its frame reaches the server.
        deadline = time.monotonic() + 10
        while (rated := server.run(lambda sm: _rating(sm, cid))) != (5, "Quick and friendly") \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rated == (5, "Quick and friendly")
    finally:
        visitor_ctx.close()
        agent_ctx.close()


async def _rating(sm: SessionMaker, cid: int) -> tuple[int | None, str | None]:
    async with sm() as s:
        conv = await s.get(Conversation, cid)
        assert conv is not None
        return conv.rating, conv.rating_comment

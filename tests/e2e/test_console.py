"""Console actions beyond one-to-one chat: several chats in tabs, transfer, co-chat, close."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Browser, expect

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
    visitor_says,
)

pytestmark = pytest.mark.e2e


def test_tabs_transfer_invite_and_close(browser: Browser, server: Server) -> None:
    ana_ctx, ana = console(browser, server, "ana@demo.switchboard.local")
    v1_ctx, v1 = new_page(browser)
    v2_ctx, v2 = new_page(browser)
    ben_ctx = None
    try:
        open_widget(v1, server)
        start_chat(v1, "First visitor here", subject="Get a quote", answers={"company": "Acme"})
        first = take_next_chat(ana)
        open_widget(v2, server)
        start_chat(v2, "Second visitor here", name="Walt")
        second = take_next_chat(ana)
        # Two chats at once, one tab each; a message in the background tab is counted.
        expect(ana.locator("[role=tab][data-tab^=c]")).to_have_count(2)
        visitor_says(v1, "Are you still there?")
        expect(ana.locator(f'[data-tab="c{first}"] .count')).to_have_text("1")
        ana.locator(f'[data-tab="c{first}"]').click()
        expect(ana.locator(f'[data-tab="c{first}"] .count')).to_be_hidden()

        ben_ctx, ben = console(browser, server, "ben@demo.switchboard.local")
        # Transfer the first chat to Ben with a note: his console opens it with the history.
        pane = chat_pane(ana, first)
        pane.get_by_role("button", name="Transfer").click()
        pane.get_by_label("Transfer to").select_option(label="Ben")
        pane.get_by_label("Note for the receiver").fill("Wants 200 ducks, quote by Friday")
        pane.locator(".inline-form button.primary").click()
        ben_pane = chat_pane(ben, first)
        expect(ben_pane.locator(".log .msg.contact .body")).to_have_text(
            ["First visitor here", "Are you still there?"])
        expect(ben_pane.locator(".log .msg.internal .body")).to_have_text(
            ["Transfer note: Wants 200 ducks, quote by Friday"])
        agent_says(ben, first, "Hi, Ben here, I will prepare your quote.")
        expect(v1.locator(".msg.them .who")).to_have_text(["Ben"])
        assert "Transfer note" not in v1.locator(".log").inner_text()

        # Invite Ben to co-chat on the second: the visitor sees him join and talk.
        pane = chat_pane(ana, second)
        ana.locator(f'[data-tab="c{second}"]').click()
        pane.get_by_role("button", name="Invite").click()
        pane.get_by_label("Invite agent").select_option(label="Ben")
        pane.locator(".inline-form button.primary").click()
        expect(v2.locator(".msg.sys")).to_contain_text(["Ben joined the chat."])
        agent_says(ben, second, "Ben here too.")
        expect(v2.locator(".msg.them p")).to_have_text(["Ben here too."])
        expect(pane.locator(".log .msg.agent .body")).to_have_text(["Ben here too."])

        # Closing ends the chat for the visitor, who gets the exit survey.
        pane.get_by_role("button", name="Close chat").click()
        expect(v2.locator(".survey")).to_be_visible()
        expect(v2.locator(".msg.sys").last).to_have_text("The chat was ended.")
    finally:
        for ctx in (ben_ctx, v2_ctx, v1_ctx, ana_ctx):
            if ctx is not None:
                ctx.close()


def test_group_toggle_and_status_decide_whether_chats_can_start(browser: Browser,
                                                                server: Server) -> None:
    site = f"{server.url}/api/public/sites/{DEMO_SITE_KEY}"

    def online() -> bool:
        value: bool = httpx.get(site, timeout=10).json()["online"]
        return value

    assert not online()
    ctx, ana = console(browser, server, "ana@demo.switchboard.local")
    try:
        assert online()
        toggle = ana.get_by_label("Sales")
        toggle.uncheck()
        expect(ana.locator("ul.toggles")).to_have_attribute("data-applied", "")
        assert not online()
        toggle.check()
        expect(ana.locator("ul.toggles")).to_have_attribute("data-applied", re.compile(r"\d"))
        assert online()
        # Away keeps the chats but stops new ones; back online restores the toggles.
        ana.select_option("#status", "away")
        assert _eventually(lambda: not online())
        ana.select_option("#status", "online")
        assert _eventually(online)
    finally:
        ctx.close()


def _eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True

"""Console actions beyond one-to-one chat: several chats in tabs, transfer, co-chat, close."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, WebSocket, expect

from tests.e2e.conftest import Server
from tests.e2e.pages import (
    agent_says,
    chat_pane,
    console,
    new_page,
    online_departments,
    open_widget,
    start_chat,
    switch_groups,
    take_next_chat,
    visitor_says,
)

pytestmark = pytest.mark.e2e
ANA = "ana@demo.switchboard.local"


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


def _frames_sent(page: Page) -> list[str]:
    """Types of the frames the page's sockets send from now on."""
    sent: list[str] = []

    def watch(ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: sent.append(json.loads(payload)["type"]))

    page.on("websocket", watch)
    return sent


def test_toggles_and_status_are_kept_by_the_server(browser: Browser, server: Server) -> None:
    online = online_departments(server)
    assert online() == []
    ctx, ana = console(browser, server, ANA, groups_on=False)
    try:
        switch_groups(ana, False)  # whatever the records said: everything off
        assert online() == []
        switch_groups(ana, True, "Sales")
        assert online() == ["Sales"]
        # Away keeps the toggles aside and takes Ana out of routing; a reload shows it as it is
        # and changes nothing: the console sends nothing about status or groups on connect.
        ana.select_option("#status", "away")
        assert _eventually(lambda: online() == [])
        expect(ana.locator(".away-note")).to_be_visible()
        sent = _frames_sent(ana)
        ana.reload()
        expect(ana.locator(".conn")).to_have_text("Connected")
        expect(ana.locator("ul.toggles")).to_have_attribute("data-applied", re.compile(r"\d"))
        expect(ana.locator("#status")).to_have_value("away")
        expect(ana.locator("ul.toggles").get_by_label("Sales")).to_be_checked()
        expect(ana.locator(".away-note")).to_be_visible()
        assert online() == []
        assert "list_live" in sent and "presence" not in sent and "active_groups" not in sent, sent
        # Back online: the kept toggles are what the router uses again.
        ana.select_option("#status", "online")
        assert _eventually(lambda: online() == ["Sales"])
        expect(ana.locator(".away-note")).to_be_hidden()
    finally:
        ctx.close()
    # Gone: the heartbeat is dropped at once; the next console shows the same toggles.
    assert _eventually(lambda: online() == [])
    ctx, ana = console(browser, server, ANA, groups_on=False)
    try:
        expect(ana.locator("ul.toggles").get_by_label("Sales")).to_be_checked()
        expect(ana.locator("#status")).to_have_value("online")
        assert online() == ["Sales"]
    finally:
        ctx.close()


def test_all_groups_off_gets_no_offers_until_a_group_is_switched_on(browser: Browser,
                                                                    server: Server) -> None:
    online = online_departments(server)
    ana_ctx, ana = console(browser, server, ANA, groups_on=False)
    ben_ctx, ben = console(browser, server, "ben@demo.switchboard.local")
    v_ctx, visitor = new_page(browser)
    try:
        switch_groups(ana, False)
        assert online() == ["Sales", "Support"]  # Ben
        open_widget(visitor, server)
        start_chat(visitor, "Anyone for a quote?", subject="Get a quote",
                   answers={"company": "Acme"})
        # Ben is offered it and declines: the chat waits; Ana, with every group off, is not asked.
        ben.locator(".offer button", has_text="Decline").click()
        expect(ben.locator(".offer")).to_have_count(0)
        expect(visitor.locator(".status")).to_contain_text("You are number 1 in the queue")
        ana.wait_for_timeout(700)
        expect(ana.locator(".offer")).to_have_count(0)
        # Switching Sales on pulls the waiting chat to her at once.
        switch_groups(ana, True, "Sales")
        offer = ana.locator(".offer")
        expect(offer).to_have_count(1, timeout=3000)
        offer.get_by_role("button", name="Accept").click()
        expect(visitor.locator(".status")).to_have_text("You are chatting with Ana")
    finally:
        for ctx in (v_ctx, ben_ctx, ana_ctx):
            ctx.close()


def _eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True

"""Console actions beyond one-to-one chat: co-chat invitation, several chats in tabs, close."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

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


def test_invite_co_chat_tabs_and_close(browser: Browser, server: Server) -> None:
    ana_ctx, ana = console(browser, server, "ana@demo.switchboard.local")
    ben_ctx, ben = console(browser, server, "ben@demo.switchboard.local", available=False)
    v1_ctx, v1 = new_page(browser)
    v2_ctx, v2 = new_page(browser)
    try:
        open_widget(v1, server)
        start_chat(v1, "First visitor here")
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

        # Invite Ben to co-chat: his console opens the chat with its history; the visitor sees him.
        pane = chat_pane(ana, first)
        pane.get_by_role("button", name="Invite").click()
        pane.get_by_label("Invite agent").select_option(label="Ben")
        pane.locator(".inline-form button.primary").click()
        expect(v1.locator(".msg.sys")).to_contain_text(["Ben joined the chat."])
        ben_pane = chat_pane(ben, first)
        expect(ben_pane.locator(".log .msg.contact .body")).to_have_text(
            ["First visitor here", "Are you still there?"])
        agent_says(ben, first, "Hi, Ben here, I know this product well.")
        expect(v1.locator(".msg.them .who")).to_have_text(["Ben"])
        expect(pane.locator(".log .msg.agent .body")).to_have_text(
            ["Hi, Ben here, I know this product well."])

        # Closing ends the chat for the visitor, who gets the exit survey.
        pane.get_by_role("button", name="Close chat").click()
        expect(v1.locator(".survey")).to_be_visible()
        expect(v1.locator(".msg.sys").last).to_have_text("The chat was ended.")
        # The other chat carries on untouched.
        agent_says(ana, second, "Hello Walt!")
        expect(v2.locator(".msg.them p")).to_have_text(["Hello Walt!"])
    finally:
        for ctx in (v2_ctx, v1_ctx, ben_ctx, ana_ctx):
            ctx.close()

"""Network drop and server loss: after reconnecting, nothing is lost and nothing is doubled."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

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


def test_visitor_offline_then_web_process_killed_loses_nothing(browser: Browser,
                                                               server: Server) -> None:
    agent_ctx, agent = console(browser, server, "ben@demo.switchboard.local")
    visitor_ctx, visitor = new_page(browser)
    try:
        open_widget(visitor, server)
        start_chat(visitor, "v1")
        cid = take_next_chat(agent)
        pane = chat_pane(agent, cid)
        expect(pane.locator(".log .msg.contact .body")).to_have_text(["v1"])

        # 1. The visitor's network goes away: their sends wait in the outbox, the agent's
        #    replies wait in the records.
        visitor_ctx.set_offline(True)
        expect(visitor.locator(".conn")).to_be_visible()
        visitor_says(visitor, "v2")
        visitor_says(visitor, "v3")
        agent_says(agent, cid, "a1")
        agent_says(agent, cid, "a2")
        expect(visitor.locator(".msg.me.pending")).to_have_count(2)
        visitor.wait_for_timeout(500)
        assert bodies(pane.locator(".log .msg.contact .body")) == ["v1"]
        visitor_ctx.set_offline(False)
        expect(visitor.locator(".msg.them p")).to_have_text(["a1", "a2"])
        expect(pane.locator(".log .msg.contact .body")).to_have_text(["v1", "v2", "v3"])
        expect(visitor.locator(".msg.me.pending")).to_have_count(0)
        expect(visitor.locator(".conn")).to_be_hidden()

        # 2. The web process dies (SIGKILL): both sides reconnect to its replacement; what the
        #    visitor typed meanwhile is delivered once, in order.
        server.restart_web()
        visitor_says(visitor, "v4")
        visitor_says(visitor, "v5")
        expect(pane.locator(".log .msg.contact .body")).to_have_text(
            ["v1", "v2", "v3", "v4", "v5"], timeout=30_000)
        expect(agent.locator(".conn")).to_have_text("Connected", timeout=30_000)
        agent_says(agent, cid, "a3")
        expect(visitor.locator(".msg.them p")).to_have_text(["a1", "a2", "a3"], timeout=30_000)
        assert bodies(visitor.locator(".msg.me p")) == ["v1", "v2", "v3", "v4", "v5"]
        assert bodies(pane.locator(".log .msg.agent .body")) == ["a1", "a2", "a3"]
    finally:
        visitor_ctx.close()
        agent_ctx.close()

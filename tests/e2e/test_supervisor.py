"""Supervisor: live board, silent monitoring, whispers the visitor never sees, joining visibly."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Server, login
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


def test_supervisor_monitors_whispers_and_joins(browser: Browser, server: Server) -> None:
    agent_ctx, agent = console(browser, server, "ana@demo.switchboard.local")
    visitor_ctx, visitor = new_page(browser)
    sup_ctx, sup = new_page(browser, viewport={"width": 1280, "height": 900})
    try:
        # The live board comes from the router: status, load and active groups; queues.
        login(sup, server, "/supervisor", "sam@demo.switchboard.local")
        ana_row = sup.locator("tr[data-agent]", has_text="Ana")
        sales = sup.locator("tr[data-group]", has_text="Sales")
        expect(ana_row).to_contain_text("online")
        expect(ana_row.locator("td.load")).to_contain_text("0 / 3 chats")
        expect(ana_row.locator("td").last).to_have_text("Sales")
        expect(sales.locator("td.length")).to_have_text("0")
        expect(sales.locator("td.oldest")).to_have_text("—")

        # The visitor fills in the form while Ana is there; she steps away before it is sent,
        # so the chat waits in the queue, and the board shows it waiting and ageing.
        open_widget(visitor, server)
        with visitor.expect_response(lambda r: "/api/public/sites/" in r.url):
            start_chat(visitor, "Do you ship to Iceland?", submit=False)
        agent.select_option("#status", "away")
        expect(ana_row.locator(".badge")).to_have_text("away")
        expect(ana_row.locator("td").last).to_have_text("none")
        visitor.locator("form.form button[type=submit]").click()
        expect(visitor.locator(".status")).to_contain_text("You are number 1 in the queue")
        expect(sales.locator("td.length")).to_have_text("1")
        oldest = sales.locator("td.oldest")
        expect(oldest).to_have_text(re.compile(r"^\d+s$"))
        expect(oldest).not_to_have_text(oldest.inner_text())

        # Back online: the chat is offered to her at once; accepting it moves load and queue.
        agent.select_option("#status", "online")
        cid = take_next_chat(agent)
        expect(ana_row.locator("td.load")).to_contain_text("1 / 3 chats")
        expect(ana_row.locator("td").last).to_have_text("Sales")
        expect(sales.locator("td.length")).to_have_text("0")
        expect(oldest).to_have_text("—")
        agent_says(agent, cid, "Let me check that for you.")
        expect(visitor.locator(".msg.them p")).to_have_text(["Let me check that for you."])

        row = sup.locator(f'tr[data-conversation="{cid}"]')
        expect(row).to_contain_text("Ana")
        row.get_by_role("button", name="Monitor").click()
        watch = chat_pane(sup, cid)
        expect(watch.locator(".log .msg .body")).to_have_text(
            ["Do you ship to Iceland?", "Let me check that for you."])

        # Monitoring is silent and sees the visitor's live draft too.
        visitor.fill("textarea.compose", "It is for a gift")
        expect(watch.locator(".live-draft")).to_have_text("It is for a gift")
        visitor.press("textarea.compose", "Enter")
        expect(watch.locator(".log .msg.contact .body")).to_have_count(2)

        # A whisper reaches the agent (and supervisors), never the visitor.
        watch.locator("textarea.compose").fill("Offer free shipping, it is a VIP.")
        watch.locator("textarea.compose").press("Enter")
        pane = chat_pane(agent, cid)
        expect(pane.locator(".log .msg.whisper .body")).to_have_text(
            ["Offer free shipping, it is a VIP."])
        agent_says(agent, cid, "Good news: shipping is free for you.")
        expect(visitor.locator(".msg.them p")).to_have_count(2)
        assert "VIP" not in visitor.locator(".log").inner_text()

        # Joining is visible: the visitor sees the supervisor arrive and talk.
        watch.get_by_role("button", name="Join chat").click()
        expect(visitor.locator(".msg.sys")).to_contain_text(["Sam (supervisor) joined the chat."])
        watch.locator("textarea.compose").fill("Hello from the team lead!")
        watch.locator("textarea.compose").press("Enter")
        expect(visitor.locator(".msg.them p")).to_have_text([
            "Let me check that for you.", "Good news: shipping is free for you.",
            "Hello from the team lead!"])
        visitor_says(visitor, "Thank you both")
        expect(watch.locator(".log .msg.contact .body")).to_have_count(3)

        # Not on replay either: a reload of the visitor's page replays the history without it.
        visitor.reload()
        visitor.locator("button.launch").click()
        expect(visitor.locator(".msg.me p")).to_have_count(3)
        expect(visitor.locator(".msg.them p")).to_have_count(3)
        assert "VIP" not in visitor.locator(".log").inner_text()
        assert bodies(visitor.locator(".msg.me p")) == [
            "Do you ship to Iceland?", "It is for a gift", "Thank you both"]

        # The routing decision log for the conversation.
        sup.get_by_role("tab", name="Live board").click()
        row.get_by_role("button", name="Routing log").click()
        log = sup.locator('section[aria-label^="Routing decisions for"]')
        expect(log.locator("h2")).to_contain_text("Why did SB-")
        expect(log.locator("li.card").first).to_contain_text("queued")
        expect(log.locator("li.card", has_text="Ana").first).to_be_visible()
        expect(log.locator("table").first).to_contain_text("Ana")  # candidates considered
    finally:
        sup_ctx.close()
        visitor_ctx.close()
        agent_ctx.close()

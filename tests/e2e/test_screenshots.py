"""Screenshots for docs/img (opt-in): SWITCHBOARD_SCREENSHOTS=docs/img pytest tests/e2e -k shots.

Runs a real chat with the seeded demo organisation and photographs the widget, the agent console
and the supervisor view at the interesting moments.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Server, login
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

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.environ.get("SWITCHBOARD_SCREENSHOTS"),
                       reason="set SWITCHBOARD_SCREENSHOTS=<dir> to write screenshots"),
]


def test_shots(browser: Browser, server: Server) -> None:
    out = Path(os.environ["SWITCHBOARD_SCREENSHOTS"])
    out.mkdir(parents=True, exist_ok=True)
    agent_ctx, agent = console(browser, server, "ana@demo.switchboard.local")
    visitor_ctx, visitor = new_page(browser, viewport={"width": 1100, "height": 760})
    phone_ctx, phone = new_page(browser, viewport={"width": 390, "height": 720}, is_mobile=True,
                                has_touch=True, device_scale_factor=2)
    sup_ctx, sup = new_page(browser, viewport={"width": 1280, "height": 860})
    other_ctx, other = new_page(browser)
    try:
        open_widget(visitor, server)
        visitor.select_option("#sb-dept", label="Sales")
        visitor.select_option("#sb-topic-0", label="Buying")
        visitor.select_option("#sb-topic-1", label="Get a quote")
        visitor.fill("#sb-f-q-company", "Pond Supplies Ltd")
        visitor.fill("#sb-f-name", "Vera")
        visitor.screenshot(path=out / "widget-prechat.png")

        visitor.fill("#sb-f-email", "vera@example.org")
        visitor.fill("#sb-f-text", "Hi! Can I get a quote for 200 rubber ducks?")
        visitor.locator("form.form button[type=submit]").click()
        cid = take_next_chat(agent)
        pane = chat_pane(agent, cid)
        agent_says(agent, cid, "Hello Vera! Happy to help.")
        agent_says(agent, cid, "Repeat customer, give the 10% volume discount.", note=True)
        visitor_says(visitor, "Yellow ones, with the little hats.")
        expect(pane.locator(".log .msg.contact")).to_have_count(2)
        visitor.fill("textarea.compose", "Delivery by Friday would be gr")
        expect(pane.locator(".live-draft")).to_have_text("Delivery by Friday would be gr")
        pane.locator("textarea.compose").press_sequentially("/quo")
        expect(pane.locator(".suggest li")).to_have_count(1)
        expect(visitor.locator(".typing")).to_contain_text("typing")
        visitor.screenshot(path=out / "widget-chat.png")
        open_widget(other, server)
        start_chat(other, "Do you have the teapot in blue?", name="Walt")
        expect(agent.locator(".offer .left")).to_contain_text("s left")
        agent.screenshot(path=out / "console.png")
        pane.locator("textarea.compose").press("Tab")
        pane.locator("textarea.compose").press("Enter")

        login(sup, server, "/supervisor", "sam@demo.switchboard.local")
        sup.locator(f'tr[data-conversation="{cid}"]').get_by_role("button", name="Monitor").click()
        watch = chat_pane(sup, cid)
        watch.locator("textarea.compose").fill("Nice. Mention free shipping above 100 units.")
        watch.locator("textarea.compose").press("Enter")
        expect(pane.locator(".log .msg.whisper")).to_have_count(1)
        sup.get_by_role("tab", name="Live board").click()
        sup.screenshot(path=out / "supervisor-board.png")
        sup.get_by_role("tab", name="Monitoring", exact=False).click()
        sup.screenshot(path=out / "supervisor-monitor.png")

        open_widget(phone, server)
        # Nobody in Support is online: the phone visitor is offered to leave a message.
        start_chat(phone, "Is the left-handed teapot dishwasher safe?", name="Max",
                   department="Support", topic="Billing", subject="", submit=False)
        expect(phone.locator("form.form button[type=submit]")).to_have_text("Send message")
        phone.screenshot(path=out / "widget-mobile.png")
    finally:
        for ctx in (other_ctx, sup_ctx, phone_ctx, visitor_ctx, agent_ctx):
            ctx.close()

"""The widget on a hostile host page: isolation, keyboard, mobile width, leave-a-message."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from desk.db import SessionMaker
from desk.models import Contact, Conversation, Message
from tests.e2e.conftest import Server
from tests.e2e.pages import console, new_page, online_departments, open_widget, switch_groups
from tests.e2e.test_case_page import service_level

pytestmark = pytest.mark.e2e

ACTIVE_IN_SHADOW = "() => document.querySelector('switchboard-widget').shadowRoot.activeElement" \
    "?.getAttribute('aria-label') || null"


def test_host_css_cannot_break_the_widget_and_keyboard_works(browser: Browser,
                                                              server: Server) -> None:
    context, page = new_page(browser, viewport={"width": 1200, "height": 800})
    try:
        page.goto(server.url + "/demo")
        launcher = page.locator("button.launch")
        box = launcher.bounding_box()
        assert box is not None and round(box["width"]) == 56 and round(box["height"]) == 56
        # The host page's `* { font-family: Comic Sans !important }` does not get in.
        font = launcher.evaluate("el => getComputedStyle(el.parentElement).fontFamily")
        assert "Comic" not in font
        launcher.focus()
        page.keyboard.press("Enter")
        panel = page.locator("#sb-panel")
        expect(panel).to_be_visible()  # despite the host's [role=dialog] { display: none }
        expect(launcher).to_have_attribute("aria-expanded", "true")
        # Focus moved into the form; Escape closes and gives focus back to the launcher.
        expect(page.locator("#sb-dept")).to_be_focused()
        page.keyboard.press("Escape")
        expect(panel).to_be_hidden()
        assert page.evaluate(ACTIVE_IN_SHADOW) == "Open chat"
        # Required fields are checked with a message naming the field.
        page.keyboard.press("Enter")
        page.locator("form.form button[type=submit]").click()
        expect(page.locator("form.form .error")).to_have_text("Please fill in: Department")
        expect(page.locator("#sb-dept")).to_have_attribute("aria-invalid", "true")
        # Topic tree: a sub-topic's questionnaire field appears and is required.
        page.select_option("#sb-dept", label="Sales")
        page.select_option("#sb-topic-0", label="Buying")
        page.select_option("#sb-topic-1", label="Get a quote")
        expect(page.locator("label[for=sb-f-q-company]")).to_have_text("Company *")
    finally:
        context.close()


def test_mobile_width_fills_the_screen(browser: Browser, server: Server) -> None:
    context, page = new_page(browser, viewport={"width": 375, "height": 700}, is_mobile=True,
                             has_touch=True)
    try:
        open_widget(page, server)
        box = page.locator("#sb-panel").bounding_box()
        assert box is not None and round(box["width"]) == 375 and round(box["x"]) == 0
    finally:
        context.close()


def test_online_is_per_department_and_follows_the_router(browser: Browser,
                                                          server: Server) -> None:
    online = online_departments(server)
    # Dev is online but only in Support L2: Support's chats enter Support L1, so nobody serves it.
    dev_ctx, dev = console(browser, server, "dev@demo.switchboard.local", groups_on=False)
    chloe_ctx = None
    context, page = new_page(browser)
    try:
        switch_groups(dev, False)
        switch_groups(dev, True, "Support L2")
        assert online() == []
        chloe_ctx, chloe = console(browser, server, "chloe@demo.switchboard.local")
        assert online() == ["Support"]

        open_widget(page, server)
        note = page.locator("form.form p.muted")
        submit = page.locator("form.form button[type=submit]")
        email = page.locator("label[for=sb-f-email]")

        def pick(department: str) -> None:
            with page.expect_response(lambda r: "/api/public/sites/" in r.url):
                page.select_option("#sb-dept", label=department)

        pick("Sales")  # nobody there: leave a message, with an address to answer to
        expect(note).to_be_visible()
        expect(note).to_contain_text("Leave a message")
        expect(submit).to_have_text("Send message")
        expect(email).to_have_text("Email *")
        pick("Support")  # Chloé is there: a chat
        expect(note).to_be_hidden()
        expect(submit).to_have_text("Start chat")
        expect(email).to_have_text("Email")
        # Chloé steps away: picking Support again asks the server again.
        chloe.select_option("#status", "away")
        expect(chloe.locator(".away-note")).to_be_visible()
        pick("Sales")
        pick("Support")
        expect(submit).to_have_text("Send message")
        expect(page.locator("#sb-f-email")).to_have_attribute("aria-required", "true")
    finally:
        for ctx in (context, chloe_ctx, dev_ctx):
            if ctx is not None:
                ctx.close()


def test_leave_a_message_when_nobody_is_online_files_a_ticket(browser: Browser,
                                                              server: Server) -> None:
    server.run(service_level)
    context, page = new_page(browser)
    try:
        open_widget(page, server)
        expect(page.locator(".body .muted").first).to_contain_text("Leave a message")
        page.select_option("#sb-dept", label="Support")
        page.select_option("#sb-topic-0", label="Help with an order")
        page.fill("#sb-f-q-order", "A-1001")
        page.fill("#sb-f-name", "Olga Offline")
        page.fill("#sb-f-text", "My parcel never arrived.")
        page.locator("form.form button[type=submit]").click()
        # Nobody online: an email address is required to answer by mail.
        expect(page.locator("form.form .error")).to_have_text("Please fill in: Email")
        page.fill("#sb-f-email", "olga@example.org")
        page.locator("form.form button[type=submit]").click()
        expect(page.locator(".done")).to_contain_text("Your ticket number is SB-")
        expect(page.locator(".done")).to_contain_text("We will answer within 4 hours, by email.")
        if shots := os.environ.get("SWITCHBOARD_SCREENSHOTS"):
            page.screenshot(path=Path(shots) / "widget-left-message.png")
        found = re.search(r"SB-\d+", page.locator(".done p").inner_text())
        assert found is not None
        number = found.group()
    finally:
        context.close()

    conv, contact, body = server.run(lambda sm: _ticket(sm, number))
    assert conv.channel == "email" and conv.status == "queued"
    assert conv.custom_fields == {"order": "A-1001"} and conv.topic == "Help with an order"
    assert (contact.name, contact.email) == ("Olga Offline", "olga@example.org")
    assert body == "My parcel never arrived."

    # The ticket is in the console's list for the department's group; reply and note from there.
    agent_ctx, agent = console(browser, server, "chloe@demo.switchboard.local")
    try:
        agent.locator("table.grid button.link", has_text=number).click()
        view = agent.locator("section.ticket")
        expect(view.locator(".log .msg .body")).to_have_text(["My parcel never arrived."])
        view.locator("textarea").fill("Sorry about that, a new one is on its way.")
        view.locator("button[type=submit]").click()
        expect(view.locator(".notice")).to_have_text("Reply sent by email to olga@example.org")
        view.locator("textarea").fill("Resent via courier.")
        view.locator("input[type=checkbox]").check()
        view.locator("button[type=submit]").click()
        expect(view.locator(".log .msg.internal .body")).to_have_text(["Resent via courier."])
        expect(view.locator(".log .msg.public .body")).to_have_count(2)
    finally:
        agent_ctx.close()


async def _ticket(sm: SessionMaker, number: str) -> tuple[Conversation, Contact, str]:
    async with sm() as s:
        conv = (await s.execute(select(Conversation).where(Conversation.number == number))
                ).scalar_one()
        contact = await s.get(Contact, conv.contact_id)
        assert contact is not None
        msg = (await s.execute(select(Message).where(Message.conversation_id == conv.id))
               ).scalar_one()
        return conv, contact, msg.body

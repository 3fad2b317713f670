"""The console's rough edges, each as a new agent met it: the transfer form, a stale filter
answer, "Visitor" for a named contact, raw questionnaire keys, a closed chat's composer, offer
alerts, and a page opened on ``localhost`` instead of ``127.0.0.1``."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Route, expect

from desk.seed import DEMO_PASSWORD
from tests.e2e.conftest import Server, login
from tests.e2e.pages import (
    chat_pane,
    console,
    new_page,
    open_widget,
    start_chat,
    support_ticket,
    take_next_chat,
    visitor_says,
)

pytestmark = pytest.mark.e2e
ANA = "ana@demo.switchboard.local"
CHLOE = "chloe@demo.switchboard.local"


def test_a_chat_as_the_agent_reads_it_and_after_it_closed(browser: Browser,
                                                          server: Server) -> None:
    ana_ctx, ana = console(browser, server, ANA)
    visitor_ctx, visitor = new_page(browser)
    try:
        open_widget(visitor, server)
        start_chat(visitor, "Do you have ducks?", name="Vera Visitor", subject="Get a quote",
                   answers={"company": "Acme & Co"})
        cid = take_next_chat(ana)
        pane = chat_pane(ana, cid)
        visitor_says(visitor, "Twelve, please")
        # The contact's name, not "Visitor", on their messages.
        expect(pane.locator(".msg.contact .who")).to_have_text(["Vera Visitor", "Vera Visitor"])
        # Questionnaire answers under the site form's labels, not keys or JSON.
        facts = pane.locator(".facts")
        expect(facts.locator("dt", has_text="Company")).to_have_count(1)
        expect(facts.locator("dd", has_text="Acme & Co")).to_have_count(1)
        expect(facts).not_to_contain_text("{")
        assert "company" not in facts.locator("dt").all_inner_texts()

        # The transfer form opens, Cancel closes it, and so does Transfer.
        form = pane.locator(".inline-form")
        expect(form).to_be_hidden()
        pane.get_by_role("button", name="Transfer", exact=True).click()
        expect(form).to_be_visible()
        form.get_by_role("button", name="Cancel").click()
        expect(form).to_be_hidden()
        pane.get_by_role("button", name="Invite").click()
        expect(form).to_be_visible()
        form.get_by_role("button", name="Cancel").click()
        expect(form).to_be_hidden()
        # Ben is offline, so the transfer is refused; the form closes all the same.
        pane.get_by_role("button", name="Transfer", exact=True).click()
        form.get_by_label("Transfer to").select_option(label="Ben")
        form.get_by_role("button", name="Transfer", exact=True).click()
        expect(form).to_be_hidden()

        # Closed: the tab's composer goes, and the chat opened from the list is read-only.
        expect(pane.locator("textarea.compose")).to_be_visible()
        pane.get_by_role("button", name="Close chat").click()
        expect(pane.locator("textarea.compose")).to_be_hidden()
        expect(pane.locator(".ended")).to_contain_text("can no longer be answered")
        ana.locator('[data-tab="tickets"]').click()
        ana.select_option("#f-channel", "chat")
        ana.select_option("#f-status", "resolved")
        row = ana.locator(".tickets tbody tr", has_text="Vera Visitor")
        expect(row).to_have_count(1)  # the Contact column is filled
        row.get_by_role("button").click()
        view = ana.locator(f'section.ticket[data-ticket="{cid}"]')
        expect(view.locator(".ended")).to_contain_text("resolved; it can no longer be answered")
        expect(view.locator("textarea")).to_be_hidden()
        expect(view.locator(".msg.contact .who").first).to_have_text("Vera Visitor")
        expect(view.locator(".facts")).to_contain_text("Acme & Co")
    finally:
        visitor_ctx.close()
        ana_ctx.close()


def test_a_stale_filter_answer_is_dropped(browser: Browser, server: Server) -> None:
    """Two filters changed quickly: the first answer, held back until the second is drawn,
    must not replace the rows of the newer filter."""
    support_ticket(server, "Olga", "olga@example.org", "Hello")
    context, page = console(browser, server, CHLOE)
    held: list[Route] = []

    def hold_pending(route: Route) -> None:
        if "status=pending" in route.request.url:
            held.append(route)  # answered later, after the newer filter's rows are drawn
        else:
            route.continue_()

    try:
        rows = page.locator(".tickets tbody tr")
        expect(rows).to_contain_text(["Olga"])  # "Any open" shows her ticket
        page.route("**/api/conversations?*", hold_pending)
        page.select_option("#f-status", "pending")  # slow: held back (it would show none)
        with page.expect_response(lambda r: "status=" not in r.url):
            page.select_option("#f-status", "")  # fast: back to "Any open", drawn first
        expect(rows).to_contain_text(["Olga"])
        assert len(held) == 1
        with page.expect_response(lambda r: "status=pending" in r.url):
            held[0].continue_()
        # Let the page run what the late answer queued, then look again.
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50)))")
        expect(rows).to_contain_text(["Olga"])
        expect(page.locator(".tickets > p[role=status]")).to_have_text("1 shown")
    finally:
        context.close()


FAKE_NOTIFICATION = """
window.__notes = [];
window.Notification = class {
  constructor(title, options) { window.__notes.push([title, (options || {}).body || ""]); }
  close() {}
  static get permission() { return localStorage.getItem("fake-permission") || "default"; }
  static requestPermission() {
    localStorage.setItem("fake-permission", "granted");
    return Promise.resolve("granted");
  }
};
"""


def test_offer_alerts_are_opt_in(browser: Browser, server: Server) -> None:
    context, page = new_page(browser, viewport={"width": 1280, "height": 860})
    context.add_init_script(FAKE_NOTIFICATION)
    visitor_ctx, visitor = new_page(browser)
    try:
        login(page, server, "/console", ANA)
        expect(page.locator(".conn")).to_have_text("Connected")
        toggle = page.get_by_label("Sound and desktop alert")
        expect(toggle).not_to_be_checked()
        toggle.check()
        page.reload()
        page.wait_for_selector("#app-ready", state="attached")
        expect(page.get_by_label("Sound and desktop alert")).to_be_checked()
        page.locator("ul.toggles input").first.wait_for()
        expect(page.locator("ul.toggles[data-applied]")).to_be_attached()
        for box in page.locator("ul.toggles input").all():
            if not box.is_checked():
                box.check()
                expect(page.locator("ul.toggles[data-applied]")).to_be_attached()
        open_widget(visitor, server)
        start_chat(visitor, "Hello there", subject="Stock question")
        expect(page.locator(".offer")).to_have_count(1)
        notes: list[Any] = page.evaluate("() => window.__notes")
        assert len(notes) == 1 and notes[0][0].startswith("New chat offered: SB-")
    finally:
        visitor_ctx.close()
        context.close()


def test_the_console_on_localhost_says_why_it_cannot_connect(browser: Browser,
                                                              server: Server) -> None:
    """Outside development mode a page on another name is refused, and the console says so
    instead of "Connecting…" forever; in development mode every loopback name works."""
    local = server.url.replace("127.0.0.1", "localhost")
    context, page = new_page(browser)
    try:
        page.goto(local + "/console")
        page.fill("#login-email", ANA)
        page.fill("#login-password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#app-ready", state="attached")
        alert = page.locator("#refused")
        expect(alert).to_be_visible()
        expect(alert).to_contain_text(f"this page is {local}")
        expect(alert).to_contain_text(f"Open the console at {server.url}/console")
        expect(page.locator(".conn")).to_have_text("Not connected")
    finally:
        context.close()

    server.env["SWITCHBOARD_MODE"] = "development"
    server.restart_web()
    context, page = new_page(browser)
    visitor_ctx, visitor = new_page(browser)
    try:
        page.goto(local + "/console")
        page.fill("#login-email", ANA)
        page.fill("#login-password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#app-ready", state="attached")
        expect(page.locator(".conn")).to_have_text("Connected")
        expect(page.locator("#refused")).to_be_hidden()
        visitor.goto(local + "/demo")
        visitor.locator("button.launch").click()
        start_chat(visitor, "Hi from localhost", subject="Stock question")
        expect(visitor.locator(".status")).not_to_have_text("Connecting\u2026")
    finally:
        visitor_ctx.close()
        context.close()

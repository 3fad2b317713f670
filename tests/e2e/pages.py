"""Page helpers shared by the browser tests: the visitor's widget, the agent console."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, expect

from desk.seed import DEMO_SITE_KEY
from tests.e2e.conftest import Server, login

TIMEOUT_MS = 15_000


def new_page(browser: Browser, **options: Any) -> tuple[BrowserContext, Page]:
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    return context, page


def open_widget(page: Page, server: Server) -> None:
    page.goto(server.url + "/demo")
    page.locator("button.launch").click()  # CSS selectors pierce the open shadow root
    expect(page.locator("#sb-panel")).to_be_visible()


def start_chat(page: Page, text: str, *, name: str = "Vera Visitor",
               department: str = "Sales", topic: str = "Buying",
               subject: str = "Stock question", answers: dict[str, str] | None = None,
               submit: bool = True) -> None:
    page.select_option("#sb-dept", label=department)
    page.select_option("#sb-topic-0", label=topic)
    if subject:
        page.select_option("#sb-topic-1", label=subject)
    for field, value in (answers or {}).items():
        page.fill(f"#sb-f-q-{field}", value)
    page.fill("#sb-f-name", name)
    page.fill("#sb-f-email", "vera@example.org")
    page.fill("#sb-f-text", text)
    if submit:
        page.locator("form.form button[type=submit]").click()
        expect(page.locator("textarea.compose")).to_be_visible()


def visitor_says(page: Page, text: str) -> None:
    page.fill("textarea.compose", text)
    page.press("textarea.compose", "Enter")


def console(browser: Browser, server: Server, email: str, *,
            groups_on: bool = True) -> tuple[BrowserContext, Page]:
    """Log in to the agent console; returns once it shows the server's toggles and, with
    ``groups_on``, after the agent switched every group of theirs on (as an agent would)."""
    context, page = new_page(browser, viewport={"width": 1280, "height": 860})
    login(page, server, "/console", email)
    expect(page.locator(".conn")).to_have_text("Connected")
    expect(page.locator("ul.toggles[data-applied]")).to_be_attached()
    if groups_on:
        switch_groups(page, True)
    return context, page


def switch_groups(page: Page, on: bool, *names: str) -> None:
    """Tick (or untick) the named groups, every group without names, one change at a time."""
    boxes = page.locator("ul.toggles input[type=checkbox]")
    targets = [page.locator("ul.toggles").get_by_label(n, exact=True) for n in names] or \
        [boxes.nth(i) for i in range(boxes.count())]
    for box in targets:
        if box.is_checked() != on:
            box.set_checked(on)
            expect(page.locator("ul.toggles[data-applied]")).to_be_attached()


def take_next_chat(page: Page) -> int:
    """Accept the offer, or (policy manual / no router) cherry-pick from the queue."""
    button = page.locator(".offer button.primary, .queue button").first
    button.wait_for(timeout=20_000)
    card = button.locator("xpath=ancestor::li[@data-conversation]")
    cid = int(card.get_attribute("data-conversation") or "0")
    button.click()
    expect(page.locator(f'section.chat[data-conversation="{cid}"]')).to_be_visible()
    return cid


def chat_pane(page: Page, cid: int) -> Any:
    return page.locator(f'section.chat[data-conversation="{cid}"]')


def agent_says(page: Page, cid: int, text: str, *, note: bool = False) -> None:
    tab = page.locator(f'[data-tab="c{cid}"]')
    if tab.get_attribute("aria-selected") != "true":
        tab.click()
    pane = chat_pane(page, cid)
    if note:
        pane.locator("input[type=checkbox]").check()
    pane.locator("textarea.compose").fill(text)
    pane.locator("textarea.compose").press("Enter")
    if note:
        pane.locator("input[type=checkbox]").uncheck()


def bodies(locator: Any) -> list[str]:
    return [re.sub(r"\s+", " ", t).strip() for t in locator.all_inner_texts()]


def online_departments(server: Server) -> Callable[[], list[str]]:
    """A probe of the widget's endpoint: names of the departments it calls online now."""
    site = f"{server.url}/api/public/sites/{DEMO_SITE_KEY}"
    names = {d["id"]: d["name"] for d in httpx.get(site, timeout=10).json()["departments"]}

    def online() -> list[str]:
        body = httpx.get(site, timeout=10).json()
        assert body["online"] == bool(body["online_departments"])
        return [names[d] for d in body["online_departments"]]

    return online


def support_ticket(server: Server, name: str, email: str, text: str) -> str:
    """An email ticket in Support L1, filed through the widget's "leave a message" endpoint."""
    site = f"{server.url}/api/public/sites/{DEMO_SITE_KEY}"
    with httpx.Client(timeout=10) as http:
        support = next(d["id"] for d in http.get(site).json()["departments"]
                       if d["name"] == "Support")
        r = http.post(site + "/messages", json={
            "department_id": support, "topic": "help", "answers": {"order": "A-1"},
            "name": name, "email": email, "text": text})
    assert r.status_code == 201, r.text
    number: str = r.json()["number"]
    return number

"""Page helpers shared by the browser tests: the visitor's widget, the agent console."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, expect

from desk.db import SessionMaker
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
               subject: str = "Stock question") -> None:
    page.select_option("#sb-dept", label=department)
    page.select_option("#sb-topic-0", label=topic)
    if subject:
        page.select_option("#sb-topic-1", label=subject)
    page.fill("#sb-f-name", name)
    page.fill("#sb-f-email", "vera@example.org")
    page.fill("#sb-f-text", text)
    page.locator("form.form button[type=submit]").click()
    expect(page.locator("textarea.compose")).to_be_visible()


def visitor_says(page: Page, text: str) -> None:
    page.fill("textarea.compose", text)
    page.press("textarea.compose", "Enter")


def console(browser: Browser, server: Server, email: str, *,
            available: bool = True) -> tuple[BrowserContext, Page]:
    context, page = new_page(browser, viewport={"width": 1280, "height": 860})
    login(page, server, "/console", email)
    expect(page.locator(".conn")).to_have_text("Connected")
    if available:
        server.run(lambda sm: _available(server, sm, email))
    return context, page


async def _available(server: Server, sm: SessionMaker, email: str) -> None:
    """Active in all of the agent's groups, and online (the hub's heartbeat, made sure of)."""
    from redis.asyncio import Redis
    from sqlalchemy import select

    from desk.models import Agent
    from routing.router import Router

    async with sm() as s:
        agent = (await s.execute(select(Agent).where(Agent.email == email))).scalar_one()
        groups = [g.group_id for g in agent.groups]
    redis = Redis.from_url(server.env["REDIS_URL"])
    try:
        router = Router(server.settings, redis, sm)
        await router.heartbeat(agent.id)
        await router.set_active_groups(agent.id, groups)
    finally:
        await redis.aclose()


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

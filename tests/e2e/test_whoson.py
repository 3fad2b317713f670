"""Who's On in the browser: the live visitors list, invitations accepted and declined, and an
auto-invite rule, between a visitor's widget and an agent's console."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from desk.db import SessionMaker
from desk.models import Site
from desk.seed import DEMO_SITE_KEY
from tests.e2e.conftest import Server
from tests.e2e.pages import console, new_page

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("SWITCHBOARD_SCREENSHOTS")


def _shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / name))


def _visitors_tab(agent: Page) -> None:
    agent.locator('[data-tab="visitors"]').click()
    expect(agent.locator(".visitors-panel")).to_be_visible()


def _set_config(server: Server, **extra: object) -> None:
    async def work(sm: SessionMaker) -> None:
        async with sm() as s:
            site = (await s.execute(select(Site).where(Site.key == DEMO_SITE_KEY))).scalar_one()
            site.config = {**(site.config or {}), **extra}
            await s.commit()

    server.run(work)


def test_live_list_and_an_invitation_accepted_and_one_declined(
        browser: Browser, server: Server) -> None:
    agent_ctx, agent = console(browser, server, "ana@demo.switchboard.local")
    v_ctx, visitor = new_page(browser, viewport={"width": 1024, "height": 800})
    w_ctx, other = new_page(browser, viewport={"width": 1024, "height": 800})
    try:
        _visitors_tab(agent)
        visitor.goto(server.url + "/demo")
        row = agent.locator(".visitors tbody tr").first
        expect(row).to_contain_text("/demo")
        expect(row).to_contain_text("new")
        visitor.evaluate("location.hash = 'pricing'")  # a navigation inside the page
        expect(row.locator("td").nth(3)).to_have_text("2")
        _shot(agent, "console-visitors.png")

        agent.locator(".invite-text").fill("Hi! Questions about the duck?")
        row.get_by_role("button", name="Invite").click()
        expect(visitor.locator(".invite .msg")).to_have_text("Hi! Questions about the duck?")
        _shot(visitor, "widget-invitation.png")
        visitor.locator(".invite").get_by_role("button", name="Accept").click()
        expect(visitor.locator("textarea.compose")).to_be_visible()
        expect(visitor.locator(".status")).to_contain_text("chatting with Ana")
        expect(agent.locator(".visitors-panel .notice")).to_contain_text("accepted")
        expect(agent.locator("section.chat")).to_have_count(1)
        expect(row).to_contain_text("in chat")

        _visitors_tab(agent)  # the new chat's tab came forward
        other.goto(server.url + "/demo")
        expect(agent.locator(".visitors tbody tr")).to_have_count(2)
        fresh = agent.locator(".visitors tbody tr").filter(has_not_text="in chat")
        fresh.get_by_role("button", name="Invite").click()
        other.locator(".invite").get_by_role("button", name="No thanks").click()
        expect(agent.locator(".visitors-panel .notice")).to_contain_text("declined")
        expect(other.locator("#sb-panel")).to_be_hidden()
    finally:
        for ctx in (agent_ctx, v_ctx, w_ctx):
            ctx.close()


def test_an_auto_invite_rule_invites_a_visitor_on_the_page(
        browser: Browser, server: Server) -> None:
    _set_config(server, auto_invites=[{"url_contains": "/demo", "min_seconds": 1,
                                       "agents_available": True,
                                       "text": "Looking for a duck? We are here."}])
    agent_ctx, agent = console(browser, server, "ana@demo.switchboard.local")
    v_ctx, visitor = new_page(browser, viewport={"width": 1024, "height": 800})
    try:
        visitor.goto(server.url + "/demo")
        expect(visitor.locator(".invite .msg")).to_have_text("Looking for a duck? We are here.")
        visitor.locator(".invite").get_by_role("button", name="Accept").click()
        expect(visitor.locator("textarea.compose")).to_be_visible()
        # A rule's chat is routed as any other: offered to the agent online.
        expect(agent.locator(".offer")).to_have_count(1)
    finally:
        agent_ctx.close()
        v_ctx.close()


def test_a_page_view_arrives_by_beacon_before_any_socket(
        browser: Browser, server: Server) -> None:
    agent_ctx, agent = console(browser, server, "ana@demo.switchboard.local")
    v_ctx, visitor = new_page(browser, viewport={"width": 1024, "height": 800})
    try:
        _visitors_tab(agent)
        # The visitor's socket never gets through: whatever the list shows came by beacon.
        visitor.route_web_socket("**/ws/visitor**", lambda ws: None)
        with visitor.expect_request("**/api/visitor/page-view") as sent:
            visitor.goto(server.url + "/static/demo.html?from=beacon")
        assert sent.value.method == "POST"
        row = agent.locator(".visitors tbody tr").first
        expect(row).to_contain_text("/static/demo.html?from=beacon")
        expect(row.locator("td").nth(3)).to_have_text("1")
    finally:
        agent_ctx.close()
        v_ctx.close()

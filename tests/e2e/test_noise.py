"""Noise in the console: an auto-reply ticket is listed only under the noise filter, and the
agent's Promote button makes it a routed ticket (issue 10, item 12)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from desk.conversations import new_number
from desk.db import SessionMaker
from desk.models import Agent, AgentGroup, Conversation, Message
from tests.e2e.conftest import Server
from tests.e2e.pages import console

pytestmark = pytest.mark.e2e

SUBJECT = "Automatic reply: out of office"


async def _noise_ticket(sm: SessionMaker) -> int:
    async with sm() as s:
        group_id = (await s.execute(select(AgentGroup.group_id).join(
            Agent, Agent.id == AgentGroup.agent_id).where(
            Agent.email == "ana@demo.switchboard.local").limit(1))).scalar_one()
        conv = Conversation(number=new_number(), channel="email", status="noise",
                            group_id=group_id, subject=SUBJECT, last_seq=1)
        s.add(conv)
        await s.flush()
        s.add(Message(conversation_id=conv.id, seq=1, author_kind="contact",
                      visibility="internal", body="I am away until Monday."))
        await s.commit()
        return conv.id


async def _status(sm: SessionMaker, conversation_id: int) -> str:
    async with sm() as s:
        conv = await s.get(Conversation, conversation_id)
        assert conv is not None
        return conv.status


def test_noise_listed_apart_and_promoted(browser: Browser, server: Server) -> None:
    cid = server.run(_noise_ticket)
    ctx, agent = console(browser, server, "ana@demo.switchboard.local")
    try:
        agent.get_by_role("tab", name="Tickets").click()
        rows = agent.locator("table.grid tbody tr")
        expect(rows.filter(has_text=SUBJECT)).to_have_count(0)  # "Any open" leaves noise out
        agent.select_option("#f-status", "noise")
        expect(rows.filter(has_text=SUBJECT)).to_have_count(1)
        rows.filter(has_text=SUBJECT).get_by_role("button").click()
        promote = agent.get_by_role("button", name="Promote to a ticket")
        expect(promote).to_be_visible()
        promote.click()
        expect(agent.locator("section.ticket .notice")).to_have_text(
            "Promoted: routed to an agent")
        expect(promote).to_be_hidden()
        assert server.run(lambda sm: _status(sm, cid)) != "noise"
    finally:
        ctx.close()

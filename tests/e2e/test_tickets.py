"""An email ticket offered to an agent opens in the console as a ticket, never as a live chat:
its reply goes over the HTTP API, and by mail."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from desk.db import SessionMaker
from desk.models import Conversation, Message
from desk.seed import DEMO_SITE_KEY
from tests.e2e.conftest import Server
from tests.e2e.pages import console

pytestmark = pytest.mark.e2e


def _email_ticket(server: Server, email: str, text: str) -> str:
    """A ticket filed through the widget's "leave a message" endpoint (channel email)."""
    site = f"{server.url}/api/public/sites/{DEMO_SITE_KEY}"
    with httpx.Client(timeout=10) as http:
        support = next(d["id"] for d in http.get(site).json()["departments"]
                       if d["name"] == "Support")
        r = http.post(site + "/messages", json={
            "department_id": support, "topic": "help", "answers": {"order": "A-1"},
            "name": "Olga", "email": email, "text": text})
    assert r.status_code == 201, r.text
    number: str = r.json()["number"]
    return number


def test_an_offered_email_ticket_opens_as_a_ticket(browser: Browser, server: Server) -> None:
    context, chloe = console(browser, server, "chloe@demo.switchboard.local")
    try:
        number = _email_ticket(server, "olga@example.org", "My parcel never arrived.")
        card = chloe.locator(".offer", has_text=number)
        expect(card).to_contain_text("email ticket")
        cid = int(card.get_attribute("data-conversation") or "0")
        card.get_by_role("button", name="Accept").click()

        view = chloe.locator(f'section.ticket[data-ticket="{cid}"]')
        expect(view).to_be_visible()
        expect(view.locator(".log .msg .body")).to_have_text(["My parcel never arrived."])
        expect(chloe.locator(f'[data-tab="t{cid}"]')).to_have_attribute("aria-selected", "true")
        # No live chat tab, now or when the socket replays the ticket's messages.
        expect(chloe.locator(f'[data-tab="c{cid}"]')).to_have_count(0)
        expect(chloe.locator(f'section.chat[data-conversation="{cid}"]')).to_have_count(0)

        view.locator("textarea").fill("Sorry about that, a new one is on its way.")
        view.locator("button[type=submit]").click()
        expect(view.locator(".notice")).to_have_text("Reply sent by email to olga@example.org")
        expect(view.locator(".log .msg.public .body")).to_have_count(2)
        expect(chloe.locator(f'section.chat[data-conversation="{cid}"]')).to_have_count(0)
        if shots := os.environ.get("SWITCHBOARD_SCREENSHOTS"):  # docs/img, as test_shots
            chloe.screenshot(path=Path(shots) / "console-ticket.png")
    finally:
        context.close()
    assert server.run(lambda sm: _reply(sm, cid)) == (
        "agent", "public", "Sorry about that, a new one is on its way.", "active")


async def _reply(sm: SessionMaker, cid: int) -> tuple[str, str, str, str]:
    async with sm() as s:
        conv = await s.get(Conversation, cid)
        assert conv is not None and conv.channel == "email"
        last = (await s.execute(select(Message).where(Message.conversation_id == cid)
                                .order_by(Message.seq.desc()).limit(1))).scalar_one()
        return last.author_kind, last.visibility, last.body, conv.status

"""Tickets in the console's queue beside chats: kind and age, "Take" through the router and
disabled at capacity with the reason, assigning one to a colleague; the supervisor's board
lists them too."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select, update

from desk.db import SessionMaker
from desk.models import Agent, Conversation, utcnow
from tests.e2e.conftest import Server, login
from tests.e2e.pages import console, new_page, support_ticket, switch_groups

pytestmark = pytest.mark.e2e
CHLOE = "chloe@demo.switchboard.local"
BEN = "ben@demo.switchboard.local"


async def _one_ticket_each(sm: SessionMaker) -> None:
    async with sm() as s:
        await s.execute(update(Agent).where(Agent.email == CHLOE).values(ticket_capacity=1))
        await s.commit()


async def _due_in_two_hours(sm: SessionMaker, number: str) -> None:
    async with sm() as s:
        await s.execute(update(Conversation).where(Conversation.number == number).values(
            sla_due=utcnow() + timedelta(hours=2)))
        await s.commit()


async def _assignee(sm: SessionMaker, number: str) -> str | None:
    async with sm() as s:
        name: str | None = (await s.execute(
            select(Agent.display_name).join(Conversation, Conversation.assignee_id == Agent.id)
            .where(Conversation.number == number))).scalar_one_or_none()
        return name


def test_tickets_wait_beside_chats_and_are_taken_or_assigned(browser: Browser,
                                                             server: Server) -> None:
    server.run(_one_ticket_each)
    ben_ctx, ben = console(browser, server, BEN)
    switch_groups(ben, False)  # online, but offered nothing: the tickets wait
    chloe_ctx, chloe = console(browser, server, CHLOE)
    switch_groups(chloe, False)
    sup_ctx, sup = new_page(browser, viewport={"width": 1280, "height": 860})
    try:
        first = support_ticket(server, "Olga", "olga@example.org", "My parcel never arrived.")
        second = support_ticket(server, "Pia", "pia@example.org", "Wrong size delivered.")
        server.run(lambda sm: _due_in_two_hours(sm, second))
        queue = chloe.locator("ul.queue")
        card = queue.locator("li", has_text=first)
        expect(card.locator(".badge")).to_have_text("email ticket")
        expect(card).to_contain_text("Support L1 · waiting")
        expect(queue.locator("li[data-channel=email]")).to_have_count(2)
        expect(queue.locator("li", has_text=second).locator(".sla")).to_contain_text(
            "SLA due in 1h 59m")  # shown when the ticket has one (the next live list)

        login(sup, server, "/supervisor", "sam@demo.switchboard.local")
        row = sup.locator("tr[data-conversation]", has_text=first)
        expect(row).to_contain_text("email ticket")
        expect(row.get_by_role("button", name="Monitor")).to_have_count(0)
        sla = sup.locator("tr[data-conversation]", has_text=second).locator(".sla")
        expect(sla).to_contain_text("due in 1h 59m")
        if shots := os.environ.get("SWITCHBOARD_SCREENSHOTS"):
            expect(sup.locator("[data-kpi=handled] .value")).not_to_have_text("…")
            sup.screenshot(path=Path(shots) / "supervisor-tickets.png", full_page=True)

        card.get_by_role("button", name=f"Take {first}").click()
        expect(chloe.locator("section.ticket")).to_have_count(1)
        # At her ticket capacity (1): "Take" is off for the other, saying why.
        other = queue.locator("li", has_text=second)
        take = other.get_by_role("button", name=f"Take {second}")
        expect(take).to_be_disabled()
        expect(other.locator(".full")).to_have_text("At capacity: 1 / 1 tickets")
        if shots:
            chloe.screenshot(path=Path(shots) / "console-queue-tickets.png")
        # She gives it to Ben, a colleague of Support L1: the router assigns it to him.
        other.get_by_label(f"Assign {second} to").select_option(label="Ben")
        other.get_by_role("button", name=f"Assign {second}").click()
        expect(chloe.locator("#workspace > .notice")).to_have_text("Ticket assigned.")
        expect(queue.locator("li", has_text=second)).to_have_count(0)

        # Waiting for the customer: a move the rules offer, recorded on the ticket's timeline.
        view = chloe.locator("section.ticket")
        status = view.get_by_label("Status")
        expect(status.locator("option")).to_have_text(
            ["open", "pending (waiting for the customer)", "resolved", "closed"])
        status.select_option("pending")
        expect(view.locator(".notice")).to_have_text(
            "Status set to pending (waiting for the customer)")
        view.locator(".timeline-box summary").click()
        # (The trail also holds the assignment's own status move.)
        expect(view.locator(".timeline li[data-action='conversation.status']",
                            has_text="pending")).to_contain_text(
            "Status open → pending (waiting for the customer) by Chloé — set by staff")
        expect(status.locator("option")).to_have_text(
            ["pending (waiting for the customer)", "reopen (back to the queue)", "resolved",
             "closed"])
        if shots:
            view.screenshot(path=Path(shots) / "console-ticket-timeline.png")
    finally:
        sup_ctx.close()
        chloe_ctx.close()
        ben_ctx.close()
    assert server.run(lambda sm: _assignee(sm, first)) == "Chloé"
    assert server.run(lambda sm: _assignee(sm, second)) == "Ben"


def _by_number(server: Server, number: str) -> int:
    async def find(sm: SessionMaker) -> int:
        async with sm() as s:
            cid: int = (await s.execute(select(Conversation.id).where(
                Conversation.number == number))).scalar_one()
            return cid
    return server.run(find)


async def _same_contact(sm: SessionMaker, number: str, like: str) -> None:
    """Messages left through the widget each make their own contact: make them one."""
    async with sm() as s:
        contact = (await s.execute(select(Conversation.contact_id).where(
            Conversation.number == like))).scalar_one()
        await s.execute(update(Conversation).where(Conversation.number == number).values(
            contact_id=contact))
        await s.commit()


def test_a_queued_ticket_resolved_or_merged_leaves_every_queue_at_once(
        browser: Browser, server: Server) -> None:
    ben_ctx, ben = console(browser, server, BEN)
    switch_groups(ben, False)
    chloe_ctx, chloe = console(browser, server, CHLOE)
    switch_groups(chloe, False)
    try:
        done = support_ticket(server, "Olga", "olga@example.org", "My parcel never arrived.")
        dup = support_ticket(server, "Olga", "olga@example.org", "Parcel still missing.")
        kept = support_ticket(server, "Olga", "olga@example.org", "Where is my parcel?")
        server.run(lambda sm: _same_contact(sm, dup, kept))
        for page in (ben, chloe):
            expect(page.locator("ul.queue li[data-channel=email]")).to_have_count(3)
        # Ben resolves one and merges another through the API his console uses; both leave
        # Chloé's queue well before her next 5 s poll would have dropped them.
        ben.evaluate("""async ([done, dup, kept]) => {
            const { patch, post } = await import("/static/js/api.js");
            await patch(`/api/conversations/${done}`, { status: "resolved" });
            await post(`/api/conversations/${dup}/merge`, { into: kept });
        }""", [_by_number(server, n) for n in (done, dup, kept)])
        for page in (chloe, ben):
            queue = page.locator("ul.queue")
            expect(queue.locator("li[data-channel=email]")).to_have_count(1, timeout=2500)
            expect(queue.locator("li", has_text=kept)).to_have_count(1)
    finally:
        chloe_ctx.close()
        ben_ctx.close()

"""Ticket work in the console: tags, custom fields, copies, forward, split, merge, and a
resolution note that the next similar ticket's customer panel shows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select, update

from desk.contacts import new_visitor
from desk.conversations import append_message, create_conversation
from desk.db import SessionMaker
from desk.models import Department, Group
from tests.e2e.conftest import Server
from tests.e2e.pages import console

pytestmark = pytest.mark.e2e

FIELDS = [{"name": "order", "label": "Order number", "type": "text", "required": True},
          {"name": "plan", "label": "Plan", "type": "select", "options": ["basic", "pro"]}]


async def _tickets(sm: SessionMaker) -> dict[str, str]:
    async with sm() as s:
        group = (await s.execute(select(Group).where(Group.name == "Support L1"))).scalar_one()
        await s.execute(update(Department).where(Department.id == group.department_id)
                        .values(fields=FIELDS))
        await s.commit()
    olga = await new_visitor(sm, name="Olga Umbrella", email="olga@umbrella.test")
    main = await create_conversation(sm, channel="email", group_id=group.id,
                                     department_id=group.department_id, contact_id=olga.id,
                                     subject="Toner error on the printer")
    for text in ("The printer shows a toner error", "Also: the invoice address is wrong",
                 "And the invoice is late"):
        await append_message(sm, main.id, author_kind="contact", body=text)
    dup = await create_conversation(sm, channel="email", group_id=group.id,
                                    department_id=group.department_id, contact_id=olga.id,
                                    subject="Printer again")
    await append_message(sm, dup.id, author_kind="contact", body="Still the toner error")
    later = await create_conversation(sm, channel="email", group_id=group.id,
                                      department_id=group.department_id, contact_id=olga.id,
                                      subject="Toner error")
    await append_message(sm, later.id, author_kind="contact", body="A toner error once more")
    return {"main": main.number, "dup": dup.number, "later": later.number}


def _open(page: Page, number: str) -> None:
    """Find a ticket by its number in the ticket search and open it."""
    page.locator("#tab-tickets").click()
    search = page.locator("section.ticket-search")
    if search.locator("details").get_attribute("open") is None:
        search.locator("summary").click()
    search.get_by_label("Number").fill(number)
    search.get_by_role("button", name="Search", exact=True).click()
    search.get_by_role("button", name=number).first.click()


def _view(page: Page, number: str) -> Locator:
    return page.locator(f"section.ticket:has(h2:text-matches('^{number} '))")


def _work(page: Page, number: str) -> Locator:
    return page.locator(f".ticket-box:has(h2:text-matches('^{number} ')) details.ticket-work")


def _tab(page: Page, number: str) -> None:
    page.locator(".tab", has_text=number).first.click()


def test_ticket_work(browser: Browser, server: Server) -> None:
    numbers = server.run(_tickets)
    context, chloe = console(browser, server, "chloe@demo.switchboard.local")
    try:
        _open(chloe, numbers["main"])
        view = _view(chloe, numbers["main"])
        work = _work(chloe, numbers["main"])
        status = work.locator("[role=status]")
        work.locator("input[id$='-tag']").fill("Printer")
        work.get_by_role("button", name="Add tag").click()
        expect(work.locator(".tag-chip")).to_have_text(["printer×"])

        work.get_by_role("button", name="Resolve with note").click()
        expect(status).to_contain_text("fill in Order number")
        work.get_by_label("Order number *").fill("A-17")
        work.get_by_label("Plan").select_option("pro")
        work.get_by_role("button", name="Save fields").click()
        expect(status).to_have_text("Fields saved")

        work.get_by_label("CC on replies").fill("boss@umbrella.test")
        work.get_by_role("button", name="Save CC").click()
        expect(status).to_have_text("Replies are copied to boss@umbrella.test")

        work.get_by_label("Forward to").fill("vendor@parts.test")
        work.get_by_label("Note", exact=True).fill("Can you ship toner?")
        work.get_by_role("button", name="Forward").click()
        expect(status).to_contain_text("Forwarded to vendor@parts.test")
        expect(view.locator(".log")).to_contain_text("forwarded the ticket to vendor@parts.test")

        work.get_by_label("Split from message").select_option(
            label="#2 Also: the invoice address is wrong")
        work.get_by_role("button", name="Split").click()
        child = chloe.locator("section.ticket:has(h2:has-text('split from'))")
        expect(child.locator(".log")).to_contain_text("the invoice address is wrong")
        expect(child.locator(".log")).to_contain_text("And the invoice is late")
        _tab(chloe, numbers["main"])
        expect(view.locator(".log")).not_to_contain_text("the invoice is late")

        _open(chloe, numbers["dup"])
        _work(chloe, numbers["dup"]).get_by_label("Merge into").fill(numbers["main"])
        _work(chloe, numbers["dup"]).get_by_role("button", name="Merge").click()
        _tab(chloe, numbers["main"])
        expect(view.locator(".log")).to_contain_text("Still the toner error")

        work.get_by_label("Resolution note").fill("Reset the toner counter in the service menu")
        work.get_by_role("button", name="Resolve with note").click()
        expect(status).to_have_text("Resolved")
        if shots := os.environ.get("SWITCHBOARD_SCREENSHOTS"):
            chloe.screenshot(path=Path(shots) / "console-ticket-work.png", full_page=True)

        _open(chloe, numbers["later"])
        later = chloe.locator(f".with-c360:has(h2:has-text('{numbers['later']}'))")
        expect(later.locator("aside.c360 .resolution")).to_contain_text(
            "Reset the toner counter in the service menu")
        if shots:
            chloe.screenshot(path=Path(shots) / "console-previous-resolutions.png")
    finally:
        context.close()

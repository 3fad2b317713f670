"""Field visits in the console: a visit order made from a case on the department's visit form
(a start in the past refused with its message, a required field asked for), its printable
order opened in a new tab, the technician's completion counted against the contract, the
printed order filled in, and the visits list by date range."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select, update

from desk.contacts import new_visitor
from desk.conversations import append_message, create_conversation
from desk.db import SessionMaker
from desk.models import Contact, Contract, Department, Group, Organisation
from tests.e2e.conftest import Server, login
from tests.e2e.pages import console, new_page

pytestmark = pytest.mark.e2e

FORM = [{"name": "device", "label": "Device", "type": "text", "required": True},
        {"name": "ladder", "label": "Ladder needed", "type": "checkbox"}]


async def _case(sm: SessionMaker) -> str:
    async with sm() as s:
        group = (await s.execute(select(Group).where(Group.name == "Support L1"))).scalar_one()
        await s.execute(update(Department).where(Department.id == group.department_id)
                        .values(visit_fields=FORM))
        org = Organisation(name="Umbrella Ltd", domains=["umbrella.test"])
        s.add(org)
        await s.flush()
        today = datetime.now(UTC).date()
        s.add(Contract(organisation_id=org.id, kind="contract", name="Gold support",
                       starts_on=today - timedelta(days=10), minutes_contracted=600))
        await s.commit()
        group_id, department_id, org_id = group.id, group.department_id, org.id
    olga = await new_visitor(sm, name="Olga Umbrella", email="olga@umbrella.test")
    async with sm() as s:
        await s.execute(update(Contact).where(Contact.id == olga.id)
                        .values(organisation_id=org_id, phone="+49305550101"))
        await s.commit()
    conv = await create_conversation(sm, channel="email", group_id=group_id,
                                     department_id=department_id, contact_id=olga.id,
                                     subject="Boiler leaks in the cellar")
    await append_message(sm, conv.id, author_kind="contact", body="Water everywhere")
    return conv.number


def test_order_print_and_complete_a_visit(browser: Browser, server: Server) -> None:
    number = server.run(_case)
    shots = os.environ.get("SWITCHBOARD_SCREENSHOTS")
    context, chloe = console(browser, server, "chloe@demo.switchboard.local")
    try:
        search = chloe.locator("section.ticket-search")
        search.get_by_label("Search", exact=True).fill("boiler")
        search.get_by_label("Search", exact=True).press("Enter")
        search.get_by_role("button", name=number).click()
        box = chloe.locator(f".ticket-box:has(h2:text-matches('^{number} ')) "
                            "details.ticket-visits")
        box.locator("summary", has_text="Field visits").click()
        box.get_by_text("New visit order").click()
        form = box.get_by_role("form", name="Order a field visit")
        expect(form.get_by_label("Device *")).to_be_visible()
        form.get_by_label("Address *").fill("Umbrella Ltd, Hauptstr. 1\n10115 Berlin")
        form.get_by_label("On-site contact").fill("Olga Umbrella")
        form.get_by_label("Contact phone").fill("+49 30 555 0101")
        form.get_by_label("Instructions").fill("Boiler in the cellar; ring twice at the side door")
        form.get_by_label("Start *").fill("2020-01-01T10:00")
        form.get_by_label("Duration (minutes)").fill("90")
        form.get_by_role("button", name="Order the visit").click()
        status = box.locator("> p[role=status]")
        expect(status).to_contain_text("in the past")
        form.get_by_label("Start *").fill(f"{date.today() + timedelta(days=1)}T09:30")
        form.get_by_role("button", name="Order the visit").click()
        expect(status).to_contain_text("the visit form needs Device")
        form.get_by_label("Device *").fill("Boiler Vitodens 200")
        form.get_by_label("Ladder needed").check()
        form.get_by_role("button", name="Order the visit").click()
        expect(status).to_contain_text("ordered")
        item = box.locator("ul.visits > li").first
        expect(item).to_contain_text("scheduled")

        with context.expect_page() as opened:
            item.get_by_role("link", name="Printable order").click()
        order = opened.value
        expect(order.locator("main.order")).to_contain_text(number)
        expect(order.locator("main.order")).to_contain_text("Hauptstr. 1")
        expect(order.locator("main.order")).to_contain_text("Boiler Vitodens 200")
        expect(order.locator(".completion .outcomes li")).to_have_count(4)
        expect(order.get_by_role("button", name="Print")).to_be_visible()
        order.emulate_media(media="print")
        expect(order.get_by_role("button", name="Print")).to_be_hidden()
        order.emulate_media(media="screen")
        if shots:
            order.set_viewport_size({"width": 1000, "height": 1400})
            order.screenshot(path=Path(shots) / "visit-order.png", full_page=True)

        done = item.get_by_role("form", name="Complete V-")
        item.get_by_label("Work done on").fill("Replaced the pressure valve, refilled")
        item.get_by_role("button", name="Record as done").click()  # no minutes: the server asks
        expect(status).to_contain_text("minutes: a whole number from 1 to 1440")
        item.get_by_label("Minutes spent on").fill("90")
        item.get_by_label("Outcome of").select_option("resolved")
        item.get_by_role("button", name="Record as done").click()
        expect(status).to_have_text("Recorded as done")
        expect(done).to_have_count(0)
        expect(box.locator("ul.visits > li").first).to_contain_text("Resolved · 90 min")
        order.reload()
        expect(order.locator(".completion")).to_contain_text("Replaced the pressure valve")
        expect(order.locator(".completion")).to_contain_text("90 minutes")
        expect(order.locator(".status")).to_have_text("Done")
        order.close()

        chloe.locator("#tab-visits").click()
        visits = chloe.locator("section.visit-list")
        visits.get_by_label("Technician").select_option(label="Me")
        visits.get_by_role("button", name="Show").click()
        expect(visits.locator("tbody tr")).to_have_count(1)
        expect(visits.locator("tbody tr")).to_contain_text(number)
        expect(visits.locator("tbody tr")).to_contain_text("Olga Umbrella")
        if shots:
            chloe.screenshot(path=Path(shots) / "console-field-visits.png", full_page=True)
        chloe.reload()  # the open ticket's customer panel was read before the visit was done
        chloe.locator("#tab-visits").click()
        chloe.locator("section.visit-list").get_by_role("button", name=number).click()
        panel = chloe.locator("aside.c360")
        expect(panel).to_contain_text("1.5 h used of 10 h")
        expect(panel.locator("li", has_text="V-")).to_contain_text("done")
    finally:
        context.close()


async def _visit_form(sm: SessionMaker) -> list[dict[str, object]]:
    async with sm() as s:
        dept = (await s.execute(select(Department).where(Department.name == "Support"))
                ).scalar_one()
        return list(dept.visit_fields)


def test_admin_designs_the_visit_form(browser: Browser, server: Server) -> None:
    context, page = new_page(browser, viewport={"width": 1280, "height": 900})
    try:
        login(page, server, "/admin#forms", "admin@demo.switchboard.local")
        form = page.get_by_role("form", name="Department form")
        form.get_by_label("Department").select_option(label="Support")
        form.get_by_label("Form").select_option(label="Field visit order")
        # Each choice loads the form anew: type into the list of the last one.
        expect(form.locator(".df-fields")).to_have_attribute("aria-busy", "false")
        form.get_by_role("button", name="Add field").click()
        form.get_by_label("Field name").fill("serial")
        form.get_by_label("Question").fill("Serial number")
        form.get_by_label("Required").check()
        form.get_by_role("button", name="Save form").click()
        expect(form.get_by_role("status")).to_have_text("Saved: 1 field")
        assert server.run(_visit_form) == [
            {"type": "text", "name": "serial", "label": "Serial number", "required": True}]
        form.get_by_label("Field name").fill("bad name!")
        form.get_by_role("button", name="Save form").click()
        expect(form.get_by_role("status")).to_contain_text("fields[0]")
        if shots := os.environ.get("SWITCHBOARD_SCREENSHOTS"):
            page.screenshot(path=Path(shots) / "admin-department-forms.png", full_page=True)
    finally:
        context.close()

"""Log a call in the console: the department's call form with a required field, the server's
message beside the field it names, the new case's number and its ticket view."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select, update

from desk.db import SessionMaker
from desk.models import Department, Group
from tests.e2e.conftest import Server
from tests.e2e.pages import console

pytestmark = pytest.mark.e2e

FORM = [{"name": "reason", "label": "Reason", "type": "select",
         "options": ["billing", "fault", "order"], "required": True},
        {"name": "callback", "label": "Call back wanted", "type": "checkbox"}]


async def _form(sm: SessionMaker) -> None:
    async with sm() as s:
        group = (await s.execute(select(Group).where(Group.name == "Support L1"))).scalar_one()
        await s.execute(update(Department).where(Department.id == group.department_id)
                        .values(call_fields=FORM))
        await s.commit()


def test_log_a_call(browser: Browser, server: Server) -> None:
    server.run(_form)
    context, chloe = console(browser, server, "chloe@demo.switchboard.local")
    try:
        chloe.locator("#tab-calls").click()
        form = chloe.locator("form.call-form")
        form.get_by_label("Group").select_option(label="Support L1")
        expect(form.get_by_label("Reason *")).to_be_visible()
        form.get_by_label("Phone number *").fill("+49 30 555 0101")
        form.get_by_label("Duration (minutes)").fill("6")
        form.get_by_label("Caller's name").fill("Olga Umbrella")
        form.get_by_label("Notes").fill("The printer in room 4 jams on every second page")
        form.get_by_role("button", name="Log the call").click()
        expect(form.get_by_role("alert")).to_contain_text("the call form needs Reason")
        form.get_by_label("Reason *").select_option("fault")
        form.get_by_label("Call back wanted").check()
        if shots := os.environ.get("SWITCHBOARD_SCREENSHOTS"):
            chloe.screenshot(path=Path(shots) / "console-log-a-call.png", full_page=True)
        form.get_by_role("button", name="Log the call").click()
        done = chloe.locator("#panel-calls [role=status]")
        expect(done).to_contain_text("Call logged as SB-")
        number = done.inner_text().split("as ")[1].split(".")[0]
        done.get_by_role("button", name=f"Open {number}").click()
        ticket = chloe.locator(f"section.ticket:has(h2:text-matches('^{number} '))")
        expect(ticket).to_contain_text("jams on every second page")
        expect(ticket).to_contain_text("Inbound call +49305550101")
    finally:
        context.close()

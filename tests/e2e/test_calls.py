"""Log a call in the console: the department's call form with a required field, the server's
message beside the field it names, the new case's number and its ticket view; then commitments
on it: a past due time refused with its message, committed, moved with why, and an overdue one
marked in my list and on the ticket; a task about the case, its reminder announced once sent."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select, update

from desk.db import SessionMaker
from desk.models import Commitment, Conversation, Department, Group, Task, utcnow
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


async def _late(sm: SessionMaker, number: str) -> None:
    """A commitment whose time has passed (written as if made days ago)."""
    async with sm() as s:
        conv = (await s.execute(select(Conversation).where(Conversation.number == number))
                ).scalar_one()
        assert conv.assignee_id is not None
        s.add(Commitment(conversation_id=conv.id, kind="Send a fuse", owner_id=conv.assignee_id,
                         due_at=utcnow() - timedelta(hours=3)))
        await s.commit()


async def _reminded(sm: SessionMaker) -> None:
    async with sm() as s:
        await s.execute(update(Task).values(reminded_at=utcnow()))
        await s.commit()


def test_log_a_call(browser: Browser, server: Server) -> None:
    server.run(_form)
    context, chloe = console(browser, server, "chloe@demo.switchboard.local")
    try:
        chloe.locator("#tab-phone").click()
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
        shots = os.environ.get("SWITCHBOARD_SCREENSHOTS")
        if shots:
            chloe.screenshot(path=Path(shots) / "console-log-a-call.png", full_page=True)
        form.get_by_role("button", name="Log the call").click()
        done = chloe.locator("#panel-phone [role=status]")
        expect(done).to_contain_text("Call logged as SB-")
        number = done.inner_text().split("as ")[1].split(".")[0]
        done.get_by_role("button", name=f"Open {number}").click()
        ticket = chloe.locator(f"section.ticket:has(h2:text-matches('^{number} '))")
        expect(ticket).to_contain_text("jams on every second page")
        expect(ticket).to_contain_text("Inbound call +49305550101")

        box = chloe.locator(f".ticket-box:has(h2:text-matches('^{number} ')) "
                            "details.ticket-commitments")
        box.get_by_label("Commit to", exact=True).fill("Call back")
        box.get_by_label("Due", exact=True).fill("2020-01-01T10:00")
        box.get_by_role("button", name="Commit", exact=True).click()
        expect(box.get_by_role("status")).to_contain_text("in the past")
        box.get_by_label("Due", exact=True).fill(f"{date.today() + timedelta(days=2)}T10:00")
        box.get_by_label("Customer sees it").check()
        box.get_by_role("button", name="Commit", exact=True).click()
        expect(box.get_by_role("status")).to_have_text("Committed")
        box.get_by_label("Why Call back moves").fill("the customer is out on Monday")
        box.get_by_label("New due time for Call back").fill(
            f"{date.today() + timedelta(days=3)}T10:00")
        box.get_by_role("button", name="Move").click()
        expect(box.locator(".changes")).to_contain_text("the customer is out on Monday")
        server.run(lambda sm: _late(sm, number))
        chloe.reload()
        expect(chloe.locator(".my-commitments li.overdue")).to_contain_text("Send a fuse")
        expect(chloe.locator(".my-commitments")).to_contain_text("Call back")

        tasks = chloe.locator("section[aria-labelledby=tasks-h]")
        tasks.get_by_text("New task").click()
        tasks.get_by_label("Task", exact=True).fill("Order the spare fuse")
        tasks.get_by_label("Remind me").fill(f"{date.today() + timedelta(days=1)}T09:00")
        tasks.get_by_label("About case").fill(number)
        tasks.get_by_role("button", name="Add task").click()
        expect(tasks.locator(".my-tasks")).to_contain_text("Order the spare fuse")
        expect(tasks.locator(".my-tasks").get_by_role("button", name=number)).to_be_visible()
        server.run(_reminded)  # as the worker does when the time comes
        chloe.reload()
        expect(chloe.locator("#workspace > p.notice")).to_have_text(
            "Reminder: Order the spare fuse")
        if shots:
            chloe.locator(".my-commitments button", has_text=number).first.click()
            expect(chloe.locator("details.ticket-commitments li.overdue")).to_be_visible()
            chloe.screenshot(path=Path(shots) / "console-commitments.png", full_page=True)
    finally:
        context.close()

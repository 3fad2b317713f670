"""The structured editors of the administration: a rule built from field / operator / value rows
(the API's message on the row it names), saved, and there again after a reload; an SLA policy's
conditions likewise; a department's inactivity ladder set step by step; a call-form field added
in the admin and then on the console's call log form. ``SWITCHBOARD_SCREENSHOTS=<dir>``
photographs the rule editor, the ladder and the call form."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select

from desk.db import SessionMaker
from desk.models import AutomationRule, Department, SlaPolicy
from tests.e2e.conftest import Server
from tests.e2e.pages import TIMEOUT_MS, console
from tests.e2e.test_admin import admin_page, records, shoot

pytestmark = pytest.mark.e2e


def _rows(page: Page, field: str) -> Locator:
    return page.locator(f"form.edit [data-field={field}] li.cx-row")


def test_rule_built_with_rows_saved_and_reloaded(browser: Browser, server: Server) -> None:
    page = admin_page(browser, server, "rules")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.get_by_role("button", name="New rule").click()
    form = page.get_by_role("form", name="New rule")
    form.locator("[data-field=name] input").fill("Urgent mail from VIPs")
    form.locator("[data-field=event] select").select_option("customer_replied")
    expect(form.locator("[data-field=params]")).to_contain_text("takes no parameters")
    form.get_by_role("button", name="Add condition").click()
    first = _rows(page, "conditions").nth(0)
    first.get_by_label("Condition field").select_option("priority")
    first.get_by_label("Condition values").fill("high")
    actions = _rows(page, "actions")
    actions.nth(0).get_by_label("Action value").fill("vip")  # the default row: add tag
    form.get_by_role("button", name="Add action").click()
    actions.nth(1).get_by_label("Action", exact=True).select_option("set_priority")
    actions.nth(1).get_by_label("Action value").fill("1")
    form.get_by_role("button", name="Create rule").click()
    # The API's own message, on the row it names.
    expect(first.locator(".cx-error")).to_have_text("conditions[0].value must be 1..50 values")
    first.get_by_label("Condition field").select_option("channel")
    first.get_by_label("Condition values").fill("email, web")
    form.get_by_role("button", name="Add condition").click()
    second = _rows(page, "conditions").nth(1)
    second.get_by_label("Condition field").select_option("tag")
    second.get_by_label("Condition operator").select_option("not_in")
    second.get_by_label("Condition values").fill("spam")
    form.get_by_role("button", name="Create rule").click()
    expect(records(page, "rules").filter(has_text="Urgent mail from VIPs")).to_have_count(1)

    async def stored(sm: SessionMaker) -> dict[str, object]:
        async with sm() as s:
            row = (await s.execute(select(AutomationRule).where(
                AutomationRule.name == "Urgent mail from VIPs"))).scalar_one()
            return dict(row.definition)

    definition = server.run(stored)
    assert definition["event"] == "customer_replied"
    assert definition["conditions"] == [
        {"field": "channel", "op": "in", "value": ["email", "web"]},
        {"field": "tag", "op": "not_in", "value": ["spam"]}]
    assert definition["actions"] == [{"type": "add_tag", "value": "vip"},
                                     {"type": "set_priority", "value": 1}]
    page.reload()
    expect(page.locator("main[data-page=rules]")).to_be_attached(timeout=TIMEOUT_MS)
    row = records(page, "rules").filter(has_text="Urgent mail from VIPs")
    expect(row).to_contain_text("add tag, set priority")
    row.get_by_role("button", name="Edit").click()
    form = page.get_by_role("form", name="Edit rule Urgent mail from VIPs")
    expect(form.locator("[data-field=event] select")).to_have_value("customer_replied")
    expect(_rows(page, "conditions")).to_have_count(2)
    expect(_rows(page, "conditions").nth(0).get_by_label("Condition values")).to_have_value(
        "email, web")
    expect(_rows(page, "conditions").nth(1).get_by_label("Condition operator")).to_have_value(
        "not_in")
    expect(_rows(page, "actions").nth(1).get_by_label("Action value")).to_have_value("1")
    # A timed event asks for its own parameters.
    form.locator("[data-field=event] select").select_option("idle")
    form.get_by_label("seconds").fill("30")
    form.get_by_role("button", name="Save").click()
    expect(form.locator("[data-field=params] .field-error")).to_have_text(
        "params.seconds must be 60..31536000")
    form.get_by_label("seconds").fill("3600")
    form.get_by_role("button", name="Save").click()
    expect(form.locator("[role=status]").last).to_have_text("Saved.")
    shoot(page, "rule-editor")
    assert server.run(stored)["params"] == {"seconds": 3600}
    assert not errors


def test_policy_conditions_as_rows(browser: Browser, server: Server) -> None:
    page = admin_page(browser, server, "sla")
    page.get_by_role("button", name="New policy").click()
    form = page.get_by_role("form", name="New policy")
    form.locator("[data-field=name] input").fill("Chats of gold customers")
    form.get_by_label("First response (minutes)").fill("5")
    form.get_by_role("button", name="Add condition").click()
    row = _rows(page, "conditions").nth(0)
    row.get_by_label("Condition field").select_option("channels")
    row.get_by_label("chat", exact=True).check()
    form.get_by_role("button", name="Add condition").click()
    tiers = _rows(page, "conditions").nth(1)
    tiers.get_by_label("Condition field").select_option("tiers")
    tiers.get_by_label("Condition values").fill("gold")
    form.get_by_role("button", name="Create policy").click()
    expect(tiers.locator(".cx-error")).to_contain_text("conditions.tiers must be a list")
    tiers.get_by_label("Condition values").fill("1, 2")
    form.get_by_role("button", name="Create policy").click()
    expect(records(page, "policies").filter(has_text="Chats of gold customers")).to_have_count(1)

    async def stored(sm: SessionMaker) -> object:
        async with sm() as s:
            return (await s.execute(select(SlaPolicy.conditions).where(
                SlaPolicy.name == "Chats of gold customers"))).scalar_one()

    assert server.run(stored) == {"channels": ["chat"], "tiers": [1, 2]}


def test_ladder_set_per_department(browser: Browser, server: Server) -> None:
    page = admin_page(browser, server, "ladder")
    page.get_by_label("Department").select_option(label="Support")
    form = page.get_by_role("form", name="Inactivity ladder of Support")
    standard = form.get_by_label("The standard ladder", exact=False)
    expect(standard).to_be_checked()
    standard.uncheck()
    steps = form.locator("li.cx-row")
    expect(steps).to_have_count(3)  # the standard steps, to start from
    steps.nth(2).get_by_role("button", name="Remove this row").click()
    steps.nth(1).get_by_label("Days of silence").fill("3")
    steps.nth(0).get_by_label("Days of silence").fill("5")
    steps.nth(1).get_by_label("Then").select_option("close")
    form.get_by_role("button", name="Save").click()
    expect(steps.nth(1).locator(".cx-error")).to_have_text(
        "ladder[1].days must be after the step before it")
    steps.nth(0).get_by_label("Days of silence").fill("2")
    steps.nth(0).get_by_label("Mail text").fill("Any news on {number}? Answer here: {link}")
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_role("status")).to_have_text("Saved.")
    shoot(page, "ladder")

    async def ladder(sm: SessionMaker) -> object:
        async with sm() as s:
            return (await s.execute(select(Department.ladder).where(
                Department.name == "Support"))).scalar_one()

    assert server.run(ladder) == [
        {"days": 2, "action": "remind", "text": "Any news on {number}? Answer here: {link}"},
        {"days": 3, "action": "close"}]
    page.reload()
    expect(page.locator("main[data-page=ladder]")).to_be_attached(timeout=TIMEOUT_MS)
    page.get_by_label("Department").select_option(label="Support")
    form = page.get_by_role("form", name="Inactivity ladder of Support")
    expect(form.get_by_label("The standard ladder", exact=False)).not_to_be_checked()
    expect(form.locator("li.cx-row").nth(1).get_by_label("Then")).to_have_value("close")
    form.get_by_label("The standard ladder", exact=False).check()
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_role("status")).to_have_text("Saved.")
    assert server.run(ladder) is None


def test_call_form_field_added_then_on_the_call_log(browser: Browser, server: Server) -> None:
    page = admin_page(browser, server, "callform")
    page.get_by_label("Department").select_option(label="Support")
    form = page.get_by_role("form", name="Call form of Support")
    form.get_by_role("button", name="Add field").click()
    field = form.locator("li.fb-field").last
    field.get_by_label("Field name").fill("contract number")
    field.get_by_label("Question").fill("Contract number")
    field.get_by_label("Required").check()
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_role("alert")).to_contain_text("fields[0]: a field has a name of 1 to 64")
    field.get_by_label("Field name").fill("contract_number")
    form.get_by_role("button", name="Add field").click()
    reason = form.locator("li.fb-field").last
    reason.get_by_label("Field name").fill("reason")
    reason.get_by_label("Question").fill("Reason")
    reason.get_by_label("Field type").select_option("select")
    reason.get_by_label("Choices, one per line").fill("billing\nfault")
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_role("status")).to_have_text("Saved.")
    shoot(page, "callform")
    context, chloe = console(browser, server, "chloe@demo.switchboard.local")
    try:
        chloe.locator("#tab-phone").click()
        call = chloe.locator("form.call-form")
        call.get_by_label("Group").select_option(label="Support L1")
        expect(call.get_by_label("Contract number *")).to_be_visible()
        expect(call.get_by_label("Reason")).to_contain_text("fault")
    finally:
        context.close()

"""The administration pages in a browser: an admin creates a mailbox and tests it against a real
Dovecot, creates an agent who then logs in, builds a form the widget then shows; every page
shows the API's own message beside the field it blames. ``SWITCHBOARD_SCREENSHOTS=<dir>`` also
photographs every page."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select

from desk.db import SessionMaker
from desk.models import Conversation
from tests.e2e.conftest import Server, login
from tests.e2e.pages import (
    TIMEOUT_MS,
    chat_pane,
    console,
    new_page,
    open_widget,
    start_chat,
    take_next_chat,
)
from tests.support.dovecot import Dovecot, running

pytestmark = pytest.mark.e2e
ADMIN = "admin@demo.switchboard.local"


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running() as server:
        yield server


def admin_page(browser: Browser, server: Server, page_id: str) -> Page:
    _, page = new_page(browser, viewport={"width": 1280, "height": 900})
    login(page, server, "/admin", ADMIN)
    goto(page, page_id)
    return page


def goto(page: Page, page_id: str) -> None:
    page.locator(f".admin-nav a[data-page={page_id}]").click()
    # Each page asks the API for its lists first: on a loaded machine that takes a while.
    expect(page.locator(f"main[data-page={page_id}]")).to_be_attached(timeout=TIMEOUT_MS)


def records(page: Page, list_id: str) -> Locator:
    return page.locator(f"section[aria-labelledby={list_id}-title] tbody tr")


def shoot(page: Page, name: str) -> None:
    out = os.environ.get("SWITCHBOARD_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(out) / f"admin-{name}.png", full_page=True)


def test_mailbox_created_and_tested_against_dovecot(browser: Browser, server: Server,
                                                    dovecot: Dovecot) -> None:
    dovecot.deliver(b"From: olivia@acme.example\r\nTo: support@example.org\r\n"
                    b"Subject: hello\r\nMessage-ID: <m1@acme.example>\r\n\r\nHi\r\n")
    page = admin_page(browser, server, "mailboxes")
    page.get_by_role("button", name="New mailbox").click()
    form = page.locator("form.edit")
    form.get_by_label("Department").select_option(label="Support")
    form.get_by_label("IMAP host").fill("127.0.0.1")
    form.get_by_label("Port").fill("not a port")
    form.get_by_label("Security").select_option("none")
    form.get_by_label("User name").fill(dovecot.user)
    form.get_by_label("Password").fill(dovecot.password)
    form.get_by_role("button", name="Create mailbox").click()
    # The API's message, beside the field it names.
    expect(form.locator("[data-field=port] .field-error")).to_have_text("port must be an integer")
    form.get_by_label("Port").fill(str(dovecot.port))
    form.get_by_role("button", name="Create mailbox").click()
    row = records(page, "mailboxes")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"{dovecot.user}@127.0.0.1:{dovecot.port}")
    row.get_by_role("button", name="Test connection").click()
    expect(page.locator(".test-result.ok")).to_contain_text("1 messages", timeout=TIMEOUT_MS)
    shoot(page, "mailboxes")

    # A wrong password: the server's own answer, and the saved one is never shown.
    row.get_by_role("button", name="Edit").click()
    expect(page.locator("form.edit [data-field=password] .hint")).to_contain_text(
        "A password is set")
    page.locator("form.edit").get_by_label("Password").fill("wrong-password")
    page.locator("form.edit").get_by_role("button", name="Save").click()
    expect(page.locator("form.edit [role=status]")).to_have_text("Saved.")
    row.get_by_role("button", name="Test connection").click()
    expect(page.locator(".test-result.error")).to_contain_text("Failed:", timeout=TIMEOUT_MS)
    expect(page.locator(".test-result.error")).to_contain_text("uthentication failed")


def test_agent_created_then_logs_in(browser: Browser, server: Server) -> None:
    page = admin_page(browser, server, "agents")
    page.get_by_role("button", name="New agent").click()
    form = page.locator("form.edit")
    form.get_by_label("Email (login)").fill("nora@demo.switchboard.local")
    form.get_by_label("Password").fill("nora-password-123")
    form.get_by_label("Display name").fill("Nora")
    form.get_by_label("Chats at once").fill("99")
    form.get_by_role("button", name="Create agent").click()
    expect(form.locator("[data-field=chat_capacity] .field-error")).to_have_text(
        "chat_capacity must be between 0 and 50")
    form.get_by_label("Chats at once").fill("4")
    form.locator("[data-field=group_ids]").get_by_label("Sales (Sales)").check()
    form.get_by_role("button", name="Add skill").click()
    form.locator(".skills-editor select").select_option(index=1)
    form.locator(".skills-editor input").fill("7")
    form.get_by_role("button", name="Create agent").click()
    row = records(page, "agents").filter(has_text="nora@demo.switchboard.local")
    expect(row).to_contain_text("4 chats, 10 tickets")
    expect(row).to_contain_text(" 7")
    shoot(page, "agents")

    _, nora = new_page(browser)
    nora.goto(server.url + "/console")
    nora.fill("#login-email", "nora@demo.switchboard.local")
    nora.fill("#login-password", "nora-password-123")
    nora.click("button[type=submit]")
    expect(nora.locator(".me")).to_have_text("Nora")
    expect(nora.get_by_role("link", name="Administration")).to_have_count(0)


def test_form_built_in_the_admin_is_the_widgets_form(browser: Browser, server: Server) -> None:
    page = admin_page(browser, server, "sites")
    records(page, "sites").filter(has_text="Demo").get_by_role("button", name="Edit").click()
    form = page.locator("form.edit")
    builder = form.locator(".form-builder")
    builder.get_by_label("Title").fill("Talk to Demo Shop")
    builder.get_by_label("Greeting above the form").fill("Hello! Ask us anything.")
    builder.get_by_label("Own colour").check()
    builder.get_by_label("Accent colour").fill("#aa3300")
    # A question for everyone: a choice, at first without choices (the server's message).
    common = builder.locator("fieldset", has=page.locator(
        "legend", has_text="Questions for everyone"))
    common.get_by_role("button", name="Add field").click()
    new = common.locator("li.fb-field").last
    new.get_by_label("Field name").fill("plan")
    new.get_by_label("Question").fill("Your plan")
    new.get_by_label("Field type").select_option("select")
    new.get_by_label("Required").check()
    form.get_by_role("button", name="Save").click()
    expect(form.locator("[data-field=config] .field-error")).to_contain_text(
        "config.fields[2]: a select needs options")
    new.get_by_label("Choices, one per line").fill("Basic\nPro")
    # A dated question on the topic "Help with an order".
    topic = builder.locator("li.fb-topic[data-topic=help]")
    topic.get_by_role("button", name="Add field").click()
    asked = topic.locator("li.fb-field").last
    asked.get_by_label("Field name").fill("bought_on")
    asked.get_by_label("Question").fill("Bought on")
    asked.get_by_label("Field type").select_option("date")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("form.edit [role=status]")).to_have_text("Saved.")
    shoot(page, "sites")

    _, visitor = new_page(browser, viewport={"width": 1100, "height": 800})
    visitor.goto(server.url + "/demo")
    visitor.locator("button.launch").click()
    expect(visitor.locator("#sb-title")).to_have_text("Talk to Demo Shop")
    expect(visitor.locator(".greeting")).to_have_text("Hello! Ask us anything.")
    visitor.select_option("#sb-dept", label="Support")
    visitor.select_option("#sb-topic-0", label="Help with an order")
    expect(visitor.locator("#sb-f-q-bought_on")).to_have_attribute("type", "date")
    visitor.fill("#sb-f-q-order", "1042")
    visitor.fill("#sb-f-q-bought_on", "2026-11-20")
    visitor.fill("#sb-f-name", "Vera")
    visitor.fill("#sb-f-email", "vera@example.org")
    visitor.fill("#sb-f-text", "It arrived broken.")
    shoot(visitor, "sites-widget")
    visitor.locator("form.form button[type=submit]").click()
    expect(visitor.locator("#sb-panel [role=alert]")).to_contain_text("Your plan")
    visitor.select_option("#sb-f-plan", "Pro")
    visitor.locator("form.form button[type=submit]").click()
    expect(visitor.locator(".done")).to_contain_text("Thanks, we got your message.")
    answers = server.run(_latest_answers)
    assert {k: answers[k] for k in ("plan", "bought_on", "order")} == {
        "plan": "Pro", "bought_on": "2026-11-20", "order": "1042"}


async def _latest_answers(sm: SessionMaker) -> dict[str, str]:
    async with sm() as s:
        row = (await s.execute(select(Conversation).order_by(Conversation.id.desc()))
               ).scalars().first()
    assert row is not None
    stored = row.custom_fields or {}
    return {**stored, **stored.get("answers", {})}


PAGES = ("departments", "agents", "sites", "mailboxes", "canned", "sla", "ladder", "callform",
         "rules", "contracts")


def test_every_page_opens_and_shows_the_apis_messages(browser: Browser, server: Server) -> None:
    page = admin_page(browser, server, "departments")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    for name in PAGES:
        goto(page, name)
        expect(page.locator("main .resource").first).to_be_visible()
        expect(page.locator("main [role=status]").first).not_to_have_text("Loading…")
    goto(page, "sla")
    page.get_by_role("button", name="New calendar").click()
    form = page.locator("form.edit")
    form.locator("[data-field=name] input").fill("Office hours")
    form.get_by_label("Time zone").fill("Mars/Olympus")
    form.get_by_role("button", name="Create calendar").click()
    expect(form.locator("[data-field=timezone] .field-error")).to_have_text(
        "timezone 'Mars/Olympus' is not a known IANA time zone")
    form.get_by_label("Time zone").fill("Europe/Berlin")
    form.get_by_label("Friday hours").fill("09:00-13:00")
    form.get_by_role("button", name="Create calendar").click()
    expect(records(page, "calendars").filter(has_text="fri 09:00-13:00")).to_have_count(1)
    page.get_by_role("button", name="New policy").click()
    form = page.get_by_role("form", name="New policy")
    form.locator("[data-field=name] input").fill("Email in a day")
    form.get_by_label("Calendar").select_option(label="Office hours")
    form.get_by_label("First response (minutes)").fill("0")
    form.get_by_role("button", name="Create policy").click()
    expect(form.locator("[data-field=targets] .field-error")).to_contain_text(
        "targets.first_response must be between 60 seconds")
    form.get_by_label("First response (minutes)").fill("480")
    form.get_by_role("button", name="Create policy").click()
    expect(records(page, "policies").filter(has_text="First response: 480 min")).to_have_count(1)
    goto(page, "canned")
    page.get_by_role("button", name="New canned response").click()
    form = page.locator("form.edit")
    form.get_by_label("Department").select_option(label="Support")
    form.get_by_label("Shortcut").fill("thanks")
    form.get_by_label("Title").fill("Thanks")
    form.get_by_label("Text").fill("Thanks {{contact.name}}, this is {{agent.name}} on "
                                   "{{conversation.number}}.")
    form.get_by_role("button", name="Create canned response").click()
    expect(records(page, "canned").filter(has_text="/thanks")).to_have_count(1)
    goto(page, "rules")
    page.get_by_role("button", name="New rule").click()
    form = page.locator("form.edit")
    form.locator("[data-field=name] input").fill("Tag VIP mail")
    form.get_by_role("button", name="Add condition").click()
    row = form.locator("[data-field=conditions] li.cx-row").first
    row.get_by_label("Condition field").select_option("priority")
    row.get_by_label("Condition values").fill("urgent")
    form.get_by_role("button", name="Create rule").click()
    expect(row.locator(".cx-error")).to_have_text("conditions[0].value must be 1..50 values")
    row.get_by_label("Condition field").select_option("channel")
    row.get_by_label("Condition values").fill("email")
    form.get_by_role("button", name="Create rule").click()
    expect(records(page, "rules").filter(has_text="Tag VIP mail")).to_have_count(1)
    assert not errors
    if os.environ.get("SWITCHBOARD_SCREENSHOTS"):
        for name in PAGES:
            if name in ("agents", "sites", "mailboxes", "ladder", "callform"):
                continue  # photographed with their records by their own tests
            goto(page, name)
            expect(page.locator("main [role=status]").first).not_to_have_text("Loading…")
            if name in ("departments", "sla", "rules", "canned"):  # with an edit form open
                page.locator("main tbody tr").first.get_by_role("button", name="Edit").click()
            shoot(page, name)


def test_department_gets_its_own_smtp_relay(browser: Browser, server: Server) -> None:
    page = admin_page(browser, server, "departments")
    records(page, "departments").filter(has_text="Support").get_by_role(
        "button", name="Edit").click()
    form = page.locator("form.edit")
    form.get_by_label("Send this department's mail through its own SMTP server").check()
    form.get_by_label("SMTP host").fill("smtp.support.example")
    form.get_by_label("SMTP user name").fill("desk")
    form.get_by_role("button", name="Save").click()
    expect(form.locator("[data-field=smtp] .field-error")).to_have_text(
        "smtp.password is required with a username")
    form.get_by_label("SMTP password").fill("relay-secret")
    form.get_by_role("button", name="Save").click()
    expect(records(page, "departments").filter(has_text="smtp.support.example:587")
           ).to_have_count(1)
    expect(page.locator("form.edit").get_by_label("SMTP password")).to_have_attribute(
        "placeholder", "set: leave empty to keep it")
    assert "relay-secret" not in page.content()


def test_canned_variables_are_filled_in_where_the_console_inserts(
        browser: Browser, server: Server) -> None:
    page = admin_page(browser, server, "canned")
    page.get_by_role("button", name="New canned response").click()
    form = page.locator("form.edit")
    form.get_by_label("Department").select_option(label="Sales")
    form.get_by_label("Shortcut").fill("thanks")
    form.get_by_label("Title").fill("Thanks")
    form.get_by_label("Text").fill("Thanks {{contact.name}}, this is {{agent.name}} on "
                                   "{{conversation.number}}. {{unknown.thing}}")
    form.get_by_role("button", name="Create canned response").click()
    expect(records(page, "canned").filter(has_text="/thanks")).to_have_count(1)

    _, agent = console(browser, server, "ana@demo.switchboard.local")
    _, visitor = new_page(browser)
    open_widget(visitor, server)
    start_chat(visitor, "Is the duck in stock?", name="Vera Visitor", subject="Stock question")
    cid = take_next_chat(agent)
    pane = chat_pane(agent, cid)
    expect(pane).to_contain_text("Vera Visitor")  # the conversation (and its contact) loaded
    number = pane.locator("h2").first.inner_text().strip()
    composer = pane.locator("textarea.compose")
    composer.press_sequentially("/than")
    composer.press("Tab")
    expect(composer).to_have_value(
        f"Thanks Vera Visitor, this is Ana on {number}. {{{{unknown.thing}}}}")

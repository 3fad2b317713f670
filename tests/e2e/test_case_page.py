"""The customer's case page in Chromium, end to end with the real worker and an aiosmtpd sink:
a case filed on the web new-case page -> confirmation mail -> its link opens the thread -> the
customer replies there -> the agent sees it live in the console -> the agent replies -> the
"new activity" mail (the department is link-only) -> its link -> the customer closes and rates
-> the supervisor sees the rating. With SWITCHBOARD_SCREENSHOTS=<dir>, photographs the page at
desktop and phone width."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select, update

from desk.contacts import new_visitor
from desk.conversations import append_message, create_conversation
from desk.db import SessionMaker
from desk.models import Department, SlaPolicy, utcnow
from desk.portal import case_link
from desk.seed import DEMO_SITE_KEY
from desk.settings import Settings
from tests.e2e.conftest import Server
from tests.e2e.pages import console, new_page
from tests.support.smtp_sink import Sink, running_sink

pytestmark = pytest.mark.e2e

WORKER = ("-c", "import os; from desk.settings import Settings; from ingest import worker; "
          "worker.run(Settings.from_env(os.environ))")
CUSTOMER = "olga@example.org"


@pytest.fixture
def mail(server: Server) -> Iterator[Sink]:
    """An SMTP sink and the real mail worker sending into it."""
    with running_sink(Sink()) as sink:
        server.env.update({"SWITCHBOARD_SMTP_HOST": "127.0.0.1",
                           "SWITCHBOARD_SMTP_PORT": str(sink.port)})
        server.start(*WORKER)
        yield sink


def _mails_to(sink: Sink, address: str) -> list[str]:
    out = []
    for env in list(sink.messages):
        if env.rcpt_tos != [address]:
            continue
        content = env.content or b""
        assert isinstance(content, bytes)
        msg = message_from_bytes(content, policy=default)
        assert isinstance(msg, EmailMessage)
        part = msg.get_body(("plain",))
        assert isinstance(part, EmailMessage)
        out.append(str(part.get_content()))
    return out


def _next_mail(sink: Sink, address: str, seen: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mails = _mails_to(sink, address)
        if len(mails) > seen:
            return mails[seen]
        time.sleep(0.2)
    raise AssertionError(f"no mail #{seen + 1} to {address}")


def _case_link(text: str) -> str:
    (url,) = re.findall(r"https?://\S+/c/SB-\d+\?t=\S+", text)
    return str(url)


async def _link_only(sm: SessionMaker) -> None:
    async with sm() as s:
        await s.execute(update(Department).where(Department.name == "Support")
                        .values(notify_mode="link"))
        await s.commit()


async def service_level(sm: SessionMaker) -> None:
    """Support answers within four hours, around the clock (no calendar: 24/7), so what the
    customer is told does not depend on when the test runs."""
    async with sm() as s:
        dept = (await s.execute(select(Department.id).where(Department.name == "Support"))
                ).scalar_one()
        s.add(SlaPolicy(name="Support", department_id=dept,
                        targets={"first_response": 4 * 3600}))
        await s.commit()


def _file_a_case(page: Page, server: Server, shots: str | None) -> str:
    page.goto(f"{server.url}/c/new?site={DEMO_SITE_KEY}")
    page.select_option("#nc-dept", label="Support")
    page.select_option("#nc-topic", label="Help with an order")
    page.fill("#nc-f-order", "A-1042")
    page.fill("#nc-name", "Olga")
    page.fill("#nc-email", CUSTOMER)
    page.fill("#nc-text", "The kettle I ordered arrived cracked.")
    if shots:
        page.screenshot(path=Path(shots) / "case-new.png", full_page=True)
    page.get_by_role("button", name="Send").click()
    done = page.locator("section.done")
    expect(done).to_contain_text("Your case number is SB-")
    expect(done.locator(".site-notice")).to_contain_text("We answer within one working day")
    expect(done.locator(".expected")).to_have_text("We will answer within 4 hours.")
    return done.locator(".number").inner_text()


def test_case_page_from_mail_to_rating(browser: Browser, server: Server, mail: Sink) -> None:
    shots = os.environ.get("SWITCHBOARD_SCREENSHOTS")
    server.run(_link_only)
    server.run(service_level)
    agent_ctx, chloe = console(browser, server, "chloe@demo.switchboard.local")
    customer_ctx, customer = new_page(browser, viewport={"width": 1100, "height": 820})
    sup_ctx, sam = console(browser, server, "sam@demo.switchboard.local", groups_on=False)
    try:
        number = _file_a_case(customer, server, shots)
        if shots:
            customer.screenshot(path=Path(shots) / "case-new-done.png")
        confirmation = _next_mail(mail, CUSTOMER, 0)
        assert number in confirmation and "We will answer within 4 hours." in confirmation
        customer.goto(_case_link(confirmation))
        expect(customer.locator("h1.number")).to_have_text(number)
        expect(customer.locator(".head .expected")).to_have_text("We will answer within 4 hours.")
        if shots:
            customer.screenshot(path=Path(shots) / "case-page-expected.png")
        expect(customer.locator(".thread .msg .text")).to_have_text(
            ["The kettle I ordered arrived cracked."])
        assert "?t=" not in customer.url  # the token left the address bar
        expect(customer.locator(".live")).to_have_text("Live")

        card = chloe.locator(".offer", has_text=number)
        cid = int(card.get_attribute("data-conversation") or "0")
        card.get_by_role("button", name="Accept").click()
        view = chloe.locator(f'section.ticket[data-ticket="{cid}"]')
        expect(view.locator(".log .msg .body")).to_have_count(1)

        customer.fill("#reply-text", "Photos of the crack are on their way.")
        customer.get_by_role("button", name="Send reply").click()
        # Live in the console: no reload of the ticket view.
        expect(view.locator(".log .msg .body").last).to_have_text(
            "Photos of the crack are on their way.")

        view.locator("textarea").fill("So sorry! A new kettle ships today.")
        view.locator("button[type=submit]").click()
        expect(customer.locator(".thread .msg .text").last).to_have_text(
            "So sorry! A new kettle ships today.")
        expect(customer.locator(".head")).to_contain_text("Handled by Chloé")
        expect(customer.locator(".head .expected")).to_be_hidden()  # answered: no promise left
        if shots:
            customer.screenshot(path=Path(shots) / "case-page-desktop.png", full_page=True)

        activity = _next_mail(mail, CUSTOMER, 1)
        assert "new activity" in activity and "new kettle" not in activity
        phone_ctx, phone = new_page(browser, viewport={"width": 390, "height": 780},
                                    is_mobile=True, has_touch=True, device_scale_factor=2)
        try:
            phone.goto(_case_link(activity))
            expect(phone.locator(".thread .msg .text")).to_have_count(3)
            if shots:
                phone.screenshot(path=Path(shots) / "case-page-mobile.png", full_page=True)
            phone.get_by_role("button", name="Close the case").click()
            survey = phone.locator("#survey")
            expect(survey).to_contain_text("How did we do?")
            survey.get_by_label("5 (excellent)").check()
            survey.locator("textarea").fill("Fast and friendly.")
            survey.get_by_role("button", name="Send rating").click()
            expect(survey).to_contain_text("You rated this case 5 of 5.")
            if shots:
                phone.screenshot(path=Path(shots) / "case-page-mobile-rated.png",
                                 full_page=True)
        finally:
            phone_ctx.close()
        expect(customer.locator(".head .badge")).to_have_text("Closed")  # live, on the desktop

        # The supervisor reads the rating in the ticket view; the agent does not get it.
        sam.locator('[data-tab="tickets"]').click()
        sam.select_option("#f-status", "closed")
        sam.select_option("#f-channel", "portal")
        sam.get_by_role("button", name=number, exact=True).click()
        facts = sam.locator(f'section.ticket[data-ticket="{cid}"] .facts')
        expect(facts).to_contain_text("5 of 5 — Fast and friendly.")
    finally:
        agent_ctx.close()
        customer_ctx.close()
        sup_ctx.close()


async def _markup_case(sm: SessionMaker, settings: Settings) -> str:
    """A case whose first message is markup, and its contact's link to it."""
    contact = await new_visitor(sm, name="<b>Mallory</b>", email="m@example.org")
    conv = await create_conversation(sm, channel="portal", contact_id=contact.id,
                                     subject="<i>subject</i>")
    await append_message(sm, conv.id, author_kind="contact", body=MARKUP)
    return case_link(settings, contact, conv.number, utcnow())


MARKUP = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'


def test_the_thread_is_text_under_a_strict_policy(browser: Browser, server: Server) -> None:
    link = server.run(lambda sm: _markup_case(sm, server.settings))
    context, page = new_page(browser)
    try:
        response = page.goto(link)
        assert response is not None
        assert "script-src 'self'" in response.headers["content-security-policy"]
        expect(page.locator(".thread .msg .text")).to_have_text([MARKUP])
        expect(page.locator(".thread img, .thread script")).to_have_count(0)
        assert page.evaluate("window.pwned") is None
        expect(page.locator(".live")).to_have_text("Live")  # the socket passes the policy
    finally:
        context.close()


def test_a_tampered_link_shows_no_case(browser: Browser, server: Server) -> None:
    context, page = new_page(browser)
    try:
        page.goto(f"{server.url}/c/SB-1234567?t=v1.e30.AAAA")
        expect(page.locator("h1")).to_have_text("This link does not open a case")
        expect(page.locator(".thread")).to_have_count(0)
        expect(page.locator("#signin-email")).to_be_visible()
    finally:
        context.close()

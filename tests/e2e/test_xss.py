"""Stored-XSS corpus sent through the widget: shown as text everywhere, never executed."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from desk.conversations import append_message
from desk.db import SessionMaker
from desk.models import Attachment, Message
from tests.e2e.conftest import Server, login
from tests.e2e.pages import (
    agent_says,
    bodies,
    chat_pane,
    console,
    new_page,
    open_widget,
    take_next_chat,
    visitor_says,
)

pytestmark = pytest.mark.e2e

CORPUS = [
    '<img src=x onerror="window.__xss=1;alert(1)">',
    "<script>window.__xss=1</script>",
    '<a href="javascript:window.__xss=1">click me</a> javascript:window.__xss=1',
    "<details open ontoggle=window.__xss=1><summary>x</summary></details>",
    '"><svg onload=window.__xss=1><iframe src="javascript:alert(1)"></iframe>',
    "<b>bold</b> &amp; &lt;not an entity&gt; {{7*7}} ${7*7}",
]
NAME = '<img src=x onerror="window.__xss=1">Mallory'
FILENAME = '<img src=x onerror=window.__xss=1>../../evil.svg'


def _guard(page: Page, dialogs: list[str]) -> None:
    def seen(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", seen)


def _clean(page: Page) -> None:
    assert page.evaluate("() => window.__xss") is None
    # No element the corpus could have produced exists anywhere in the page or the widget.
    assert page.evaluate("""() => {
        const roots = [document, document.querySelector('switchboard-widget')?.shadowRoot]
            .filter(Boolean);
        // The console's own disclosure widgets (search filters, timeline) are <details> too:
        // the corpus's one is told apart by its handler.
        const made = 'img,script:not([src]),svg,iframe,details[ontoggle],[onerror],[onload]';
        return roots.flatMap(r => [...r.querySelectorAll(made)]).map(e => e.outerHTML);
    }""") == []


def test_xss_corpus_renders_as_text_and_never_runs(browser: Browser, server: Server) -> None:
    dialogs: list[str] = []
    agent_ctx, agent = console(browser, server, "ana@demo.switchboard.local")
    visitor_ctx, visitor = new_page(browser)
    sup_ctx, sup = new_page(browser, viewport={"width": 1280, "height": 900})
    for page in (agent, visitor, sup):
        _guard(page, dialogs)
    try:
        open_widget(visitor, server)
        visitor.select_option("#sb-dept", label="Sales")
        visitor.select_option("#sb-topic-0", label="Buying")
        visitor.select_option("#sb-topic-1", label="Get a quote")
        visitor.fill("#sb-f-q-company", CORPUS[0])
        visitor.fill("#sb-f-name", NAME)
        visitor.fill("#sb-f-text", CORPUS[1])
        visitor.locator("form.form button[type=submit]").click()
        for line in CORPUS[2:]:
            visitor_says(visitor, line)

        cid = take_next_chat(agent)
        pane = chat_pane(agent, cid)
        expect(pane.locator(".log .msg.contact .body")).to_have_count(len(CORPUS) - 1)
        assert bodies(pane.locator(".log .msg.contact .body")) == \
            [" ".join(line.split()) for line in CORPUS[1:]]
        expect(pane.locator(".facts")).to_contain_text(NAME)
        expect(pane.locator(".facts")).to_contain_text(CORPUS[0])

        # The agent's reply with markup reaches the visitor as text too.
        agent_says(agent, cid, CORPUS[4])
        expect(visitor.locator(".msg.them p")).to_have_text([CORPUS[4]])

        # A hostile attachment name (stored by email import, say) is shown as a download.
        server.run(lambda sm: _attach(sm, cid))
        agent.get_by_role("tab", name="Tickets").click()
        agent.select_option("#f-channel", "chat")
        agent.locator("table.grid button.link").first.click()
        link = agent.locator("section.ticket .msg-files a")
        expect(link).to_have_text(FILENAME)
        assert link.get_attribute("download") == ""
        assert (link.get_attribute("href") or "").startswith("/api/attachments/")

        login(sup, server, "/supervisor", "sam@demo.switchboard.local")
        sup.locator(f'tr[data-conversation="{cid}"]').get_by_role("button", name="Monitor").click()
        expect(chat_pane(sup, cid).locator(".log .msg .body")).to_have_count(len(CORPUS))

        visitor.wait_for_timeout(300)
        for page in (agent, visitor, sup):
            _clean(page)
        assert dialogs == []
    finally:
        sup_ctx.close()
        visitor_ctx.close()
        agent_ctx.close()


async def _attach(sm: SessionMaker, cid: int) -> None:
    msg, _ = await append_message(sm, cid, author_kind="contact", body=FILENAME)
    async with sm() as s:
        att = Attachment(conversation_id=cid, message_id=msg.id,
                         storage_key=secrets.token_hex(16), filename=FILENAME,
                         content_type="application/octet-stream", size=42)
        s.add(att)
        await s.flush()
        row = await s.get(Message, msg.id)
        assert row is not None
        row.files = [{"id": att.id, "name": FILENAME, "size": 42,
                      "type": "application/octet-stream", "preview": False}]
        await s.commit()

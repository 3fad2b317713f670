"""Files both ways in the browser: the visitor attaches an image in the widget, the agent sees
its preview in the console and sends a PDF back, which the visitor downloads; an over-limit
file is refused in the page before any upload. The same on the customer's case page, with the
agent answering from the console's ticket view."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from desk.contacts import new_visitor
from desk.conversations import append_message, create_conversation
from desk.db import SessionMaker
from desk.models import Department, utcnow
from desk.portal import case_link
from desk.settings import Settings
from tests.e2e.conftest import Server
from tests.e2e.pages import chat_pane, console, new_page, open_widget, start_chat, take_next_chat

pytestmark = pytest.mark.e2e



def png(width: int = 160, height: int = 100) -> bytes:
    """A real PNG (a gradient), so the previews have something to draw."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\0" + bytes(v for x in range(width)
                                   for v in (230, 40 + x * 200 // width, 20 + y * 2))
                    for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


PNG = png()
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_files_both_ways(browser: Browser, server: Server, tmp_path: Path) -> None:
    shots = Path(os.environ.get("SWITCHBOARD_SCREENSHOTS") or tmp_path)
    agent_ctx, agent = console(browser, server, "ana@demo.switchboard.local")
    visitor_ctx, visitor = new_page(browser, viewport={"width": 1024, "height": 800},
                                    accept_downloads=True)
    try:
        open_widget(visitor, server)
        start_chat(visitor, "Here is a photo of the broken duck")
        cid = take_next_chat(agent)
        pane = chat_pane(agent, cid)
        expect(pane.locator(".log .msg.contact .body")).to_have_count(1)

        # Too big for the server's limit (published in the site config): refused in the page.
        visitor.locator("input[type=file]").set_input_files(
            {"name": "huge.pdf", "mimeType": "application/pdf",
             "buffer": b"%PDF-" + b"0" * (11 * 1024 * 1024)})
        expect(visitor.locator(".up")).to_contain_text("files may be at most 10.0 MB")

        visitor.locator("input[type=file]").set_input_files(
            {"name": "duck.png", "mimeType": "image/png", "buffer": PNG})
        expect(visitor.locator(".msg.me a.file")).to_contain_text("duck.png")
        thumb = pane.locator(".log .msg.contact .msg-files img.preview")
        expect(thumb).to_be_visible()
        expect(thumb).to_have_js_property("naturalWidth", 160)  # decoded: a real image
        expect(pane.locator(".log .msg.contact .msg-files a")).to_have_text("duck.png")

        # The agent sends a PDF back with the composer's "Attach file".
        pane.locator(".uploader input[type=file]").set_input_files(
            {"name": "Return label.pdf", "mimeType": "application/pdf", "buffer": PDF})
        expect(pane.locator(".upload-status")).to_contain_text("Sent Return label.pdf")
        expect(pane.locator(".log .msg.agent .msg-files a")).to_have_text("Return label.pdf")
        link = visitor.locator(".msg.them a.file")
        expect(link).to_contain_text("Return label.pdf")
        with visitor.expect_download() as info:
            link.click()
        download = info.value
        assert download.suggested_filename == "Return label.pdf"
        assert Path(download.path()).read_bytes() == PDF
        expect(visitor.locator(".msg.me .thumb")).to_be_visible()
        visitor.screenshot(path=shots / "widget-attachments.png")
        agent.screenshot(path=shots / "console-attachments.png")
    finally:
        visitor_ctx.close()
        agent_ctx.close()


async def _portal_case(sm: SessionMaker, settings: Settings) -> tuple[str, str]:
    """A web case in Support and its customer's link: (link, number)."""
    async with sm() as s:
        dept = (await s.execute(select(Department).where(Department.name == "Support"))
                ).scalar_one()
    contact = await new_visitor(sm, name="Olga", email="olga.files@example.org")
    conv = await create_conversation(sm, channel="portal", contact_id=contact.id,
                                     department_id=dept.id, group_id=dept.front_group_id,
                                     subject="Cracked kettle")
    await append_message(sm, conv.id, author_kind="contact", author_name="Olga",
                         body="The kettle arrived cracked.")
    return case_link(settings, contact, conv.number, utcnow()), conv.number


def test_case_page_files_both_ways(browser: Browser, server: Server, tmp_path: Path) -> None:
    shots = Path(os.environ.get("SWITCHBOARD_SCREENSHOTS") or tmp_path)
    link, number = server.run(lambda sm: _portal_case(sm, server.settings))
    agent_ctx, chloe = console(browser, server, "chloe@demo.switchboard.local")
    customer_ctx, customer = new_page(browser, viewport={"width": 1100, "height": 820},
                                      accept_downloads=True)
    try:
        customer.goto(link)
        expect(customer.locator(".live")).to_have_text("Live")
        customer.locator("#reply-file").set_input_files(
            {"name": "crack.png", "mimeType": "image/png", "buffer": PNG})
        thumb = customer.locator(".thread .msg .files img.preview")
        expect(thumb).to_have_js_property("naturalWidth", 160)
        expect(customer.locator(".thread .msg .files a.file")).to_contain_text("crack.png")

        chloe.locator('[data-tab="tickets"]').click()
        chloe.select_option("#f-channel", "")
        chloe.get_by_role("button", name=number, exact=True).click()
        view = chloe.locator("section.ticket")
        expect(view.locator(".log .msg-files img.preview")).to_have_js_property("naturalWidth", 160)
        view.locator(".uploader input[type=file]").set_input_files(
            {"name": "Return label.pdf", "mimeType": "application/pdf", "buffer": PDF})
        expect(view.locator(".upload-status")).to_contain_text("Sent Return label.pdf")
        label = customer.locator(".thread .msg[data-author=agent] a.file")
        expect(label).to_contain_text("Return label.pdf")  # live, over the case socket
        with customer.expect_download() as info:
            label.click()
        assert Path(info.value.path()).read_bytes() == PDF
        customer.screenshot(path=shots / "case-attachments.png", full_page=True)
    finally:
        customer_ctx.close()
        agent_ctx.close()

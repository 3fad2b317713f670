"""Files both ways in the browser: the visitor attaches an image in the widget, the agent sees
its preview in the console and sends a PDF back, which the visitor downloads; an over-limit
file is refused in the page before any upload."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Server
from tests.e2e.pages import chat_pane, console, new_page, open_widget, start_chat, take_next_chat

pytestmark = pytest.mark.e2e

# A real 2x2 PNG (red), so the console's preview has something to draw.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000002000000020802000000fdd49a73"
    "0000001649444154789c63f8cfc0f09f8181e13f03c3ff0c0c0c00433b05fbd3"
    "4c9a8f0000000049454e44ae426082")
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
        expect(thumb).to_have_js_property("naturalWidth", 2)  # decoded: a real image
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

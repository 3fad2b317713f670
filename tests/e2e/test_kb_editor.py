"""The knowledge-base editor in the browser: an admin browses by topic and audience, writes an
article with the server's preview and an uploaded image, publishes, compares and restores
revisions, makes it internal (its image leaves the public) and unpublishes it, and manages
topics; an agent reaches the editor from the console and can only propose."""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, FilePayload, Locator, Page, expect

from desk.seed import DEMO_SITE_KEY
from tests.e2e.conftest import Server, login
from tests.e2e.pages import new_page

pytestmark = pytest.mark.e2e

SHOTS = Path(os.environ["SWITCHBOARD_SCREENSHOTS"]) if os.environ.get(
    "SWITCHBOARD_SCREENSHOTS") else None
EDITOR = "/static/kb-editor.html"


def _png(width: int = 24, height: int = 16) -> bytes:
    """A real (decodable) PNG: a blue rectangle."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"\x2f\x5b\xea" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _row(page: Page, title: str) -> Locator:
    return page.locator("table.kb-table tbody tr", has_text=title)


def _anonymous(server: Server, path: str) -> httpx.Response:
    return httpx.get(server.url + path, follow_redirects=True)


def test_admin_writes_publishes_and_restores(browser: Browser, server: Server) -> None:
    ctx, page = new_page(browser, viewport={"width": 1280, "height": 900})
    try:
        login(page, server, EDITOR, "admin@demo.switchboard.local")
        topics = page.locator(".kb-topics")
        expect(topics).to_contain_text("Orders and delivery")
        topics.locator("button.kb-topic", has_text="Your account").click()
        expect(page.locator("#kb-list-h")).to_have_text("Your account")
        expect(_row(page, "Reset your password")).to_have_count(1)
        page.select_option("#kb-f-audience", "internal")
        rows = page.locator("table.kb-table tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Password resets for locked accounts")
        page.select_option("#kb-f-audience", "")
        if SHOTS:
            page.screenshot(path=SHOTS / "kb-editor-list.png")

        page.get_by_role("button", name="New article").click()
        page.fill("#kb-title", "Gift wrapping")
        page.select_option("#kb-topic", label="Orders and delivery")
        page.fill("#kb-body", "Choose **gift wrap** at checkout.\n\n<script>alert(1)</script>\n\n"
                              "![tracker](https://evil.test/pixel.png)\n\n")
        preview = page.frame_locator("iframe.kb-preview")
        expect(preview.locator("strong")).to_have_text("gift wrap")
        expect(preview.locator("script")).to_have_count(0)
        expect(preview.locator("img")).to_have_count(0)  # another host's image: its alt text
        upload: FilePayload = {"name": "wrapped.png", "mimeType": "image/png", "buffer": _png()}
        page.set_input_files("#kb-image", files=[upload])
        expect(page.locator("#kb-body")).to_have_value(
            re.compile(r"!\[wrapped\]\(/kb/images/[0-9a-f]{40}\)"))
        image = preview.locator("img[alt=wrapped]")
        expect(image).to_have_count(1)
        page.wait_for_function(
            "() => { const d = document.querySelector('iframe.kb-preview').contentDocument;"
            " const i = d && d.querySelector('img'); return i && i.naturalWidth === 24; }")
        page.get_by_role("button", name="Save and publish").click()
        expect(page.locator(".kb-state")).to_contain_text("live: revision 1")
        src = image.get_attribute("src") or ""
        public = page.locator(".kb-state a").get_attribute("href") or ""
        r = _anonymous(server, public)
        assert r.status_code == 200 and "Gift wrapping" in r.text and "<script>alert" not in r.text
        assert _anonymous(server, src).status_code == 200  # shown by a public article

        page.fill("#kb-body", page.input_value("#kb-body").replace("at checkout", "in the basket"))
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator(".kb-state")).to_contain_text("revision 2 is waiting to be published")
        page.get_by_role("button", name="Changes in revision 2").click()
        diff = page.locator(".kb-diff-box")
        expect(diff.locator('[data-op="del"]')).to_contain_text("at checkout")
        expect(diff.locator('[data-op="add"]')).to_contain_text("in the basket")
        if SHOTS:
            page.screenshot(path=SHOTS / "kb-editor-article.png", full_page=True)
        assert "in the basket" not in _anonymous(server, public).text  # not published yet
        page.get_by_role("button", name="Publish revision 2").click()
        expect(page.locator(".kb-state")).to_contain_text("live: revision 2")
        assert "in the basket" in _anonymous(server, public).text

        page.get_by_role("button", name="Restore revision 1").click()
        expect(page.locator(".kb-state")).to_contain_text("Revision 3")
        expect(page.locator("#kb-body")).to_have_value(re.compile("at checkout"))

        page.select_option("#kb-audience", "internal")
        page.get_by_role("button", name="Save and publish").click()
        expect(page.locator(".kb-editor .badge[data-audience]")).to_have_text("internal")
        assert _anonymous(server, public).status_code == 404
        assert _anonymous(server, src).status_code == 404  # its image went with it
        page.get_by_role("button", name="Unpublish").click()
        expect(page.locator(".kb-editor .badge[data-status]").first).to_have_text("archived")

        page.get_by_role("button", name="← All articles").click()
        page.fill("#kb-new-topic", "Gifts")
        page.locator(".kb-topics + form").get_by_role("button", name="Add").click()
        expect(topics.locator("button.kb-topic", has_text="Gifts")).to_have_count(1)
        page.get_by_role("button", name="Rename Gifts").click()
        page.fill("input[aria-label='New name for Gifts']", "Gifts and wrapping")
        topics.get_by_role("button", name="Save").click()
        expect(topics).to_contain_text("Gifts and wrapping")
        page.get_by_role("button", name="Delete Gifts and wrapping").click()
        expect(topics).not_to_contain_text("Gifts")

        page.get_by_role("button", name="Help centre settings").click()
        page.check("#kb-s-publish")
        page.fill("#kb-s-synonyms", page.input_value("#kb-s-synonyms") + "\ngift wrap, present")
        page.get_by_role("button", name="Save settings").click()
        expect(page.locator("#kb-list-h")).to_be_visible()
        sites = page.evaluate("fetch('/api/kb/sites').then((r) => r.json())")
        assert sites[0]["agents_publish"] is True
        assert ["gift wrap", "present"] in sites[0]["synonyms"]
    finally:
        ctx.close()


def test_agent_proposes_from_the_console(browser: Browser, server: Server) -> None:
    ctx, page = new_page(browser, viewport={"width": 1280, "height": 900})
    try:
        login(page, server, "/console", "ana@demo.switchboard.local")
        with ctx.expect_page() as opened:
            page.get_by_role("link", name="Knowledge base").click()
        kb = opened.value
        kb.wait_for_selector("#app-ready", state="attached")  # the console's session: no login
        expect(kb.locator(".side .hint")).to_contain_text("an admin publishes them")
        # A reader's search that found nothing: the report lists it, and it starts an article.
        search = f"/kb/{DEMO_SITE_KEY}/en/search?q=teleporting+spaceships"
        assert _anonymous(server, search).status_code == 200
        kb.get_by_role("button", name="Knowledge report").click()
        expect(kb.locator('[data-figure="searches_no_result"] .value')).to_have_text("1")
        expect(kb.locator('section[aria-labelledby="kb-r-empty"] li')).to_contain_text(
            ["teleporting spaceships"])
        if SHOTS:
            kb.screenshot(path=SHOTS / "kb-report.png")
        kb.get_by_role("button", name="Write an article for teleporting spaceships").click()
        expect(kb.locator("#kb-title")).to_have_value("teleporting spaceships")
        kb.get_by_role("button", name="← All articles").click()
        _row(kb, "Track your order").filter(has_text="en").get_by_role(
            "button", name="Track your order").click()
        expect(kb.get_by_role("button", name="Save and publish")).to_have_count(0)
        expect(kb.get_by_role("button", name="Unpublish")).to_have_count(0)
        kb.fill("#kb-body", "Proposed: every order has a tracking link.")
        kb.get_by_role("button", name="Propose this revision").click()
        expect(kb.locator(".kb-state")).to_contain_text("revision 2 is waiting to be published")
        kb.select_option("#kb-audience", "internal")
        kb.get_by_role("button", name="Propose this revision").click()
        expect(kb.locator("p.error")).to_contain_text("only admins")
        page_text = _anonymous(server, f"/kb/{DEMO_SITE_KEY}/en").text
        assert "Track your order" in page_text
    finally:
        ctx.close()

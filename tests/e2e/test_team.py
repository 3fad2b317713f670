"""Team messaging in the browser: a direct message and a room message between two agents,
delivered across the receiver going offline and the server restarting under both."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.conftest import Server
from tests.e2e.pages import console
from tests.e2e.test_whoson import _shot

pytestmark = pytest.mark.e2e


def _team(page: Page) -> None:
    page.locator('[data-tab="team"]').click()
    expect(page.locator("section.team")).to_be_visible()


def _say(page: Page, text: str) -> None:
    page.locator("section.team textarea.compose").fill(text)
    page.locator("section.team textarea.compose").press("Enter")


def _log(page: Page) -> Locator:
    return page.locator("section.team .team-log .body")


def test_direct_and_room_messages_survive_reconnects(browser: Browser, server: Server) -> None:
    ana_ctx, ana = console(browser, server, "ana@demo.switchboard.local")
    ben_ctx, ben = console(browser, server, "ben@demo.switchboard.local")
    try:
        _team(ana)
        ana.get_by_label("Message a colleague").select_option(label="Ben")
        ana.locator(".threads .thread", has_text="Ben").click()
        _say(ana, "Can you take the German caller? <b>thanks</b>")
        expect(_log(ana)).to_have_text(["Can you take the German caller? <b>thanks</b>"])

        expect(ben.locator('[data-tab="team"] .count')).to_have_text("1")
        _team(ben)
        ben.locator(".threads .thread", has_text="Ana").click()
        expect(_log(ben)).to_have_text(["Can you take the German caller? <b>thanks</b>"])

        # A room with markup in its name: shown as text.
        ana.locator("section.team summary").click()
        ana.get_by_label("Room name").fill("<i>Sales</i> floor")
        ana.locator(".new-room").get_by_label("Ben").check()
        ana.locator(".new-room button[type=submit]").click()
        room = ben.locator(".threads .thread", has_text="# <i>Sales</i> floor")
        expect(room).to_be_visible()

        # Ben drops off the network; Ana writes to him and to the room meanwhile.
        ben_ctx.set_offline(True)
        expect(ben.locator(".conn")).not_to_have_text("Connected")
        _say(ana, "Still there?")
        ana.locator(".threads .thread", has_text="# <i>Sales</i> floor").click()
        _say(ana, "Room: stand-up in five, see SB-1234567")
        expect(_log(ana)).to_have_text(["Room: stand-up in five, see SB-1234567"])
        ben_ctx.set_offline(False)
        expect(ben.locator(".conn")).to_have_text("Connected", timeout=20_000)
        expect(_log(ben)).to_have_text(["Can you take the German caller? <b>thanks</b>",
                                        "Still there?"])
        expect(room.locator(".count")).to_have_text("1")
        room.click()
        expect(_log(ben)).to_have_text(["Room: stand-up in five, see SB-1234567"])
        expect(ben.locator(".team-log .conv-link")).to_have_text("SB-1234567")

        # The server restarts under both: a message typed while it is down arrives once.
        server.restart_web()
        _say(ben, "Back after the restart")
        expect(ana.locator(".conn")).to_have_text("Connected", timeout=20_000)
        expect(_log(ana)).to_have_text(["Room: stand-up in five, see SB-1234567",
                                        "Back after the restart"], timeout=20_000)
        expect(_log(ben)).to_have_text(["Room: stand-up in five, see SB-1234567",
                                        "Back after the restart"])
        _shot(ben, "console-team.png")
    finally:
        ana_ctx.close()
        ben_ctx.close()

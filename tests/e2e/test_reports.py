"""Reports page: generated activity in the demo organisation; the page opens on the last 30
days in the browser's zone, the range changes, a figure drills down to its conversations, the
CSV has the chart's rows; the supervisor board shows today's figures and links here.

With SWITCHBOARD_SCREENSHOTS=<dir> it also photographs the reports for docs/img.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from desk.db import SessionMaker
from tests.e2e.conftest import Server, login
from tests.e2e.pages import new_page
from tests.support.report_data import Batch, generate, insert, world_of

pytestmark = pytest.mark.e2e
ZONE = "Europe/Berlin"
SHOTS = os.environ.get("SWITCHBOARD_SCREENSHOTS")


def _load(server: Server) -> list[Batch]:
    async def work(sm: SessionMaker) -> list[Batch]:
        world = await world_of(sm)
        batches = list(generate(world, 900, datetime.now(UTC) - timedelta(days=1), days=60,
                                first_id=100_000, batch=300))
        await insert(sm, batches)
        return batches

    return server.run(work)


def _created_between(batches: list[Batch], first: date, last: date) -> int:
    zone = ZoneInfo(ZONE)
    return sum(1 for b in batches for f in b.facts if f["kind"] == "created"
               and first <= f["at"].astimezone(zone).date() <= last)


def _kpi(page: Page, key: str) -> str:
    return page.locator(f'[data-report="overview"] [data-kpi="{key}"] .value').inner_text()


def _loaded(page: Page, n: int) -> None:
    expect(page.locator("#workspace")).to_have_attribute("data-loaded", str(n))


def _shot(page: Page, name: str, *, full_page: bool = True) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(SHOTS) / name, full_page=full_page)


def test_reports_range_drilldown_and_csv(browser: Browser, server: Server) -> None:
    batches = _load(server)
    ctx, page = new_page(browser, viewport={"width": 1280, "height": 900}, timezone_id=ZONE)
    try:
        login(page, server, "/reports", "admin@demo.switchboard.local")
        _loaded(page, 1)
        today = datetime.now(ZoneInfo(ZONE)).date()
        expect(page.locator("#from")).to_have_value((today - timedelta(days=29)).isoformat())
        assert _kpi(page, "created") == str(_created_between(
            batches, today - timedelta(days=29), today))
        expect(page.locator('[data-report="overview"] .chart canvas')).to_have_count(4)
        _shot(page, "reports-overview.png")

        # A week three weeks back.
        first, last = today - timedelta(days=27), today - timedelta(days=21)
        page.fill("#from", first.isoformat())
        page.fill("#to", last.isoformat())
        page.get_by_role("button", name="Show", exact=True).click()
        _loaded(page, 2)
        expected = _created_between(batches, first, last)
        assert 0 < expected < 1000 and _kpi(page, "created") == str(expected)
        chart = page.locator(".chart", has_text="Conversations per day")
        chart.locator("summary").click()
        expect(chart.locator("details tbody tr")).to_have_count(7)

        # The CSV holds the chart's rows: seven days adding up to the figure.
        href = page.get_by_role("link", name="Download this chart's rows (CSV)").get_attribute(
            "href")
        assert href is not None
        rows = list(csv.DictReader(io.StringIO(page.request.get(server.url + href).text())))
        assert len(rows) == 7 and sum(int(r["created"]) for r in rows) == expected
        assert rows[0]["start"].startswith(first.isoformat())

        # The figure drills down to exactly the conversations behind it.
        page.locator('[data-kpi="created"]').click()
        drill = page.locator('[aria-label="Conversations behind Created"]')
        expect(drill.locator("tbody tr")).to_have_count(expected)
        expect(page.get_by_role("tab", name="Conversations: Created")).to_have_attribute(
            "aria-selected", "true")
        _shot(page, "reports-drilldown.png", full_page=False)

        # A per-agent table, a filter, the forecast.
        page.get_by_role("tab", name="Agents").click()
        expect(page.locator('[data-report="agents"] tbody tr').first).to_be_visible()
        _shot(page, "reports-agents.png")
        page.get_by_role("tab", name="Staffing forecast").click()
        expect(page.locator('[data-report="forecast"] .chart canvas')).to_have_count(2)
        _shot(page, "reports-forecast.png")
        page.get_by_role("tab", name="CSAT").click()
        expect(page.locator('[data-report="csat"] .chart canvas')).to_have_count(1)
        page.get_by_role("tab", name="Scheduled mails").click()
        page.select_option("#mail-period", "weekly")
        page.fill("#mail-to", "boss@example.org, team@example.org")
        page.get_by_role("button", name="Mail this report").click()
        mails = page.locator('[data-report="mails"] tbody tr')
        expect(mails).to_have_count(1)
        expect(mails).to_contain_text("boss@example.org, team@example.org")
        expect(mails).to_contain_text("not yet")
        page.select_option("#group", label="Sales")
        page.get_by_role("button", name="Show", exact=True).click()
        _loaded(page, 3)
        page.get_by_role("tab", name="Overview").click()
        assert int(_kpi(page, "created")) < expected
    finally:
        ctx.close()


def test_supervisor_board_shows_today_and_links_to_reports(browser: Browser,
                                                           server: Server) -> None:
    ctx, page = new_page(browser, viewport={"width": 1280, "height": 900}, timezone_id=ZONE)
    try:
        login(page, server, "/supervisor", "sam@demo.switchboard.local")
        board = page.locator(".live-kpis")
        expect(board.locator('[data-kpi="waiting"] .value')).to_have_text("0")
        expect(board.locator('[data-kpi="handled"] .value')).to_have_text("0")
        expect(board.locator('[data-kpi="available"] .value')).to_have_text("0")
        _shot(page, "supervisor-today.png")
        page.get_by_role("link", name="Reports").click()
        page.wait_for_selector("#app-ready", state="attached")
        expect(page.get_by_role("tab", name="Overview")).to_be_visible()
    finally:
        ctx.close()

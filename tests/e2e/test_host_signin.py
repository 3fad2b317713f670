"""A host site's link signs its user in to the case page (the identity in the fragment, no
mailed link): the list shows that contact's cases and opens one; a link with a wrong signature
says why and opens nothing."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select, update

from desk.conversations import append_message, create_conversation
from desk.db import SessionMaker
from desk.identity import signature
from desk.models import Contact, Site
from desk.seed import DEMO_SITE_KEY
from tests.e2e.conftest import Server
from tests.e2e.pages import new_page

pytestmark = pytest.mark.e2e
SECRET = "e2e-host-identity-" + "c" * 32


async def _host_user(sm: SessionMaker) -> str:
    async with sm() as s:
        await s.execute(update(Site).where(Site.key == DEMO_SITE_KEY)
                        .values(identity_secret=SECRET))
        site_id = (await s.execute(select(Site.id).where(Site.key == DEMO_SITE_KEY))).scalar_one()
        olga = Contact(name="Olga Host", email="olga@host.test", email_verified=True,
                       site_id=site_id, external_id="user-77", token_nonce="e2e-nonce")
        s.add(olga)
        await s.commit()
    conv = await create_conversation(sm, channel="portal", contact_id=olga.id,
                                     subject="Where is my parcel")
    await append_message(sm, conv.id, author_kind="contact", body="Still not here")
    return conv.number


def _link(server: Server, hmac_hex: str | None = None) -> str:
    ts = int(time.time())
    mac = hmac_hex or signature(SECRET, "user-77", "olga@host.test", ts)
    return f"{server.url}/c/signin#" + urlencode({
        "site": DEMO_SITE_KEY, "user_id": "user-77", "email": "olga@host.test", "ts": ts,
        "hmac": mac})


def test_a_host_link_opens_the_user_s_cases(browser: Browser, server: Server) -> None:
    number = server.run(_host_user)
    context, page = new_page(browser)
    try:
        page.goto(_link(server, "0" * 64))
        expect(page.locator(".notice.error")).to_contain_text("signature does not match")
        expect(page.locator("ul.cases")).to_have_count(0)

        page.goto("about:blank")  # a new fragment on the same page would load nothing
        page.goto(_link(server))
        expect(page).to_have_url(f"{server.url}/c/")  # the identity left the address bar
        expect(page.locator("ul.cases li")).to_have_count(1)
        page.get_by_role("link", name=number).click()
        expect(page.locator(".thread .msg .text")).to_have_text(["Still not here"])
    finally:
        context.close()

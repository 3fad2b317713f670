"""The case page shows the commitments staff marked public, and nothing of the others."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

from desk import case_links, commitments
from desk.case_links import Grant, Kind
from desk.conversations import create_conversation
from desk.db import SessionMaker
from desk.models import Contact, utcnow
from tests.realtime.conftest import Org, WebFactory
from tests.realtime.test_portal import WEB_SECRET, portal


async def test_the_case_page_shows_public_commitments(web: WebFactory, org: Org,
                                                      sm: SessionMaker) -> None:
    async with sm() as s:
        contact = Contact(email="cust@example.org", email_verified=True,
                          token_nonce=secrets.token_hex(16))
        s.add(contact)
        await s.commit()
    conv = await create_conversation(sm, channel="phone", contact_id=contact.id,
                                     department_id=org.dept, group_id=org.group)
    now = utcnow()
    async with sm() as s:
        for kind, public in (("Send a replacement", True), ("Check the warranty", False)):
            await commitments.add(s, conv.id, org.ana, {
                "kind": kind, "public": public,
                "due_at": (now + timedelta(days=2)).isoformat()}, now)
        await s.commit()
    [w] = await web(1)
    token = case_links.issue(WEB_SECRET, Grant(Kind.CASE, contact.id, contact.token_nonce,
                                               int(time.time()) + 600, conv.number))
    r = await portal(w, "GET", f"/cases/{conv.number}", token)
    assert r.status_code == 200, r.text
    [shown] = r.json()["commitments"]
    assert shown["kind"] == "Send a replacement" and shown["status"] == "pending"
    assert set(shown) == {"kind", "due_at", "status"}

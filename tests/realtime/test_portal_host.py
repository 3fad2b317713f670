"""Signing in to the case page with the host site's identity (real web process, Redis,
database): a fresh signed identity opens that contact's own cases and nothing else; a wrong
signature, an old or missing timestamp, another site's secret, an unknown site or a site that
signs nothing are refused with a clear 4xx and no session."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy import func, select

from desk.conversations import create_conversation
from desk.db import SessionMaker
from desk.identity import signature
from desk.models import Contact, Site
from tests.realtime.conftest import SITE_KEY, Org, Web, WebFactory, update_row

SECRET = "host-secret-" + "a" * 40
OTHER_SECRET = "other-secret-" + "b" * 40


def _identity(user_id: str, email: str, *, secret: str = SECRET, ts: int | None = None,
              **over: Any) -> dict[str, Any]:
    ts = int(time.time()) if ts is None else ts
    return {"user_id": user_id, "email": email, "ts": ts,
            "hmac": signature(secret, user_id, email, ts), **over}


async def _post(w: Web, body: Any) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(f"{w.http}/api/portal/signin/identity", json=body)


async def _get(w: Web, path: str, token: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(f"{w.http}{path}", headers={"Authorization": f"Bearer {token}"})


async def _records(sm: SessionMaker, org: Org) -> tuple[str, str]:
    """Olga's case (she is user u-1 of the shop) and a case of another contact who typed
    Olga's address into a form (not proven: the host's sign-in must not open it)."""
    await update_row(sm, Site, org.site, identity_secret=SECRET)
    async with sm() as s:
        s.add(Site(key="site_other", name="Other", allowed_origins=[],
                   identity_secret=OTHER_SECRET))
        olga = Contact(name="Olga", email="olga@shop.test", email_verified=True,
                       site_id=org.site, external_id="u-1", token_nonce="n1")
        typed = Contact(name="Not Olga", email="olga@shop.test", token_nonce="n2")
        s.add_all([olga, typed])
        await s.commit()
    mine = await create_conversation(sm, channel="email", group_id=org.group,
                                     contact_id=olga.id, subject="My order")
    theirs = await create_conversation(sm, channel="email", group_id=org.group,
                                       contact_id=typed.id, subject="Someone else's")
    return mine.number, theirs.number


async def test_the_host_s_identity_opens_that_contact_s_cases_only(
        sm: SessionMaker, org: Org, web: WebFactory) -> None:
    (w,) = await web(1)
    mine, theirs = await _records(sm, org)
    r = await _post(w, {"site_key": SITE_KEY, "identity": _identity("u-1", "olga@shop.test")})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    listed = await _get(w, "/api/portal/cases", token)
    assert listed.status_code == 200, listed.text
    assert [c["number"] for c in listed.json()["cases"]] == [mine]
    assert listed.json()["email"] == "olga@shop.test"
    assert (await _get(w, f"/api/portal/cases/{mine}", token)).status_code == 200
    assert (await _get(w, f"/api/portal/cases/{theirs}", token)).status_code == 403

    # A user of the shop with no contact yet gets one (as the widget would make), no cases.
    r = await _post(w, {"site_key": SITE_KEY, "identity": _identity("u-2", "new@shop.test")})
    assert r.status_code == 200, r.text
    assert (await _get(w, "/api/portal/cases", r.json()["token"])).json()["cases"] == []
    async with sm() as s:
        assert await s.scalar(select(func.count()).select_from(Contact).where(
            Contact.external_id == "u-2", Contact.site_id == org.site)) == 1


async def test_bad_identities_are_refused_clearly(
        sm: SessionMaker, org: Org, web: WebFactory) -> None:
    (w,) = await web(1)
    await _records(sm, org)
    now = int(time.time())
    good = _identity("u-1", "olga@shop.test")
    cases: list[tuple[Any, int, str]] = [
        ({**good, "hmac": "0" * 64}, 403, "signature does not match"),
        ({**good, "email": "eve@shop.test"}, 403, "signature does not match"),
        (_identity("u-1", "olga@shop.test", secret=OTHER_SECRET), 403,
         "signature does not match"),
        (_identity("u-1", "olga@shop.test", ts=now - 3600), 403, "signed more than"),
        (_identity("u-1", "olga@shop.test", ts=now + 3600), 403, "ahead of the clock"),
        ({k: v for k, v in good.items() if k != "ts"}, 422, "identity.ts"),
        ({**good, "ts": "soon"}, 422, "identity.ts"),
        ({**good, "hmac": "xyz"}, 422, "identity.hmac"),
        ({**good, "user_id": ""}, 422, "identity.user_id"),
        ("u-1", 422, "identity must be an object"),
    ]
    for identity, status, said in cases:
        r = await _post(w, {"site_key": SITE_KEY, "identity": identity})
        assert r.status_code == status, (identity, r.text)
        assert said in r.json()["error"]["message"], (identity, r.text)
        assert "token" not in r.json()
    r = await _post(w, {"site_key": "site_nope", "identity": good})
    assert r.status_code == 404, r.text
    r = await _post(w, {"site_key": SITE_KEY})
    assert r.status_code == 422, r.text
    await update_row(sm, Site, org.site, identity_secret=None)
    r = await _post(w, {"site_key": SITE_KEY, "identity": good})
    assert r.status_code == 403 and "does not sign" in r.json()["error"]["message"], r.text

"""Identity and the returning browser over real web processes, the database and Redis: a
verified identity joins its contact and history, an unverified one never does; a browser's
visitor id brings back its anonymous contact (only); leave-a-message joins the same contact."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from desk.db import SessionMaker
from desk.identity import signature
from desk.models import Contact, Conversation, Site
from tests.realtime.conftest import (
    SHOP,
    SITE_KEY,
    Clients,
    Org,
    Web,
    WebFactory,
    api,
    start_chat,
    update_row,
)

SECRET = "s3cr3t-" + "0123456789abcdef" * 3


def identity(user_id: str = "user-42", email: str | None = "Al@Acme.example",
             secret: str = SECRET) -> dict[str, Any]:
    return {"user_id": user_id, "email": email, "hmac": signature(secret, user_id, email)}


async def session(w: Web, **body: Any) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(w.http + "/api/visitor/session",
                               json={"site_key": SITE_KEY, **body}, headers={"Origin": SHOP})


async def history(clients: Clients, w: Web, token: str) -> list[int]:
    """The conversations a visitor token opens (the welcome's list)."""
    v = await clients.visitor(w, token)
    welcome = v.of("welcome")[0]
    await v.close()
    return list(welcome["conversations"])


async def contacts(sm: SessionMaker) -> int:
    async with sm() as s:
        return int((await s.execute(select(func.count()).select_from(Contact))).scalar_one())


async def test_a_verified_identity_joins_its_contact_and_history_an_unverified_one_not(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    await update_row(sm, Site, org.site, identity_secret=SECRET)
    [w] = await web(1)
    first = await session(w, identity=identity())
    assert first.status_code == 200 and first.json()["verified"] is True, first.text
    v = await clients.visitor(w, first.json()["token"])
    cid = await start_chat(v, org.dept, "Where is my order 1234?")
    await v.close()
    # Another browser, the same user signed in on the host: the same contact, the same chat.
    second = await session(w, identity=identity())
    again = await clients.visitor(w, second.json()["token"])
    assert again.of("welcome")[0]["conversations"] == [cid]
    await again.send(type="resume", conversation_id=cid, after_seq=0)
    assert (await again.expect("message"))["text"] == "Where is my order 1234?"
    # The same address typed by an anonymous visitor grants nothing.
    anon = await session(w)
    v2 = await clients.visitor(w, anon.json()["token"])
    await v2.send(type="start_chat", client_id="c2", text="hi", department_id=org.dept,
                  email="al@acme.example")
    other = (await v2.expect("started"))["conversation_id"]
    assert other != cid
    async with sm() as s:
        mine = await s.get(Conversation, cid)
        theirs = await s.get(Conversation, other)
        assert mine is not None and theirs is not None and mine.contact_id != theirs.contact_id
        typed = await s.get(Contact, theirs.contact_id)
        assert typed is not None and not typed.email_verified and typed.external_id is None
    # Verification off (no secret): the same signed identity is treated as unverified.
    await update_row(sm, Site, org.site, identity_secret=None)
    [w2] = await web(1)  # a fresh process: no cached site
    off = await session(w2, identity=identity())
    assert off.status_code == 200 and off.json()["verified"] is False
    assert await history(clients, w2, off.json()["token"]) == []


async def test_bad_identities_are_refused_and_create_nothing(
        web: WebFactory, org: Org, sm: SessionMaker) -> None:
    await update_row(sm, Site, org.site, identity_secret=SECRET)
    [w] = await web(1)
    before = await contacts(sm)
    tampered = {**identity(), "hmac": "0" * 64}
    for bad, status, field in [
        (tampered, 403, None),
        ({**identity(), "hmac": identity("user-43")["hmac"]}, 403, None),  # another user's
        ({**identity(), "user_id": "user-43"}, 403, None),
        (identity(secret="another site's secret, 32+ chars long"), 403, None),
        ({**identity(), "hmac": None}, 422, "identity.hmac"),
        (identity("u" * 129), 422, "identity.user_id"),
        (identity(email="a" * 64 + "@" + "b" * 250 + ".example"), 422, "identity.email"),
        ("user-42", 422, "identity"),
    ]:
        r = await session(w, identity=bad)
        assert r.status_code == status, (bad, r.text)
        assert r.json()["error"].get("field") == field
        assert r.headers["access-control-allow-origin"] == SHOP  # the widget can read why
    r = await session(w, visitor_id="../../etc/passwd")
    assert r.status_code == 422 and r.json()["error"]["field"] == "visitor_id"
    assert await contacts(sm) == before


async def test_the_same_browser_comes_back_to_its_anonymous_contact_only(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    await update_row(sm, Site, org.site, identity_secret=SECRET)
    [w] = await web(1)
    first = (await session(w)).json()
    browser = first["visitor_id"]
    v = await clients.visitor(w, first["token"])
    cid = await start_chat(v, org.dept, "anonymous question")
    await v.close()
    # The token is gone (expired, cleared): the visitor id brings the contact back.
    back = (await session(w, visitor_id=browser)).json()
    assert "visitor_id" not in back and await history(clients, w, back["token"]) == [cid]
    # A visitor id this server never gave is another browser: a new contact, a new id.
    stranger = (await session(w, visitor_id="A" * 43)).json()
    assert stranger["visitor_id"] not in (browser, "A" * 43)
    assert await history(clients, w, stranger["token"]) == []
    # The browser's user signs in on the host: their verified contact, their own chat...
    signed_in = (await session(w, identity=identity(), visitor_id=browser)).json()
    v = await clients.visitor(w, signed_in["token"])
    mine = await start_chat(v, org.dept, "my account's question")
    await v.close()
    assert mine != cid
    # ...which the browser's visitor id (signed out, or copied elsewhere) never opens, nor
    # does the verified contact's token come back without the identity.
    for claim in ({"visitor_id": browser}, {"visitor_id": browser, "token": signed_in["token"]}):
        out = (await session(w, **claim)).json()
        assert await history(clients, w, out["token"]) == [cid]
    fresh = (await session(w, token=signed_in["token"])).json()
    assert await history(clients, w, fresh["token"]) == []


async def test_leave_a_message_joins_the_same_contact(
        web: WebFactory, org: Org, sm: SessionMaker) -> None:
    await update_row(sm, Site, org.site, identity_secret=SECRET)
    [w] = await web(1)
    anon = (await session(w)).json()
    user = (await session(w, identity=identity())).json()
    base = f"{w.http}/api/public/sites/{SITE_KEY}/messages"

    async def leave(**claim: Any) -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            r = await http.post(base, headers={"Origin": SHOP}, json={
                "email": "typed@x.example", "text": "Call me back", **claim})
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        async with sm() as s:
            conv = (await s.execute(select(Conversation).where(
                Conversation.number == body["number"]))).scalar_one()
            body["contact"] = conv.contact_id
        return body

    by_token = await leave(token=anon["token"])
    by_browser = await leave(visitor_id=anon["visitor_id"])
    assert by_token["contact"] == by_browser["contact"]
    assert "visitor_id" not in by_token and "visitor_id" not in by_browser
    verified = await leave(identity=identity())
    assert verified["contact"] != by_token["contact"]
    assert (await leave(token=user["token"], identity=identity()))["contact"] == \
        verified["contact"]
    async with sm() as s:
        contact = await s.get(Contact, verified["contact"])
        # The typed address never replaces the verified one (the acknowledgement goes there).
        assert contact is not None and contact.email == "al@acme.example"
    newcomer = await leave()
    assert newcomer["visitor_id"] and newcomer["contact"] not in (
        by_token["contact"], verified["contact"])
    assert (await leave(visitor_id=newcomer["visitor_id"]))["contact"] == newcomer["contact"]
    async with httpx.AsyncClient() as http:
        r = await http.post(base, json={"email": "t@x.example", "text": "x",
                                        "identity": {**identity(), "hmac": "f" * 64}})
    assert r.status_code == 403


async def test_the_identity_secret_is_set_by_admins_and_never_shown(
        web: WebFactory, org: Org) -> None:
    [w] = await web(1)
    path = f"/api/sites/{org.site}"
    r = await api(w, "PATCH", path, "adm@x.test", {"identity_secret": SECRET})
    assert r.status_code == 200, r.text
    assert r.json()["identity_verification"] is True
    assert r.json()["identity_secret_hint"] == "\u2026" + SECRET[-4:]
    listed = await api(w, "GET", "/api/sites", "adm@x.test")
    assert SECRET not in listed.text and SECRET[:-4] not in r.text
    short = await api(w, "PATCH", path, "adm@x.test", {"identity_secret": "short"})
    assert short.status_code == 422 and short.json()["error"]["field"] == "identity_secret"
    assert (await api(w, "PATCH", path, "ana@x.test", {"identity_secret": SECRET})
            ).status_code == 403
    off = await api(w, "PATCH", path, "adm@x.test", {"identity_secret": None})
    assert off.json()["identity_verification"] is False
    assert off.json()["identity_secret_hint"] is None

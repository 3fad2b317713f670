"""The customer's case page API against real web processes, Redis, the database, the RQ worker
and an aiosmtpd sink: the link in the confirmation mail opens the case; replies, closing,
reopening and the survey work; bad, foreign, expired, revoked and replayed links get 403 and
no data; a flood of sign-in requests mails a bounded number of links."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import orjson
from sqlalchemy import select, update
from websockets.asyncio.client import connect

from desk import case_links
from desk.case_links import Grant, Kind
from desk.db import SessionMaker
from desk.models import Contact, Conversation, Department, Organisation, OutboundMail, Site
from desk.settings import Settings
from tests.realtime.conftest import SHOP, SITE_KEY, Client, Clients, Org, Web, WebFactory, api
from tests.realtime.test_mail import _body, _mails, _work
from tests.support.smtp_sink import Sink

WEB_SECRET = "test-secret-" + "y" * 40  # tests.support.processes.web_env
CONFIG = {"departments": [], "fields": [{"name": "name", "label": "Name", "required": True}],
          "notice": "We answer within a day."}


async def _site_form(sm: SessionMaker, org: Org, notify_mode: str = "full") -> None:
    async with sm() as s:
        await s.execute(update(Site).where(Site.id == org.site).values(
            config={**CONFIG, "departments": [{"id": org.dept, "name": "Support"}]}))
        await s.execute(update(Department).where(Department.id == org.dept).values(
            email_address="support@desk.test", notify_mode=notify_mode))
        await s.commit()


async def _new_case(w: Web, email: str = "cust@example.org", text: str = "My printer is on fire",
                    channel: str = "portal") -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        site = (await http.get(f"{w.http}/api/public/sites/{SITE_KEY}")).json()
        r = await http.post(f"{w.http}/api/public/sites/{SITE_KEY}/messages", json={
            "name": "Cust", "email": email, "text": text, "channel": channel,
            "department_id": site["departments"][0]["id"]},
            headers={"Origin": w.http})
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


def _link(mail_text: str, w: Web) -> tuple[str, str]:
    """(number, token) of the case link in a mail (the worker's public URL is its own)."""
    (url,) = re.findall(r"http://127\.0\.0\.1:\d+/c/SB\S+", mail_text)
    path, _, query = url.partition("?t=")
    return unquote(path.rsplit("/", 1)[1]), unquote(query.split("#")[0])


async def portal(w: Web, method: str, path: str, token: str | None,
                 body: Any = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient() as http:
        return await http.request(method, f"{w.http}/api/portal{path}", json=body,
                                  headers=headers)


async def _case_socket(w: Web, token: str) -> Client:
    ws = await connect(f"{w.ws}/ws/visitor?case=1", origin=w.http)  # type: ignore[arg-type]
    c = Client(ws)
    await c.send(type="auth", token=token)
    return c


async def test_from_the_confirmation_mail_to_the_rating(
        web: WebFactory, org: Org, sm: SessionMaker, settings: Settings, smtp_sink: Sink,
        clients: Clients, tmp_path: Path) -> None:
    await _site_form(sm, org, notify_mode="link")
    [w] = await web(1)
    created = await _new_case(w)
    assert created["notice"] == "We answer within a day."
    await _work(settings, smtp_sink, tmp_path)
    (ack,) = _mails(smtp_sink)
    assert ack["To"] == "cust@example.org" and created["number"] in ack["Subject"]
    number, token = _link(_body(ack), w)
    assert number == created["number"]

    r = await portal(w, "GET", f"/cases/{number}", token)
    assert r.status_code == 200, r.text
    case = r.json()
    assert case["status"] == "queued" and case["channel"] == "portal"
    assert [m["text"] for m in case["messages"]] == ["My printer is on fire"]
    assert "rating" in case and case["assignee_name"] is None

    # Ana takes the ticket; her console's socket holds it and sees the customer's reply live.
    ana = await clients.staff(w, "ana@x.test")
    await ana.send(type="accept", conversation_id=case["conversation_id"])
    await ana.expect("done", op="accept")
    page = await _case_socket(w, case["socket_token"])
    welcome = await page.expect("welcome")
    assert welcome["conversations"] == [case["conversation_id"]]
    await page.send(type="resume", conversation_id=case["conversation_id"],
                    after_seq=case["last_seq"])
    await page.expect("state", status="active")
    r = await portal(w, "POST", f"/cases/{number}/messages", token,
                     {"text": "It is still smoking", "client_id": "w1"})
    assert r.status_code == 201, r.text
    again = await portal(w, "POST", f"/cases/{number}/messages", token,
                         {"text": "It is still smoking", "client_id": "w1"})
    assert again.status_code == 200 and again.json()["seq"] == r.json()["seq"]
    seen = await ana.expect("message", text="It is still smoking")
    assert seen["author_kind"] == "contact"

    # Her reply reaches the page live; her note never does; the mail says "new activity".
    cid = case["conversation_id"]
    r = await api(w, "POST", f"/api/conversations/{cid}/messages", "ana@x.test",
                  {"body": "INTERNAL: call the fire brigade", "visibility": "internal"})
    assert r.status_code == 201
    r = await api(w, "POST", f"/api/conversations/{cid}/messages", "ana@x.test",
                  {"body": "Unplug it, please."})
    assert r.status_code == 201
    await page.expect("message", text="Unplug it, please.")
    assert not [f for f in page.frames if "INTERNAL" in str(f.get("text"))]
    r = await portal(w, "GET", f"/cases/{number}", token)
    assert r.json()["assignee_name"] == "Ana" and "INTERNAL" not in r.text
    await _work(settings, smtp_sink, tmp_path)
    activity = _mails(smtp_sink)[-1]
    assert "new activity" in _body(activity) and "Unplug it" not in _body(activity)
    assert _link(_body(activity), w)[0] == number

    # Rated only once closed; the customer closes it (no closing mail back to them) and rates.
    r = await portal(w, "POST", f"/cases/{number}/rating", token, {"rating": 5})
    assert r.status_code == 409
    r = await portal(w, "POST", f"/cases/{number}/status", token, {"status": "closed"})
    assert r.status_code == 200 and r.json()["status"] == "closed"
    await page.expect("ended")
    r = await portal(w, "POST", f"/cases/{number}/rating", token,
                     {"rating": 4, "comment": "Quick, thanks"})
    assert r.status_code == 200, r.text
    await _work(settings, smtp_sink, tmp_path)
    assert len(smtp_sink.messages) == 2
    r = await portal(w, "GET", f"/cases/{number}", token)
    assert (r.json()["rating"], r.json()["rating_comment"]) == (4, "Quick, thanks")

    # The survey is the supervisors' and admins' to read, not the agent's.
    r = await api(w, "GET", f"/api/conversations/{cid}", "sam@x.test")
    assert (r.json()["rating"], r.json()["rating_comment"]) == (4, "Quick, thanks")
    for path in (f"/api/conversations/{cid}", "/api/conversations?status=closed"):
        r = await api(w, "GET", path, "ana@x.test")
        assert r.status_code == 200 and "rating" not in r.text and "Quick" not in r.text

    # A reply on a closed case reopens it and routes it again.
    r = await portal(w, "POST", f"/cases/{number}/messages", token, {"text": "Smoking again"})
    assert r.status_code == 201
    async with sm() as s:
        conv = await s.get(Conversation, cid)
        assert conv is not None and conv.status not in ("closed", "resolved")
        assert conv.closed_by is None


async def test_an_agents_closing_mails_the_survey_link(
        web: WebFactory, org: Org, sm: SessionMaker, settings: Settings, smtp_sink: Sink,
        tmp_path: Path) -> None:
    await _site_form(sm, org)
    [w] = await web(1)
    created = await _new_case(w, channel="email")
    async with sm() as s:
        cid = (await s.execute(select(Conversation.id).where(
            Conversation.number == created["number"]))).scalar_one()
    r = await api(w, "POST", f"/api/conversations/{cid}/messages", "ana@x.test",
                  {"body": "Here is the answer in full."})
    assert r.status_code == 201
    r = await api(w, "PATCH", f"/api/conversations/{cid}", "ana@x.test", {"status": "resolved"})
    assert r.status_code == 200 and "rating" not in r.json()
    await _work(settings, smtp_sink, tmp_path)
    _ack, reply, closed = _mails(smtp_sink)
    assert "Here is the answer in full." in _body(reply)  # the department's "full" mode
    assert f"/c/{created['number']}?t=" in _body(reply)
    assert "#survey" in _body(closed) and "resolved" in _body(closed)
    number, token = _link(_body(closed), w)
    r = await portal(w, "POST", f"/cases/{number}/rating", token, {"rating": 2})
    assert r.status_code == 200


async def test_bad_links_get_403_and_no_data(
        web: WebFactory, org: Org, sm: SessionMaker, settings: Settings, smtp_sink: Sink,
        tmp_path: Path) -> None:
    await _site_form(sm, org)
    [w] = await web(1)
    a = await _new_case(w, "a@example.org", "A's secret problem")
    b = await _new_case(w, "b@example.org", "B's secret problem")
    await _work(settings, smtp_sink, tmp_path)
    links = {m["To"]: _link(_body(m), w) for m in _mails(smtp_sink)}
    number_a, token_a = links["a@example.org"]
    number_b, _ = links["b@example.org"]
    assert (number_a, number_b) == (a["number"], b["number"])
    async with sm() as s:
        contact_a = (await s.execute(select(Contact).where(
            Contact.email == "a@example.org"))).scalar_one()

    def forged(**changes: Any) -> str:
        base = {"kind": Kind.CASE, "contact_id": contact_a.id, "nonce": contact_a.token_nonce,
                "expires_at": int(time.time()) + 600, "number": number_a}
        return case_links.issue(WEB_SECRET, Grant(**{**base, **changes}))

    tampered = token_a[:-3] + ("AAA" if not token_a.endswith("AAA") else "BBB")
    bad = {
        "tampered": (number_a, tampered),
        "A's link for B's case": (number_b, token_a),
        "A's link with B's number written in": (number_b, forged(number=number_b)),
        "expired": (number_a, forged(expires_at=int(time.time()) - 1)),
        "revoked nonce": (number_a, forged(nonce="an-old-nonce")),
        "another secret": (number_a, case_links.issue("z" * 40, Grant(
            Kind.CASE, contact_a.id, contact_a.token_nonce, int(time.time()) + 600, number_a))),
        "a socket token": (number_a, forged(kind=Kind.SOCKET)),
        "no token": (number_a, None),
        "garbage": (number_a, "x" * 5000),
    }
    for name, (number, token) in bad.items():
        for method, path, body in (("GET", "", None),
                                   ("POST", "/messages", {"text": "hi"}),
                                   ("POST", "/status", {"status": "closed"}),
                                   ("POST", "/rating", {"rating": 5})):
            r = await portal(w, method, f"/cases/{number}{path}", token, body)
            assert r.status_code == 403, (name, path, r.text)
            assert set(r.json()) == {"error"} and "secret" not in r.text, name
    r = await portal(w, "GET", "/cases", token_a)  # a one-case link is no session
    assert r.status_code == 403
    async with sm() as s:  # nothing was written by any of them
        rows = (await s.execute(select(Conversation.status, Conversation.last_seq).where(
            Conversation.number.in_([number_a, number_b])))).all()
    assert sorted(rows) == [("queued", 1), ("queued", 1)]

    # Rotating the contact's nonce revokes the mailed link too.
    assert (await portal(w, "GET", f"/cases/{number_a}", token_a)).status_code == 200
    async with sm() as s:
        await s.execute(update(Contact).where(Contact.id == contact_a.id)
                        .values(token_nonce="rotated"))
        await s.commit()
    assert (await portal(w, "GET", f"/cases/{number_a}", token_a)).status_code == 403

    # The case socket: another origin is refused; a socket token for B's case by A is not one.
    try:
        await connect(f"{w.ws}/ws/visitor?case=1", origin=SHOP)  # type: ignore[arg-type]
        raise AssertionError("a foreign origin opened a case socket")
    except Exception as exc:  # the server answers 403 before accept
        assert "403" in str(exc)
    c = await _case_socket(w, forged(kind=Kind.SOCKET, number=number_b))
    await asyncio.wait_for(c.ws.wait_closed(), 5)
    assert c.ws.close_code == 4401 and not c.frames


async def test_signin_once_and_see_every_case(
        web: WebFactory, org: Org, sm: SessionMaker, settings: Settings, smtp_sink: Sink,
        tmp_path: Path) -> None:
    await _site_form(sm, org)
    [w] = await web(1)
    first = await _new_case(w, "Cust@Example.org", "First")
    second = await _new_case(w, "cust@example.org", "Second")
    other = await _new_case(w, "someone@else.org", "Not yours")
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{w.http}/api/portal/signin", json={"email": "cust@example.org"})
        assert r.status_code == 202
        unknown = await http.post(f"{w.http}/api/portal/signin",
                                  json={"email": "nobody@example.org"})
        assert unknown.status_code == 202 and unknown.json() == r.json()
        bad = await http.post(f"{w.http}/api/portal/signin", json={"email": "not-an-address"})
        assert bad.status_code == 422
    await _work(settings, smtp_sink, tmp_path)
    (signin,) = [m for m in _mails(smtp_sink) if "sign-in" in m["Subject"].lower()]
    assert signin["To"] == "cust@example.org"
    (url,) = re.findall(r"http://127\.0\.0\.1:\d+/c/signin\?t=\S+", _body(signin))
    token = unquote(url.partition("?t=")[2])

    async with httpx.AsyncClient() as http:
        r = await http.post(f"{w.http}/api/portal/signin/redeem", json={"token": token})
        assert r.status_code == 200, r.text
        session = r.json()["token"]
        replay = await http.post(f"{w.http}/api/portal/signin/redeem", json={"token": token})
        assert replay.status_code == 403 and "token" not in replay.json()
        tampered = await http.post(f"{w.http}/api/portal/signin/redeem",
                                   json={"token": token[:-2] + "xx"})
        assert tampered.status_code == 403
    r = await portal(w, "GET", "/cases", session)
    assert r.status_code == 200, r.text
    numbers = {c["number"] for c in r.json()["cases"]}
    assert numbers == {first["number"], second["number"]}
    assert (await portal(w, "GET", f"/cases/{first['number']}", session)).status_code == 200
    assert (await portal(w, "GET", f"/cases/{other['number']}", session)).status_code == 403
    async with sm() as s:
        assert (await s.execute(select(OutboundMail).where(
            OutboundMail.to_address == "nobody@example.org"))).first() is None


async def test_ten_thousand_signin_requests_mail_a_bounded_few(
        web: WebFactory, org: Org, sm: SessionMaker, settings: Settings, smtp_sink: Sink,
        tmp_path: Path) -> None:
    await _site_form(sm, org)
    [w] = await web(1)
    await _new_case(w, "victim@example.org", "Hello")
    statuses: dict[int, int] = {}
    waits: set[str] = set()
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(limits=limits) as http:
        async def one() -> None:
            r = await http.post(f"{w.http}/api/portal/signin",
                                json={"email": "victim@example.org"})
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code == 429:
                waits.add(r.headers["Retry-After"])
                assert set(orjson.loads(r.content)) == {"error"}

        for _ in range(100):
            await asyncio.gather(*(one() for _ in range(100)))
    assert sum(statuses.values()) == 10_000
    assert set(statuses) == {202, 429}, statuses
    assert statuses[202] <= 10 and all(int(s) > 0 for s in waits)
    await _work(settings, smtp_sink, tmp_path)
    to_victim = [m for m in _mails(smtp_sink) if m["To"] == "victim@example.org"]
    # One acknowledgement and at most the per-recipient hourly budget of mail in all.
    assert 1 < len(to_victim) <= settings.mail_per_recipient_per_hour


async def test_the_web_new_case_form_is_the_sites_form(
        web: WebFactory, org: Org, sm: SessionMaker) -> None:
    await _site_form(sm, org)
    [w] = await web(1)
    async with httpx.AsyncClient() as http:
        page = await http.get(f"{w.http}/c/new?site={SITE_KEY}")
        assert page.status_code == 200 and "case.js" in page.text
        r = await http.post(f"{w.http}/api/public/sites/{SITE_KEY}/messages", json={
            "email": "x@example.org", "text": "no name", "channel": "portal",
            "department_id": org.dept})
        assert r.status_code == 422 and "name" in r.text.lower()  # the site's required field
        r = await http.post(f"{w.http}/api/public/sites/{SITE_KEY}/messages", json={
            "name": "X", "email": "x@example.org", "text": "hi", "channel": "fax",
            "department_id": org.dept})
        assert r.status_code == 422
    async with sm() as s:
        assert (await s.execute(select(Contact).where(
            Contact.email == "x@example.org"))).first() is None


async def _signed_in(w: Web, sink: Sink, settings: Settings, tmp_path: Path,
                     email: str) -> str:
    """A session token for ``email`` through the real sign-in mail."""
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{w.http}/api/portal/signin", json={"email": email})
        assert r.status_code == 202
    await _work(settings, sink, tmp_path)
    signin = [m for m in _mails(sink) if m["To"] == email and "sign-in" in m["Subject"].lower()]
    (url,) = re.findall(r"http://127\.0\.0\.1:\d+/c/signin\?t=\S+", _body(signin[-1]))
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{w.http}/api/portal/signin/redeem",
                            json={"token": unquote(url.partition("?t=")[2])})
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


async def test_organisation_members_see_its_cases_only_where_it_shares_them(
        web: WebFactory, org: Org, sm: SessionMaker, settings: Settings, smtp_sink: Sink,
        tmp_path: Path) -> None:
    await _site_form(sm, org)
    async with sm() as s:
        acme = Organisation(name="Acme", domains=["acme.example"], share_cases=False)
        s.add(acme)
        await s.commit()
        acme_id = acme.id
    [w] = await web(1)
    mine = await _new_case(w, "ann@acme.example", "Ann's case")
    theirs = await _new_case(w, "bo@acme.example", "Bo's case")
    token = await _signed_in(w, smtp_sink, settings, tmp_path, "ann@acme.example")
    r = await portal(w, "GET", "/cases", token)
    assert {c["number"] for c in r.json()["cases"]} == {mine["number"]}
    assert (await portal(w, "GET", f"/cases/{theirs['number']}", token)).status_code == 403

    async with sm() as s:
        await s.execute(update(Organisation).where(Organisation.id == acme_id)
                        .values(share_cases=True))
        await s.commit()
    r = await portal(w, "GET", "/cases", token)
    assert {c["number"] for c in r.json()["cases"]} == {mine["number"], theirs["number"]}
    r = await portal(w, "GET", f"/cases/{theirs['number']}", token)
    assert r.status_code == 200 and r.json()["messages"][0]["text"] == "Bo's case"
    r = await portal(w, "POST", f"/cases/{theirs['number']}/status", token, {"status": "closed"})
    assert r.status_code == 200
    r = await portal(w, "POST", f"/cases/{theirs['number']}/rating", token, {"rating": 1})
    assert r.status_code == 403  # the survey is the case's own customer's


async def test_an_ended_chat_shows_but_does_not_reopen(
        web: WebFactory, org: Org, sm: SessionMaker, settings: Settings, smtp_sink: Sink,
        clients: Clients, tmp_path: Path) -> None:
    await _site_form(sm, org)
    [w] = await web(1)
    v = await clients.visitor(w)
    await v.send(type="start_chat", client_id="v1", text="Chat question", department_id=org.dept,
                 email="chatter@example.org", name="Chatter")
    cid = (await v.expect("started"))["conversation_id"]
    await v.expect("ack", client_id="v1")
    await v.send(type="end", conversation_id=cid)
    await v.expect("done", op="end")
    token = await _signed_in(w, smtp_sink, settings, tmp_path, "chatter@example.org")
    r = await portal(w, "GET", "/cases", token)
    (chat,) = r.json()["cases"]
    assert chat["channel"] == "chat" and chat["closed"]
    r = await portal(w, "GET", f"/cases/{chat['number']}", token)
    assert [m["text"] for m in r.json()["messages"]] == ["Chat question"]
    for path, body in (("/messages", {"text": "more"}), ("/status", {"status": "open"})):
        r = await portal(w, "POST", f"/cases/{chat['number']}{path}", token, body)
        assert r.status_code == 409, r.text


async def test_admins_set_a_departments_notify_mode(web: WebFactory, org: Org) -> None:
    [w] = await web(1)
    r = await api(w, "PATCH", f"/api/departments/{org.dept}", "adm@x.test",
                  {"notify_mode": "link"})
    assert r.status_code == 200 and r.json()["notify_mode"] == "link"
    r = await api(w, "PATCH", f"/api/departments/{org.dept}", "adm@x.test",
                  {"notify_mode": "sms"})
    assert r.status_code == 422

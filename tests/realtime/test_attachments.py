"""Attachments against a real web process: uploads both ways (visitor and agent), live delivery
of the file's message, download headers, previews, the content allow-list, the size limits
(streamed and declared), the conversation's limits, and who may fetch what."""

from __future__ import annotations

import asyncio
import io
import time
import zipfile
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
from sqlalchemy import select

from desk import portal
from desk.case_links import Kind
from desk.db import SessionMaker
from desk.models import Attachment, Contact, Conversation
from desk.settings import Settings
from tests.realtime.conftest import (
    CONSOLE,
    SHOP,
    SITE_KEY,
    Clients,
    Org,
    Web,
    WebFactory,
    accepted_chat,
    login,
    start_chat,
)
from tests.realtime.test_portal import WEB_SECRET, _new_case, _site_form

PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde" + b"\0" * 64
PDF = b"%PDF-1.4\n% a small document\n%%EOF\n"
MAX_FILE = 200_000
LIMITS = {"SWITCHBOARD_ATTACHMENT_MAX_BYTES": str(MAX_FILE),
          "SWITCHBOARD_ATTACHMENT_CONVERSATION_FILES": "6"}


async def staff_http(w: Web, email: str) -> httpx.AsyncClient:
    cookie, csrf = await login(w, email)
    return httpx.AsyncClient(base_url=w.http, cookies={"sb_session": cookie},
                             headers={"X-CSRF-Token": csrf, "Origin": CONSOLE})


def visitor_http(w: Web, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=w.http, headers={"Authorization": f"Bearer {token}",
                                                       "Origin": SHOP})


def upload_path(cid: int, name: str, staff: bool = True, **params: str) -> str:
    base = f"/api/conversations/{cid}" if staff else f"/api/visitor/conversations/{cid}"
    extra = "".join(f"&{k}={quote(v)}" for k, v in params.items())
    return f"{base}/attachments?name={quote(name)}{extra}"


def zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * (50 * 1024 * 1024))
    return buf.getvalue()


async def test_both_ways_with_live_delivery_and_safe_downloads(
        web: WebFactory, clients: Clients, org: Org) -> None:
    (w,) = await web(1, **LIMITS)
    v, ana, cid = await accepted_chat(clients, org, w, w)
    assert v.token
    async with visitor_http(w, v.token) as vh, await staff_http(w, "ana@x.test") as ah:
        # The visitor's image: their message, live on Ana's socket with its file.
        r = await vh.post(upload_path(cid, "../../shot\u202egnp.exe", staff=False,
                                      client_id="f1"), content=PNG)
        assert r.status_code == 201, r.text
        assert r.headers["access-control-allow-origin"] == SHOP
        (ref,) = r.json()["files"]
        assert ref["name"] == "shotgnp.exe.png" and ref["preview"] is True
        assert ref["type"] == "image/png" and ref["size"] == len(PNG)
        frame = await ana.expect("message", conversation_id=cid, author_kind="contact",
                                 text=ref["name"])
        assert frame["files"] == [ref]
        again = await vh.post(upload_path(cid, "shot.png", staff=False, client_id="f1"),
                              content=PNG)
        assert again.status_code == 200 and again.json()["seq"] == r.json()["seq"]

        d = await ah.get(f"/api/attachments/{ref['id']}")
        assert d.status_code == 200 and d.content == PNG
        assert d.headers["content-type"] == "application/octet-stream"
        assert d.headers["content-disposition"] == (
            "attachment; filename=\"shotgnp.exe.png\"; filename*=UTF-8''shotgnp.exe.png")
        assert d.headers["x-content-type-options"] == "nosniff"
        assert d.headers["content-security-policy"] == "sandbox"
        p = await ah.get(f"/api/attachments/{ref['id']}/preview")
        assert p.status_code == 200 and p.headers["content-type"] == "image/png"
        assert p.headers["content-disposition"].startswith("inline;")
        assert p.headers["content-security-policy"] == "sandbox"

        # Ana's file back: a public PDF reaches the visitor live; an internal one never.
        r = await ah.post(upload_path(cid, "Rechnung Grüße.pdf"), content=PDF)
        assert r.status_code == 201, r.text
        (pdf,) = r.json()["files"]
        assert pdf["preview"] is False
        frame = await v.expect("message", conversation_id=cid, author_kind="agent")
        assert frame["files"] == [pdf]
        got = await vh.get(f"/api/visitor/attachments/{pdf['id']}")
        assert got.status_code == 200 and got.content == PDF
        assert got.headers["content-disposition"].endswith(
            "filename*=UTF-8''Rechnung%20Gr%C3%BC%C3%9Fe.pdf")
        assert got.headers["access-control-allow-origin"] == SHOP
        assert (await vh.get(f"/api/visitor/attachments/{pdf['id']}?preview=1")
                ).status_code == 404  # not an image: no inline form at all
        note = await ah.post(upload_path(cid, "notes.txt", visibility="internal"),
                             content=b"customer seems upset\n")
        assert note.status_code == 201, note.text
        (secret,) = note.json()["files"]
        assert not [f for f in await v.quiet(0.5) if f["type"] == "message"]
        assert (await vh.get(f"/api/visitor/attachments/{secret['id']}")).status_code == 404
        assert (await ah.get(f"/api/attachments/{secret['id']}")).status_code == 200

        # The replay after a reconnect carries the files too.
        v2 = await clients.visitor(w, v.token)
        await v2.send(type="resume", conversation_id=cid, after_seq=0)
        replayed = [f for f in await v2.quiet(0.8) if f["type"] == "message" and f["files"]]
        assert [f["files"][0]["id"] for f in replayed] == [ref["id"], pdf["id"]]


async def test_disguised_and_oversize_files_are_refused(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    (w,) = await web(1, **LIMITS)
    v, _, cid = await accepted_chat(clients, org, w, w)
    assert v.token
    async with visitor_http(w, v.token) as vh, await staff_http(w, "ana@x.test") as ah:
        for name, body in [
            ("invoice.png", b"MZ\x90\0\x03\0\0\0\x04\0" + b"\0" * 100),  # an .exe named .png
            ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'>"
                         b"<script>alert(document.cookie)</script></svg>"),
            ("page.html", b"<!doctype html><script>alert(1)</script>"),
            ("bomb.zip", zip_bomb()),
        ]:
            r = await vh.post(upload_path(cid, name, staff=False), content=body)
            assert r.status_code == 415, (name, r.text)
            assert r.json()["error"]["code"] == "unsupported_type"
            assert r.headers["access-control-allow-origin"] == SHOP
        # Streamed past the limit without a length: cut off at the limit, 413.
        async def chunks() -> AsyncIterator[bytes]:
            yield PDF
            for _ in range(MAX_FILE // 8192 + 2):
                yield b"x" * 8192

        r = await ah.post(upload_path(cid, "big.pdf"), content=chunks())
        assert r.status_code == 413, r.text
        assert "larger than the limit" in r.json()["error"]["message"]
        # A declared length past the limit: refused before a byte of the body is read.
        cookie, csrf = await login(w, "ana@x.test")
        reader, writer = await asyncio.open_connection("127.0.0.1", w.port)
        writer.write((f"POST /api/conversations/{cid}/attachments?name=x.pdf HTTP/1.1\r\n"
                      f"Host: 127.0.0.1\r\nCookie: sb_session={cookie}\r\n"
                      f"X-CSRF-Token: {csrf}\r\nContent-Length: {10**10}\r\n\r\n").encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 413"), head
        writer.close()
        assert (await vh.post(upload_path(cid, "empty.txt", staff=False), content=b"")
                ).status_code == 422
    async with sm() as s:
        assert (await s.execute(Attachment.__table__.select())).all() == []


async def test_conversation_limit_and_access_rule(web: WebFactory, clients: Clients,
                                                  org: Org) -> None:
    (w,) = await web(1, **LIMITS)
    v, _, cid = await accepted_chat(clients, org, w, w)
    other = await clients.visitor(w)
    other_cid = await start_chat(other, org.dept, client_id="o1")
    assert v.token and other.token
    async with visitor_http(w, v.token) as vh, visitor_http(w, other.token) as oh, \
            await staff_http(w, "ana@x.test") as ah, await staff_http(w, "zed@x.test") as zh:
        r = await vh.post(upload_path(cid, "a.pdf", staff=False), content=PDF)
        assert r.status_code == 201
        file_id = r.json()["files"][0]["id"]
        # Another visitor, another group's agent, no token: nothing.
        assert (await oh.get(f"/api/visitor/attachments/{file_id}")).status_code == 403
        assert (await oh.post(upload_path(cid, "x.pdf", staff=False), content=PDF)
                ).status_code == 403
        assert (await zh.get(f"/api/attachments/{file_id}")).status_code == 403
        assert (await zh.post(upload_path(cid, "x.pdf"), content=PDF)).status_code == 403
        async with httpx.AsyncClient(base_url=w.http) as anon:
            assert (await anon.get(f"/api/visitor/attachments/{file_id}")).status_code == 401
            assert (await anon.get(f"/api/attachments/{file_id}")).status_code == 401
            pre = await anon.options(f"/api/visitor/conversations/{cid}/attachments",
                                     headers={"Origin": SHOP,
                                              "Access-Control-Request-Method": "POST"})
            assert pre.status_code == 204
            assert "Authorization" in pre.headers["access-control-allow-headers"]
            cfg = (await anon.get(f"/api/public/sites/{SITE_KEY}")).json()["attachments"]
            assert cfg["max_file_bytes"] == MAX_FILE and "PNG" in cfg["types"]
        assert (await oh.post(upload_path(other_cid, "mine.pdf", staff=False), content=PDF)
                ).status_code == 201
        # Six files per conversation here: the seventh is refused, whoever sends it.
        for i in range(5):
            assert (await ah.post(upload_path(cid, f"{i}.pdf"), content=PDF)).status_code == 201
        r = await vh.post(upload_path(cid, "7.pdf", staff=False), content=PDF)
        assert r.status_code == 413 and "already holds 6 files" in r.json()["error"]["message"]
        assert (await ah.get("/api/attachments/limits")).json()["max_conversation_files"] == 6


async def test_case_page_files(web: WebFactory, org: Org, sm: SessionMaker,
                               settings: Settings) -> None:
    """The customer's case page (a mailed link's token): upload, the thread's files, downloads;
    never an internal note's file, never another case's."""
    (w,) = await web(1, **LIMITS)
    await _site_form(sm, org)
    number = (await _new_case(w))["number"]
    other = (await _new_case(w, email="someone@example.org"))["number"]
    web_settings = settings.with_(secret_key=WEB_SECRET)

    async def token_for(case: str) -> str:
        async with sm() as s:
            conv = (await s.execute(select(Conversation).where(Conversation.number == case))
                    ).scalar_one()
            contact = await s.get(Contact, conv.contact_id)
        assert contact is not None
        return portal.issue(web_settings, Kind.CASE, contact, 3600, time.time(), number=case)

    mine, theirs = await token_for(number), await token_for(other)
    base = f"/api/portal/cases/{number}"
    async with httpx.AsyncClient(base_url=w.http,
                                 headers={"Authorization": f"Bearer {mine}"}) as cust, \
            httpx.AsyncClient(base_url=w.http,
                              headers={"Authorization": f"Bearer {theirs}"}) as stranger:
        r = await cust.post(f"{base}/attachments?name=crack.png&client_id=c1", content=PNG)
        assert r.status_code == 201, r.text
        (ref,) = r.json()["files"]
        assert ref["preview"] is True and ref["name"] == "crack.png"
        assert (await cust.post(f"{base}/attachments?name=x.png", content=b"MZ\x90\0" * 8)
                ).status_code == 415
        got = await cust.get(f"{base}/attachments/{ref['id']}")
        assert got.status_code == 200 and got.content == PNG
        assert got.headers["content-disposition"].startswith("attachment;")
        assert got.headers["content-security-policy"] == "sandbox"
        assert (await cust.get(f"{base}/attachments/{ref['id']}?preview=1")
                ).headers["content-type"] == "image/png"
        # Another customer: neither through their own case's path nor through this one's.
        assert (await stranger.get(f"/api/portal/cases/{other}/attachments/{ref['id']}")
                ).status_code == 403
        assert (await stranger.get(f"{base}/attachments/{ref['id']}")).status_code == 403
        assert (await stranger.post(f"{base}/attachments?name=y.pdf", content=PDF)
                ).status_code == 403

        async with sm() as s:
            conv_id = (await s.execute(select(Conversation.id).where(
                Conversation.number == number))).scalar_one()
        async with await staff_http(w, "adm@x.test") as admin:
            note = await admin.post(upload_path(conv_id, "internal.pdf", visibility="internal"),
                                    content=PDF)
            reply = await admin.post(upload_path(conv_id, "label.pdf"), content=PDF)
        assert note.status_code == 201 and reply.status_code == 201
        (hidden,), (shown,) = note.json()["files"], reply.json()["files"]
        assert (await cust.get(f"{base}/attachments/{hidden['id']}")).status_code == 404
        assert (await cust.get(f"{base}/attachments/{shown['id']}")).content == PDF
        thread = (await cust.get(base)).json()
        assert [f["id"] for m in thread["messages"] for f in m["files"]] == [
            ref["id"], shown["id"]]
        assert thread["attachments"]["max_file_bytes"] == MAX_FILE

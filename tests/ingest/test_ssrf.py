"""SSRF and tracking (RELIABILITY 8): mail HTML never makes anyone fetch anything remote.

The server only parses and stores; what it stores is sanitised so that the console, showing
it, cannot be made to load remote images, tracking pixels, or URLs of its own origin. Inline
images (``cid:``) point at the mail's own stored attachments or are dropped.
"""

from __future__ import annotations

import asyncio
import base64
import re

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from desk.models import Attachment, Message
from ingest.mime import parse, resolve_cids, sanitize_html
from tests.ingest import corpus
from tests.ingest.conftest import Records
from tests.ingest.harness import eventually, running
from tests.support.dovecot import Dovecot

PIXEL = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40).decode()


def _remote_html(origin: str) -> str:
    return f"""<html><head>
<link rel="stylesheet" href="{origin}/a.css"><style>@import url({origin}/b.css);
body {{ background: url({origin}/c.png) }}</style>
<meta http-equiv="refresh" content="0; url={origin}/d"><base href="{origin}/">
</head><body background="{origin}/e.png">
<p>Hello<img src="{origin}/pixel.gif?u=alice" width="1" height="1"></p>
<img src="//{origin.split('//')[1]}/protocol-relative.gif"><img src="/api/logout">
<img srcset="{origin}/f.png 1x, {origin}/g.png 2x" alt="several">
<img src=" {origin}/spaced.gif"><IMG SRC="{origin.upper()}/upper.gif">
<img src="data:image/png;base64,{PIXEL}"><img src="javascript:alert(1)">
<div style="background-image:url({origin}/h.png)">styled</div>
<table background="{origin}/i.png"><tr><td background="{origin}/j.png">cell</td></tr></table>
<video poster="{origin}/k.png" src="{origin}/l.mp4"></video><audio src="{origin}/m.mp3"></audio>
<svg><image href="{origin}/n.png"/></svg><object data="{origin}/o"></object>
<iframe src="{origin}/p"></iframe><embed src="{origin}/q"><input type="image" src="{origin}/r">
<script src="{origin}/s.js"></script>
<img src="cid:logo@example.org" alt="logo"><img src="cid:missing@example.org" alt="gone">
<a href="{origin}/t">a link stays a link</a>
</body></html>"""


def _mail(origin: str, *, message_id: str = "<html@example.org>") -> bytes:
    html = _remote_html(origin)
    return (
        "From: Alice <alice@example.org>\r\nTo: support@desk.example\r\n"
        f"Subject: pictures\r\nMessage-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/related; boundary="rel"\r\n\r\n'
        "--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f"{html}\r\n"
        "--rel\r\nContent-Type: image/png; name=logo.png\r\n"
        "Content-Transfer-Encoding: base64\r\nContent-ID: <logo@example.org>\r\n"
        "Content-Disposition: inline; filename=logo.png\r\n\r\n"
        f"{PIXEL}\r\n--rel--\r\n"
    ).encode()


def _urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href|srcset|background|poster|data)="([^"]*)"', html)


def test_sanitised_html_keeps_no_remote_or_relative_reference() -> None:
    html = sanitize_html(_remote_html("http://tracker.example"))
    assert "tracker.example/t" in html  # the plain link is kept (with rel=noopener)
    low = html.lower()
    for needle in ("pixel", "protocol-relative", "logout", "srcset", "spaced", "upper",
                   "data:", "javascript", "style=", "<style", "background", "poster", "<video",
                   "<svg", "<object", "<iframe", "<embed", "<input", "<script", "<link",
                   "<meta", "<base", "a.css", "b.css"):
        assert needle not in low, needle
    assert [u for u in _urls(html) if not u.startswith("cid:")] == ["http://tracker.example/t"]
    assert 'src="cid:logo@example.org"' in html


def test_cid_images_point_at_stored_attachments_or_are_dropped() -> None:
    html = sanitize_html('<img src="cid:Logo%40Example.org" alt="x>y"><img src="cid:nope">'
                         '<p>src="cid:logo@example.org" as text</p>')
    out = resolve_cids(html, {"logo@example.org": "/api/attachments/7"})
    assert out.startswith('<img src="/api/attachments/7" alt="x&gt;y"><img>')
    assert 'as text' in out and out.count("/api/attachments/") == 1
    assert resolve_cids("<p>plain</p>", {}) == "<p>plain</p>"


def test_parsed_mail_html_is_neutralised() -> None:
    mail = parse(_mail("https://tracker.example"))
    assert "tracker.example/pixel" not in mail.html
    (logo,) = mail.attachments
    assert logo.inline and logo.content_id == "<logo@example.org>"


async def test_import_fetches_nothing_and_maps_inline_images(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis
) -> None:
    # A listener the mail points at: the import (and anything it triggers) must never call it.
    calls: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        calls.append(await reader.read(1000))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    box = await records.mailbox(dovecot)
    dovecot.deliver(_mail(f"http://127.0.0.1:{port}"))
    try:
        async with running(records, redis, box) as run:
            await eventually(lambda: run.routed)
            await run.poller.synced.wait()
        await asyncio.sleep(0.2)
    finally:
        server.close()
        await server.wait_closed()
    assert calls == []
    async with records.sm() as s:
        msg = (await s.execute(select(Message))).scalar_one()
        (att,) = (await s.execute(select(Attachment))).scalars().all()
    assert msg.body_html is not None and f"127.0.0.1:{port}" in msg.body_html  # the link
    srcs = re.findall(r'src="([^"]*)"', msg.body_html)
    assert srcs == [f"/api/attachments/{att.id}/preview"]
    assert (att.filename, att.message_id) == ("logo.png", msg.id)
    assert "pixel" not in msg.body_html and "cid:" not in msg.body_html


@pytest.mark.parametrize("name", ["xss_subject_and_names.eml"])
def test_corpus_html_has_no_remote_images(name: str) -> None:
    mail = parse(corpus.files()[name])
    assert not [u for u in re.findall(r'<img[^>]*src="([^"]*)"', mail.html)
                if not u.startswith("cid:")]

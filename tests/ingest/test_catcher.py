"""The demo's mail catcher: what the desk sends over SMTP is listed on its page, escaped."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib
import httpx

from desk.embedded import free_port
from desk.settings import Settings
from ingest.catcher import Catcher, Caught, _linked, _mail_page, serve


def _mail(subject: str, text: str, rich: str | None = None) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Support <support@desk.example>"
    mail["To"] = "olivia@acme.example"
    mail["Subject"] = subject
    mail.set_content(text)
    if rich is not None:
        mail.add_alternative(rich, subtype="html")
    return mail


def test_links_in_text_are_clickable_and_the_rest_is_escaped() -> None:
    out = _linked('Follow it at https://help.example/c/SB-1?t=a&b <script>x</script>')
    assert '<a href="https://help.example/c/SB-1?t=a&amp;b">' in out
    assert "&lt;script&gt;" in out and "<script>" not in out


def test_a_mail_page_never_runs_what_the_mail_carries() -> None:
    raw = _mail("<img src=x onerror=alert(1)>", "hi",
                "<p>hi</p><script>alert(1)</script>").as_bytes()
    page = _mail_page(Caught(1, datetime.now(UTC), "a@b", ("c@d",), raw))
    assert "<img src=x" not in page and "<script>alert" not in page
    assert '<iframe sandbox title="HTML part" srcdoc="&lt;p&gt;hi' in page


def test_catcher_keeps_the_newest_mails_only() -> None:
    catcher = Catcher(keep=2)
    for i in range(3):
        catcher.mails.appendleft(Caught(i + 1, datetime.now(UTC), "", (), b""))
    assert [m.number for m in catcher.mails] == [3, 2]


async def test_mail_sent_over_smtp_is_listed_on_the_page() -> None:
    smtp_port, http_port = free_port(), free_port()
    settings = Settings()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, smtp_port, http_port, stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as http:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/api/mails")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            assert (await http.get("/")).text.count("No mail yet") == 1
            await aiosmtplib.send(_mail("Re: Printer on fire [SB-7]",
                                        "See https://help.example/c/SB-7"),
                                  hostname="127.0.0.1", port=smtp_port)
            (listed,) = (await http.get("/api/mails")).json()
            assert listed["subject"] == "Re: Printer on fire [SB-7]"
            assert listed["to"] == ["olivia@acme.example"]
            index = (await http.get("/")).text
            assert 'href="/mail/1"' in index and "Printer on fire" in index
            page = (await http.get("/mail/1")).text
            assert '<a href="https://help.example/c/SB-7">' in page
            assert (await http.get("/mail/99")).status_code == 404
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)

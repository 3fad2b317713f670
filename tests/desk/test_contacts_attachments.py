from __future__ import annotations

from pathlib import Path

import pytest

from desk.attachments import display_name, path_for, store_attachment
from desk.contacts import contact_for_email, new_visitor, priority_for
from desk.conversations import create_conversation
from desk.db import SessionMaker
from desk.errors import InvalidInput, NotFound
from desk.models import Organisation


async def test_typed_email_never_reuses_a_customer(sm: SessionMaker) -> None:
    customer = await contact_for_email(sm, "Boss@Acme.example", "Boss")
    assert customer.email_verified and customer.email == "boss@acme.example"
    assert (await contact_for_email(sm, "boss@acme.example")).id == customer.id
    visitor = await new_visitor(sm, name="Mallory", email="boss@acme.example")
    assert visitor.id != customer.id and not visitor.email_verified
    assert visitor.token_nonce and visitor.token_nonce != customer.token_nonce


async def test_organisation_by_domain_or_phone(sm: SessionMaker) -> None:
    async with sm() as s:
        s.add(Organisation(name="Acme", domains=["acme.example"], phones=["+1 555 0100"],
                           priority=0))
        await s.commit()
    by_mail = await contact_for_email(sm, "x@ACME.example")
    by_phone = await new_visitor(sm, name="P", email=None, phone="+1-555-0100")
    stranger = await new_visitor(sm, name="S", email="s@other.example")
    assert by_mail.organisation_id is not None
    assert by_phone.organisation_id == by_mail.organisation_id
    assert stranger.organisation_id is None
    assert await priority_for(sm, by_mail.id) == 0
    assert await priority_for(sm, stranger.id) == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Windows\\boot.ini", "boot.ini"),
        ("C:boot.ini", "boot.ini"),
        ("evil\x00.txt", "evil.txt"),
        ("", "attachment"),
        (None, "attachment"),
        ("...", "attachment"),
        ("<img src=x onerror=alert(1)>.png", "<img src=x onerror=alert(1)>.png"),
        ("a" * 300 + ".pdf", "a" * 251 + ".pdf"),
        ("line\nbreak.txt", "linebreak.txt"),
    ],
)
def test_display_names_are_safe(raw: str | None, expected: str) -> None:
    assert display_name(raw) == expected


async def test_storage_uses_generated_keys(sm: SessionMaker, tmp_path: Path) -> None:
    conv = await create_conversation(sm, channel="email")
    att = await store_attachment(sm, tmp_path, conversation_id=conv.id, message_id=None,
                                 filename="../../x.svg", content_type="image/svg+xml; x=y",
                                 data=b"<svg/>", max_bytes=100)
    stored = path_for(tmp_path, att.storage_key)
    assert stored.read_bytes() == b"<svg/>"
    assert stored.is_relative_to(tmp_path / "attachments")
    assert att.filename == "x.svg" and att.content_type == "image/svg+xml"
    with pytest.raises(InvalidInput):
        await store_attachment(sm, tmp_path, conversation_id=conv.id, message_id=None,
                               filename="big", content_type=None, data=b"x" * 101, max_bytes=100)
    with pytest.raises(NotFound):
        path_for(tmp_path, "../etc")

"""Attachment storage: files live under generated keys; the sender's name is display-only.

A name like ``../../x``, ``C:\\boot.ini`` or one with NUL bytes never reaches the file system: the
storage key is random, the display name is cleaned, and downloads are served as attachments with
``nosniff`` so an uploaded SVG/HTML/JS file is never rendered by the browser.
"""

from __future__ import annotations

import secrets
import unicodedata
from pathlib import Path

from desk.db import SessionMaker
from desk.errors import InvalidInput, NotFound
from desk.limits import CONTENT_TYPE_MAX, FILENAME_MAX
from desk.models import Attachment


def display_name(raw: str | None) -> str:
    """A safe display name: no path parts, no control characters, bounded length."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".").strip()
    if ":" in name:
        name = name.rsplit(":", 1)[-1].strip()
    if not name:
        return "attachment"
    if len(name) > FILENAME_MAX:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: FILENAME_MAX - len(ext) - 1] + "." + ext) if dot and len(ext) < 16 \
            else name[:FILENAME_MAX]
    return name


def storage_root(data_dir: Path) -> Path:
    return data_dir / "attachments"


def path_for(data_dir: Path, key: str) -> Path:
    if not key.isalnum():
        raise NotFound("no such attachment")
    return storage_root(data_dir) / key[:2] / key


async def store_attachment(
    sm: SessionMaker,
    data_dir: Path,
    *,
    conversation_id: int,
    message_id: int | None,
    filename: str | None,
    content_type: str | None,
    data: bytes,
    max_bytes: int,
) -> Attachment:
    if len(data) > max_bytes:
        raise InvalidInput(f"attachment larger than {max_bytes} bytes")
    key = secrets.token_hex(20)
    path = path_for(data_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    ctype = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    ctype = ctype[:CONTENT_TYPE_MAX]
    row = Attachment(conversation_id=conversation_id, message_id=message_id, storage_key=key,
                     filename=display_name(filename), content_type=ctype, size=len(data))
    async with sm() as s:
        s.add(row)
        await s.commit()
    return row

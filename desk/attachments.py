"""Attachment storage and serving: files live under generated keys; the sender's name is
display-only; what a file is comes from its bytes (``desk.filetypes``).

A name like ``../../x``, ``C:\\boot.ini`` or one with NUL bytes never reaches the file system: the
storage key is random and the display name is cleaned. An upload streams to a temporary file in
the storage folder with a byte count (past the per-file limit: 413, reading no further), is
classified by content (not on the allow-list: 415), then becomes ONE message (its body the
file's name, ``Message.files`` the reference every reader is shown) and its ``Attachment`` row
in one transaction; the transaction's seq reservation locks the conversation row, so the
per-conversation limits (bytes, files) are checked against what is really there. Downloads are
``Content-Disposition: attachment`` (RFC 6266 ``filename*``) under ``Content-Security-Policy:
sandbox`` (and ``nosniff``, which the web app's middleware puts on every response); only
content that really is PNG/JPEG/GIF/WebP is ever served inline (the preview).

Who may fetch one is the conversation's rule: ``Principal.can_access`` for staff, the
conversation's own contact for a visitor, and never an internal note's file for a visitor
(``desk.visibility``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from starlette.requests import ClientDisconnect
from starlette.responses import FileResponse, Response

from desk import filetypes
from desk.auth import Principal
from desk.db import SessionMaker
from desk.errors import Forbidden, InvalidInput, NotFound, TooLarge, UnsupportedType
from desk.filetypes import Kind
from desk.limits import CONTENT_TYPE_MAX
from desk.models import Attachment, Conversation, Message, utcnow
from desk.seq import reserve_seq
from desk.settings import Settings
from desk.visibility import readable

# After a refusal for size the rest of the body is read and dropped (so the client reads the
# 413 instead of a reset connection), up to this much; past it the connection is just closed.
DRAIN_MAX = 16 * 1024 * 1024


def storage_root(data_dir: Path) -> Path:
    return data_dir / "attachments"


def path_for(data_dir: Path, key: str) -> Path:
    if not key.isalnum():
        raise NotFound("no such attachment")
    return storage_root(data_dir) / key[:2] / key


def new_key() -> str:
    return secrets.token_hex(20)


def file_ref(att: Attachment, kind: Kind | None) -> dict[str, Any]:
    """How a message shows one of its files (``Message.files``, the message frames, the API)."""
    return {"id": att.id, "name": att.filename, "size": att.size, "type": att.content_type,
            "preview": bool(kind and kind.preview)}


def public_limits(settings: Settings) -> dict[str, Any]:
    """What a client needs to refuse a file before uploading it (the public site config and
    the console): sizes, and the kinds accepted with their usual extensions."""
    return {
        "max_file_bytes": settings.attachment_max_bytes,
        "max_conversation_bytes": settings.attachment_conversation_bytes,
        "max_conversation_files": settings.attachment_conversation_files,
        "types": [k.label for k in filetypes.ALLOWED],
        "extensions": sorted({e for k in filetypes.ALLOWED for e in k.extensions}),
    }


# --- receiving an upload ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Upload:
    path: Path  # a temporary file in the storage folder, moved under its key when stored
    size: int
    kind: Kind

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"the file is larger than the limit of {_mib(limit)}")


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n // 1024} KiB"


async def receive(chunks: AsyncIterator[bytes], declared: str | None, data_dir: Path,
                  max_bytes: int) -> Upload:
    """Stream an upload body to a temporary file, never more than ``max_bytes`` of it, and
    classify it by content. Raises TooLarge (413), UnsupportedType (415), InvalidInput."""
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    root = storage_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f"upload-{secrets.token_hex(12)}"
    size, head, text = 0, b"", filetypes.TextCheck()
    try:
        with tmp.open("wb") as out, _interruption():
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    await _drain(chunks)
                    raise _too_large(max_bytes)
                if len(head) < filetypes.HEAD_BYTES:
                    head += chunk[: filetypes.HEAD_BYTES - len(head)]
                text.feed(chunk)
                out.write(chunk)
        text.feed(b"", final=True)
        if size == 0:
            raise InvalidInput("the file is empty")
        kind = _classify(tmp, head, text.ok)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return Upload(tmp, size, kind)


@contextlib.contextmanager
def _interruption() -> Iterator[None]:
    """A client gone mid-upload is bad input (the answer will not reach it), not a crash."""
    try:
        yield
    except ClientDisconnect:
        raise InvalidInput("the upload was interrupted") from None


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    dropped = 0
    async for chunk in chunks:
        dropped += len(chunk)
        if dropped > DRAIN_MAX:
            return


def _classify(path: Path, head: bytes, text_ok: bool) -> Kind:
    kind = filetypes.sniff(head)
    if kind is filetypes.TEXT and not text_ok:
        kind = None
    if kind is None:
        raise UnsupportedType("this type of file is not accepted (the content decides, not "
                              f"the name); accepted: {filetypes.allowed_labels()}")
    if kind.archive:
        entries = _zip_entries(path)
        reason = "not a readable ZIP archive" if entries is None else \
            filetypes.zip_refusal(entries)
        if reason or entries is None:
            raise UnsupportedType(f"archive refused: {reason}")
        kind = filetypes.zip_kind(entries)
    return kind


def _zip_entries(path: Path) -> list[filetypes.ZipEntry] | None:
    """The archive's directory as it declares itself (nothing is unpacked)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return [filetypes.ZipEntry(i.filename, i.compress_size, i.file_size, i.header_offset)
                    for i in zf.infolist()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return None


# --- storing it as a message ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Author:
    kind: str  # contact | agent | supervisor
    id: int | None
    name: str | None


async def post_file(sm: SessionMaker, settings: Settings, upload: Upload, *,
                    conversation_id: int, author: Author, filename: str | None,
                    visibility: str = "public",
                    client_id: str | None = None) -> tuple[Message, bool]:
    """Store the upload as one message of the conversation; ``(message, created)`` as
    ``append_message`` answers (the same ``client_id`` again: the first message, not stored
    twice). Past the conversation's limits: TooLarge, and nothing is written."""
    name = filetypes.named_for(filename, upload.kind)
    key = new_key()
    final = path_for(settings.data_dir, key)
    try:
        async with sm() as s:
            if client_id is not None:
                existing = (await s.execute(select(Message).where(
                    Message.conversation_id == conversation_id,
                    Message.client_id == client_id))).scalar_one_or_none()
                if existing is not None:
                    return existing, False
            seq = await reserve_seq(s, conversation_id)  # locks the conversation's row
            count, used = (await s.execute(
                select(func.count(Attachment.id), func.coalesce(func.sum(Attachment.size), 0))
                .where(Attachment.conversation_id == conversation_id))).one()
            _check_room(settings, int(count), int(used), upload.size)
            msg = Message(conversation_id=conversation_id, seq=seq, author_kind=author.kind,
                          author_id=author.id, author_name=author.name, visibility=visibility,
                          client_id=client_id, body=name, created_at=utcnow())
            s.add(msg)
            await s.flush()
            att = Attachment(conversation_id=conversation_id, message_id=msg.id,
                             storage_key=key, filename=name,
                             content_type=upload.kind.mime[:CONTENT_TYPE_MAX], size=upload.size)
            s.add(att)
            await s.flush()
            msg.files = [file_ref(att, upload.kind)]
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(upload.path, final)
            try:
                await s.commit()
            except IntegrityError:
                final.unlink(missing_ok=True)
                raise InvalidInput("the same client_id was sent twice at once; retry") from None
            return msg, True
    finally:
        upload.discard()


def _check_room(settings: Settings, count: int, used: int, size: int) -> None:
    if count + 1 > settings.attachment_conversation_files:
        raise TooLarge(f"this conversation already holds {count} files, the limit")
    if used + size > settings.attachment_conversation_bytes:
        raise TooLarge(f"this conversation's files would pass the limit of "
                       f"{_mib(settings.attachment_conversation_bytes)} "
                       f"({_mib(used)} used)")


def inbound_file(root: Path, *, conversation_id: int, message_id: int, filename: str,
                 data: bytes) -> tuple[Attachment, Kind | None]:
    """An attachment that came by mail: stored whatever it is (the agent decides), typed by
    its content (an unknown kind is ``application/octet-stream``), previewable only when it
    really is a raster image. Returns the row (to add) and the kind found."""
    kind = filetypes.sniff(data[: filetypes.HEAD_BYTES])
    if kind is filetypes.TEXT:
        check = filetypes.TextCheck()
        check.feed(data, final=True)
        kind = kind if check.ok else None
    key = new_key()
    path = root / key[:2] / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    name = filetypes.named_for(filename, kind) if kind else filetypes.display_name(filename)
    row = Attachment(conversation_id=conversation_id, message_id=message_id, storage_key=key,
                     filename=name, content_type=kind.mime if kind else filetypes.OCTET,
                     size=len(data))
    return row, kind


# --- serving it ---------------------------------------------------------------------------------


async def for_staff(sm: SessionMaker, p: Principal, attachment_id: int) -> Attachment:
    """The attachment, if this agent may read its conversation and its message."""
    async with sm() as s:
        att = await s.get(Attachment, attachment_id)
        if att is None:
            raise NotFound("attachment not found")
        conv = await s.get(Conversation, att.conversation_id)
        msg = await s.get(Message, att.message_id) if att.message_id is not None else None
    if conv is None or not p.can_access(conv.group_id):
        raise Forbidden("not a conversation of your groups")
    kind = "supervisor" if p.is_supervisor else "agent"
    if msg is not None and not readable(kind, msg.visibility, msg.whisper_to == p.agent_id):
        raise Forbidden("not a message you may read")
    return att


async def for_contact(sm: SessionMaker, contact_id: int, attachment_id: int) -> Attachment:
    """The attachment, if it is on a message this contact may read in their own
    conversation (an internal note's file is not)."""
    async with sm() as s:
        att = await s.get(Attachment, attachment_id)
        conv = await s.get(Conversation, att.conversation_id) if att else None
        msg = await s.get(Message, att.message_id) if att and att.message_id else None
    if att is None or conv is None:
        raise NotFound("attachment not found")
    if conv.contact_id != contact_id:
        raise Forbidden("not your conversation")
    if msg is None or not readable("contact", msg.visibility, False):
        raise NotFound("attachment not found")
    return att


def previewable(att: Attachment) -> bool:
    kind = filetypes.BY_MIME.get(att.content_type)
    return bool(kind and kind.preview)


def serve(settings: Settings, att: Attachment, *, preview: bool = False,
          headers: dict[str, str] | None = None) -> Response:
    """The download (or, for a real raster image, the inline preview)."""
    if preview and not previewable(att):
        raise NotFound("no preview: not an image")
    path = path_for(settings.data_dir, att.storage_key)
    if not path.exists():
        raise NotFound("attachment content is missing")
    return FileResponse(path, media_type=att.content_type if preview else filetypes.OCTET,
                        headers={
                            "Content-Disposition": filetypes.content_disposition(
                                att.filename, "inline" if preview else "attachment"),
                            "Content-Security-Policy": "sandbox",
                            "Cache-Control": "private, no-store",
                            **(headers or {}),
                        })

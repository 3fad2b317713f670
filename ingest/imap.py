"""A thin, fault-aware wrapper around aioimaplib for one mailbox folder.

aioimaplib 2.0.3 does not notice a server that dies during IDLE (its state stays SELECTED and
the IDLE future never resolves), and several of its calls have no timeout. So here: every call
runs under ``asyncio.timeout``; the connection-lost callback sets an event that IDLE waits on
alongside the server's pushes; any failure raises ``ImapFailure`` and the session is thrown
away — the poller reconnects with backoff. IDLE is re-issued every ``idle_s`` (< 29 minutes,
RFC 2177), and servers without IDLE are polled.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aioimaplib

from ingest.errors import ImapFailure

_FETCH_START = re.compile(rb"^\d+ FETCH \(")
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
_EXISTS = re.compile(rb"^(\d+) EXISTS")
MAX_IDLE_S = 29 * 60 - 30
IDLE_S = 25 * 60  # how often IDLE is re-issued unless a mailbox's poll interval says sooner


@dataclass(frozen=True, slots=True)
class ImapConfig:
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    security: str = "tls"  # none | starttls | tls
    folder: str = "INBOX"
    timeout_s: float = 30.0
    idle_s: float = IDLE_S


@dataclass(frozen=True, slots=True)
class FolderState:
    uidvalidity: int
    uidnext: int | None
    exists: int


@dataclass(frozen=True, slots=True)
class FetchedItem:
    """One FETCH response: metadata plus the literal that came with it (header or body)."""

    uid: int
    size: int
    flags: frozenset[str]
    data: bytes


def uid_set(uids: Iterable[int]) -> str:
    """Compact ``1:3,7,9:10`` form of sorted UIDs."""
    ordered = sorted(set(uids))
    runs: list[str] = []
    start = prev = None
    for uid in ordered:
        if start is None:
            start = prev = uid
        elif prev is not None and uid == prev + 1:
            prev = uid
        else:
            runs.append(f"{start}:{prev}" if start != prev else str(start))
            start = prev = uid
    if start is not None:
        runs.append(f"{start}:{prev}" if start != prev else str(start))
    return ",".join(runs)


def parse_fetch(lines: Sequence[Any]) -> list[FetchedItem]:
    """Group aioimaplib's flat FETCH lines (text, literal, text...) into items."""
    items: list[FetchedItem] = []
    meta = b""
    data = b""
    started = False

    def flush() -> None:
        uid = _UID.search(meta)
        if started and uid is not None:
            size = _SIZE.search(meta)
            flags = _FLAGS.search(meta)
            items.append(FetchedItem(
                uid=int(uid.group(1)),
                size=int(size.group(1)) if size else len(data),
                flags=frozenset(flags.group(1).decode(errors="replace").split()) if flags
                else frozenset(),
                data=data,
            ))

    for line in lines:
        if isinstance(line, bytearray):
            data = bytes(line)
            continue
        if not isinstance(line, bytes):
            continue
        if _FETCH_START.match(line):
            flush()
            meta, data, started = line, b"", True
        elif started:
            meta += b" " + line
    flush()
    return items


class ImapSession:
    """One connection, logged in, with the folder selected. Not reusable after a failure."""

    def __init__(self, config: ImapConfig) -> None:
        self.config = config
        self._client: aioimaplib.IMAP4 | None = None
        self._lost = asyncio.Event()
        self.state: FolderState | None = None

    @property
    def client(self) -> aioimaplib.IMAP4:
        if self._client is None or self._lost.is_set():
            raise ImapFailure("not connected")
        return self._client

    async def _call(self, coro: Any, what: str, limit_s: float | None = None) -> Any:
        try:
            async with asyncio.timeout(limit_s or self.config.timeout_s):
                response = await coro
        except TimeoutError:
            self._lost.set()
            raise ImapFailure(f"IMAP {what} timed out") from None
        except (OSError, aioimaplib.Abort, aioimaplib.Error, aioimaplib.CommandTimeout) as exc:
            self._lost.set()
            raise ImapFailure(f"IMAP {what} failed: {exc}") from exc
        if self._lost.is_set():
            raise ImapFailure(f"connection lost during {what}")
        if isinstance(response, aioimaplib.Response) and response.result != "OK":
            raise ImapFailure(f"IMAP {what}: {response.result} {response.lines[-1:]!r}")
        return response

    async def connect(self) -> FolderState:
        cfg = self.config
        lost = self._lost

        def on_lost(_exc: Exception | None) -> None:
            lost.set()

        try:
            if cfg.security == "tls":
                self._client = aioimaplib.IMAP4_SSL(
                    host=cfg.host, port=cfg.port, timeout=cfg.timeout_s,
                    ssl_context=ssl.create_default_context(),
                )
                self._client.protocol.conn_lost_cb = on_lost
            else:
                self._client = aioimaplib.IMAP4(
                    host=cfg.host, port=cfg.port, timeout=cfg.timeout_s, conn_lost_cb=on_lost
                )
        except OSError as exc:
            raise ImapFailure(f"IMAP connect failed: {exc}") from exc
        await self._call(self._client.wait_hello_from_server(), "greeting")
        if cfg.security == "starttls":
            raise ImapFailure("STARTTLS is not supported by this IMAP client; use tls or none")
        await self._call(self._client.login(cfg.username, cfg.password), "login")
        response = await self._call(self._client.select(cfg.folder), "select")
        self.state = _folder_state(response.lines)
        return self.state

    async def fetch_headers(self, first_uid: int, limit: int) -> list[FetchedItem]:
        """Size, flags and header block of up to ``limit`` mails with UID >= first_uid."""
        search = await self._call(self.client.uid_search(f"UID {first_uid}:*", charset=None),
                                  "search")
        uids = sorted(u for u in _search_uids(search.lines) if u >= first_uid)[:limit]
        if not uids:
            return []
        response = await self._call(
            self.client.uid("fetch", uid_set(uids), "(UID RFC822.SIZE FLAGS BODY.PEEK[HEADER])"),
            "fetch headers",
        )
        return sorted(parse_fetch(response.lines), key=lambda i: i.uid)

    async def fetch_bodies(self, uids: Sequence[int]) -> dict[int, bytes]:
        if not uids:
            return {}
        response = await self._call(
            self.client.uid("fetch", uid_set(uids), "(UID BODY.PEEK[])"), "fetch bodies",
            limit_s=self.config.timeout_s * 4,
        )
        return {item.uid: item.data for item in parse_fetch(response.lines)}

    async def mark_seen(self, uids: Sequence[int]) -> None:
        if uids:
            await self._call(
                self.client.uid("store", uid_set(uids), "+FLAGS.SILENT", r"(\Seen)"), "store"
            )

    async def wait_for_change(self, max_wait_s: float) -> bool:
        """IDLE until the server reports new mail (True) or ``max_wait_s`` passes (False).

        Without IDLE support this just sleeps (the caller then polls). A dropped connection
        raises ``ImapFailure`` at once, rather than hanging as aioimaplib alone would.
        """
        client = self.client
        wait_s = min(max_wait_s, self.config.idle_s, MAX_IDLE_S)
        if not client.has_capability("IDLE"):
            await self._sleep_or_lost(wait_s)
            return False
        idle = await self._call(client.idle_start(timeout=wait_s), "idle")
        changed = False
        lost_task = asyncio.ensure_future(self._lost.wait())
        try:
            async with asyncio.timeout(wait_s + self.config.timeout_s):
                while True:
                    push = asyncio.ensure_future(client.wait_server_push(timeout=wait_s + 1))
                    done, _ = await asyncio.wait({push, lost_task},
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if lost_task in done:
                        push.cancel()
                        raise ImapFailure("connection lost during IDLE")
                    lines = push.result()
                    if lines == aioimaplib.STOP_WAIT_SERVER_PUSH:
                        break
                    if any(_EXISTS.match(bytes(x)) for x in lines if isinstance(x, bytes)):
                        changed = True
                        break
        except TimeoutError:
            self._lost.set()
            raise ImapFailure("IDLE did not end in time") from None
        finally:
            lost_task.cancel()
        if client.has_pending_idle() and not self._lost.is_set():
            client.idle_done()
        await self._call(idle, "idle done")
        return changed

    async def _sleep_or_lost(self, seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                await self._lost.wait()
        except TimeoutError:
            return
        raise ImapFailure("connection lost")

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if not self._lost.is_set():
            try:
                async with asyncio.timeout(2):
                    if client.has_pending_idle():  # stopped mid-IDLE: no LOGOUT reply before DONE
                        client.idle_done()
                    await client.logout()
            except Exception:  # the connection is being discarded either way
                pass
        transport = getattr(client.protocol, "transport", None)
        if transport is not None:
            transport.close()


def _folder_state(lines: Sequence[Any]) -> FolderState:
    validity = uidnext = None
    exists = 0
    for line in lines:
        if not isinstance(line, bytes):
            continue
        if (m := _UIDVALIDITY.search(line)) is not None:
            validity = int(m.group(1))
        if (m := _UIDNEXT.search(line)) is not None:
            uidnext = int(m.group(1))
        if (m := _EXISTS.match(line)) is not None:
            exists = int(m.group(1))
    if validity is None:
        raise ImapFailure("server sent no UIDVALIDITY on SELECT")
    return FolderState(validity, uidnext, exists)


def _search_uids(lines: Sequence[Any]) -> list[int]:
    out: list[int] = []
    for line in lines:
        if isinstance(line, bytes) and not line.startswith((b"SEARCH completed", b"Search")):
            out.extend(int(tok) for tok in line.split() if tok.isdigit())
    return out

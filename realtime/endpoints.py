"""The three WebSocket endpoints (the visitor-session HTTP endpoint is in ``public_http``).

Every upgrade is checked BEFORE accept: the Origin against the site's allowed origins (visitor,
site named by ``?site=<public site key>``) or the console origins (agent, supervisor), and for
staff the session cookie (and the supervisor role on /ws/supervisor). A refusal closes before
accept, which the server answers with HTTP 403. Visitors authenticate with the first frame
(``auth`` with the token from ``POST /api/visitor/session``), never in the URL; a socket that has
not authenticated within ``Settings.ws_auth_timeout_s`` is closed (4401).

The receive loop hands raw frames to the sans-I/O Session and carries out its actions; commands
run in order per socket (so a client's messages are stored and acknowledged in the order sent).
A frame that arrives while the socket's task is idle is taken on the spot by ``_inline`` (called
from the protocol's ``data_received``): what needs no waiting is done there, a chat message goes
to the writer at once, and the rest is queued for the task; frames read meanwhile queue behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs

from prometheus_client import Counter
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.types import Message, Receive, Scope, Send

from desk import origins
from desk.auth import COOKIE_NAME, Principal, resolve_session, session_id_from_cookie
from realtime import protocol as p
from realtime import records
from realtime.chat import Chat, command_error
from realtime.connection import Connection
from realtime.errors import CLOSE_INTERNAL, CLOSE_POLICY, CommandError
from realtime.session import (
    Action,
    Authenticate,
    CloseSocket,
    Execute,
    Identity,
    Role,
    Session,
)
from realtime.session import (
    Send as SendAction,
)

log = logging.getLogger("switchboard.realtime")

KERNEL_SEND_BUFFER = 256 * 1024


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


class _Inbox(Protocol):
    def put_nowait(self, item: Message) -> None: ...


@runtime_checkable
class FastPath(Protocol):
    """What ``realtime.server``'s WebSocket protocol adds to uvicorn's, found behind
    ``receive`` (its bound method): frames taken as they are read (``inline``), handed back
    to the socket's task (``queue``), and a frame written at once (``send_text_now``)."""

    inline: Callable[[str], bool] | None
    queue: _Inbox

    def send_text_now(self, text: str) -> bool: ...


def _protocol(receive: Receive) -> object:
    """The server's protocol object behind ``receive`` (None on servers that bind none)."""
    return getattr(receive, "__self__", None)


def _transport(proto: object) -> Any:
    """uvicorn's transport of the socket (None on other servers).

    ASGI has no abort; a graceful close waits for a reader that is not reading, so a stuck
    socket is aborted on the transport (elsewhere the keepalive timeout ends it).
    """
    return getattr(proto, "transport", None)


def _bound_kernel_buffer(transport: Any) -> None:
    """Cap the kernel's send buffer of the socket (Linux lets it grow to megabytes per socket
    on its own): what a client that stopped reading can hold up is then the bounded outbox
    plus this, so it is found out, and cut, after a known amount of data."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, KERNEL_SEND_BUFFER)


class WsEndpoint:
    """ASGI app for one of /ws/visitor, /ws/agent, /ws/supervisor."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chat: Chat = scope["app"].state.chat
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        headers = _headers(scope)
        origin = headers.get("origin", "").rstrip("/")
        refusal, identity, principal, site = await self._admit(chat, scope, headers, origin)
        del headers, message  # this frame lives as long as the socket: keep it small
        if refusal:
            log.info("ws %s upgrade refused: %s", self.role, refusal)
            await send({"type": "websocket.close", "code": CLOSE_POLICY})
            return
        await send({"type": "websocket.accept"})
        await self._serve(chat, scope, receive, send, identity, principal, site)

    async def _admit(self, chat: Chat, scope: Scope, headers: dict[str, str], origin: str
                     ) -> tuple[str | None, Identity | None, Principal | None,
                                records.SiteInfo | None]:
        if self.role is Role.VISITOR:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            if query.get("case") == ["1"]:
                # The case page (desk.case_links): served from this server's own origin only.
                own = chat.settings.public_url.rstrip("/")
                return (None if origin == own else "foreign origin"), None, None, None
            key = query.get("site", [""])[0]
            site = await chat.ctx.site(key) if key else None
            if site is None:
                return "unknown site", None, None, None
            if not origins.allowed(origin, site.allowed_origins,
                                   loopback_aliases=chat.settings.loopback_aliases):
                return "foreign origin", None, None, None
            return None, None, None, site
        if not origins.allowed(origin, chat.settings.allowed_console_origins,
                               loopback_aliases=chat.settings.loopback_aliases):
            return "foreign origin", None, None, None
        cookie = SimpleCookie()
        with contextlib.suppress(Exception):
            cookie.load(headers.get("cookie", ""))
        morsel = cookie.get(COOKIE_NAME)
        sid = session_id_from_cookie(chat.settings, morsel.value if morsel else None)
        principal = await resolve_session(chat.sm, sid) if sid else None
        if principal is None:
            return "no session", None, None, None
        if self.role is Role.SUPERVISOR and not principal.is_supervisor:
            return "not a supervisor", None, None, None
        identity = Identity(self.role, principal.agent_id, principal.display_name)
        return None, identity, principal, None

    async def _serve(self, chat: Chat, scope: Scope, receive: Receive, send: Send,
                     identity: Identity | None, principal: Principal | None,
                     site: records.SiteInfo | None) -> None:
        loop = asyncio.get_running_loop()
        proto = _protocol(receive)
        fast = proto if isinstance(proto, FastPath) else None
        transport = _transport(proto)
        _bound_kernel_buffer(transport)
        abort_transport = getattr(transport, "abort", None)

        async def send_text(text: str) -> None:
            await send({"type": "websocket.send", "text": text})

        async def close(code: int, reason: str) -> None:
            await send({"type": "websocket.close", "code": code, "reason": reason})

        def abort(code: int) -> None:
            log.info("ws connection aborted (%s)", code)
            if abort_transport is not None:
                abort_transport()

        session = Session(self.role, chat.limits, identity)
        counted = chat.metrics.sockets[self.role.value]
        conn = Connection(chat.hub.new_id(), session, send=send_text, close=close, abort=abort,
                          fetch=chat.fetch, limit=chat.settings.ws_send_queue,
                          frames_out=counted.frames_out,
                          send_now=fast.send_text_now if fast is not None else None)
        conn.client = (scope.get("client") or (None,))[0]
        deadline = None
        if site is not None:
            conn.site_id = site.id
            conn.typing_preview = site.typing_preview
        if self.role is Role.VISITOR:  # a widget's or a case page's: the first frame is auth
            deadline = loop.call_later(chat.settings.ws_auth_timeout_s, self._auth_deadline,
                                       conn)
        serving = _Serving()
        frames_in = counted.frames_in
        counted.open.inc()
        try:
            if principal is not None:
                await chat.staff_connected(conn, principal)
            if fast is not None:
                fast.inline = functools.partial(self._inline, chat, conn, serving, fast, loop,
                                                frames_in)
            while True:
                serving.busy = False
                message = await receive()
                serving.busy = True
                if serving.inflight is not None:  # a message taken inline: keep the order
                    with contextlib.suppress(Exception):
                        await serving.inflight
                if message["type"] == "websocket.disconnect":
                    break
                actions = message.get(INLINE_REST)
                if actions is None:
                    frames_in.inc()
                    data = message.get("text")
                    if data is None:
                        data = message.get("bytes") or b""
                    actions = session.receive(data, loop.time())
                for action in actions:
                    await self._act(chat, conn, action)
        except Exception:
            log.exception("ws %s connection failed", self.role)
            with contextlib.suppress(Exception):
                await close(CLOSE_INTERNAL, "internal error")
        finally:
            counted.open.dec()
            if fast is not None:
                fast.inline = None
            if deadline is not None:
                deadline.cancel()
            conn.closed = True
            session.closed()
            await chat.disconnected(conn)

    def _inline(self, chat: Chat, conn: Connection, serving: _Serving, proto: FastPath,
                loop: asyncio.AbstractEventLoop, frames_in: Counter, text: str) -> bool:
        """A frame as it is read, when the socket's task is idle: what can be done without
        waiting is done now (a message goes to the writer at once, a turn of the event loop
        earlier than through the task); the rest goes to the task, in order. False (nothing
        done) while the task or a message taken here is still busy."""
        if serving.busy or serving.inflight is not None or conn.closed:
            return False
        frames_in.inc()
        try:
            self._take(chat, conn, serving, proto,
                       conn.session.receive(text, loop.time()))
        except Exception:  # as when the socket's task fails: logged, the socket closed
            log.exception("ws %s frame failed", self.role)
            conn.close_after_drain(CLOSE_INTERNAL, "internal error")
        return True

    @staticmethod
    def _take(chat: Chat, conn: Connection, serving: _Serving, proto: FastPath,
              actions: list[Action]) -> None:
        for i, action in enumerate(actions):
            match action:
                case SendAction(frame):
                    conn.send(frame)
                case CloseSocket(code, reason):
                    conn.close_after_drain(code, reason)
                case Execute(p.SendMessage() | p.Whisper() as frame):
                    try:
                        fut = chat.message_now(conn, frame)
                    except CommandError as exc:
                        conn.send(command_error(exc, frame))
                        continue
                    if fut is None:
                        proto.queue.put_nowait({"type": "websocket.receive",
                                                INLINE_REST: actions[i:]})
                        return
                    serving.inflight = fut
                    fut.add_done_callback(functools.partial(_inline_done, serving, conn))
                    if actions[i + 1:]:
                        proto.queue.put_nowait({"type": "websocket.receive",
                                                INLINE_REST: actions[i + 1:]})
                    return
                case _:
                    proto.queue.put_nowait({"type": "websocket.receive",
                                            INLINE_REST: actions[i:]})
                    return

    @staticmethod
    def _auth_deadline(conn: Connection) -> None:
        for action in conn.session.auth_deadline():
            if isinstance(action, CloseSocket):
                conn.close_after_drain(action.code, action.reason)

    async def _act(self, chat: Chat, conn: Connection, action: object) -> None:
        match action:
            case SendAction(frame):
                conn.send(frame)
            case CloseSocket(code, reason):
                conn.close_after_drain(code, reason)
            case Authenticate(token):
                await chat.authenticate_visitor(conn, token)
            case Execute(frame):
                await chat.execute(conn, frame)


INLINE_REST = "sb.actions"  # a queued item: the actions left by a frame taken inline


class _Serving:
    """The socket's task is busy with a frame, or a message taken inline is being stored."""

    __slots__ = ("busy", "inflight")

    def __init__(self) -> None:
        self.busy = True
        self.inflight: asyncio.Future[Any] | None = None


def _inline_done(serving: _Serving, conn: Connection, fut: asyncio.Future[Any]) -> None:
    serving.inflight = None
    if fut.cancelled() or fut.exception() is None:
        return
    # As when the socket's task fails a command: logged, the socket closed.
    log.error("ws message store failed", exc_info=fut.exception())
    conn.close_after_drain(CLOSE_INTERNAL, "internal error")


def routes() -> list[BaseRoute]:
    return [
        WebSocketRoute("/ws/visitor", WsEndpoint(Role.VISITOR)),
        WebSocketRoute("/ws/agent", WsEndpoint(Role.AGENT)),
        WebSocketRoute("/ws/supervisor", WsEndpoint(Role.SUPERVISOR)),
    ]

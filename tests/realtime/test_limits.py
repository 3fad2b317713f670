"""Limits at the socket: frame size, encoding, bad frames, floods, slow consumers."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.realtime.conftest import (
    CONSOLE,
    SHOP,
    SITE_KEY,
    Client,
    Clients,
    Org,
    WebFactory,
    accepted_chat,
    login_cookie,
    start_chat,
)


async def _close_code(c: Client, within: float = 5) -> int:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(c.ws.recv(), within)
    assert info.value.rcvd is not None
    return info.value.rcvd.code


async def test_bad_frames_get_errors_and_closes(web: WebFactory, clients: Clients,
                                                org: Org) -> None:
    [w] = await web(1)
    v = await clients.visitor(w)
    for raw, code in (("not json", "not_json"), ("[1]", "not_object"),
                      ('{"type":"bogus"}', "unknown_type"),
                      ('{"type":"message","conversation_id":"1","client_id":"c","text":"x"}',
                       "bad_field")):
        await v.ws.send(raw)
        assert (await v.expect("error"))["code"] == code
    await v.send(type="ping")
    await v.expect("pong")

    big = await clients.visitor(w)
    await big.ws.send(orjson.dumps({"type": "ping", "pad": "x" * 70_000}).decode())
    assert await _close_code(big) == 1009

    binary = await clients.visitor(w)
    await binary.ws.send(b'{"type":"ping"}')
    assert await _close_code(binary) == 1003

    # Invalid UTF-8 in a text frame: websockets' client refuses to send one, so use a raw frame.
    bad = await clients.visitor(w)
    await bad.ws.send(b"\xff\xfe", text=True)
    assert await _close_code(bad) == 1007

    # Everyone else is still served.
    await v.send(type="ping")
    await v.expect("pong")


async def test_flood_is_refused_and_never_fans_out(web: WebFactory, clients: Clients,
                                                   org: Org) -> None:
    [w] = await web(1)
    v, ana, cid = await accepted_chat(clients, org, w, w)
    for i in range(1000):
        await v.send(type="message", conversation_id=cid, client_id=f"f{i}", text="spam")
    closed = False
    try:
        await v.quiet(1.0)
    except ConnectionClosed as exc:
        closed = exc.rcvd is not None and exc.rcvd.code == 4429
    acks = len(v.of("ack"))
    assert acks <= 40  # burst 30 + refill during the run
    assert closed or len(v.of("error")) > 0
    await ana.quiet(0.5)
    assert len([m for m in ana.of("message") if m["text"] == "spam"]) == acks - 1


async def test_slow_consumer_is_cut_and_others_unaffected(web: WebFactory, clients: Clients,
                                                          org: Org) -> None:
    [w] = await web(1, SWITCHBOARD_WS_SEND_QUEUE="16")
    # The supervisor's socket gets a tiny receive window from the start (set before connect,
    # so the kernel advertises it), then its client stops reading: what the server writes
    # piles up in its own buffers, then in the socket's outbox.
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", w.port))
    raw.setblocking(False)
    cookie = await login_cookie(w, "sam@x.test")
    sam = Client(await connect(f"{w.ws}/ws/supervisor", sock=raw, origin=CONSOLE,  # type: ignore[arg-type]
                               additional_headers={"Cookie": f"sb_session={cookie}"}))
    clients.opened.append(sam)
    await sam.expect("welcome")
    visitors = []
    for i in range(6):
        v = await clients.visitor(w)
        cid = await start_chat(v, org.dept, client_id=f"s{i}")
        await sam.send(type="monitor", conversation_id=cid)
        await sam.expect("done", op="monitor")
        visitors.append((v, cid))
    sam.ws.transport.pause_reading()
    text = "x" * 10_000
    rounds = 20  # 6 x 20 x 10 kB: far more than the server may buffer for one socket

    async def talk(v: Client, cid: int) -> None:
        for i in range(rounds):
            await v.send(type="message", conversation_id=cid, client_id=f"m{i}", text=text)
        for i in range(rounds):
            await v.expect("message", client_id=f"m{i}", within=10)

    await asyncio.gather(*(talk(v, cid) for v, cid in visitors))  # nobody else waits
    # The server cut the supervisor (transport aborted): what it still reads is what was
    # buffered before the cut, then the connection ends.
    sam.ws.transport.resume_reading()
    with pytest.raises(ConnectionClosed):
        while True:
            await sam.next(within=5)
    assert len(sam.of("message")) < len(visitors) * rounds


async def _raw_oversize(port: int, size: int, writes: int) -> int | None:
    """A raw client that sends a ``size``-byte text frame in ``writes`` writes, then reads what
    the server sent: the close code, or None if the connection was reset first."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws/visitor?site={SITE_KEY} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\nOrigin: {SHOP}\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    payload = b"x" * size  # masked with a zero key: sent as is
    frame = b"\x81\xff" + struct.pack("!Q", size) + b"\0\0\0\0" + payload
    step = -(-len(frame) // writes)
    try:
        for i in range(0, len(frame), step):
            writer.write(frame[i:i + step])
            await writer.drain()
            await asyncio.sleep(0)
        got = await reader.readexactly(4)  # FIN+close opcode, length, 2-byte code
    except (ConnectionError, asyncio.IncompleteReadError):
        return None
    finally:
        writer.close()
    assert got[0] == 0x88, got
    code: int = struct.unpack("!H", got[2:4])[0]
    return code


async def test_oversize_frame_close_code_always_arrives(web: WebFactory) -> None:
    """The close (1009) reaches a client still sending the refused frame, every time."""
    [w] = await web(1)
    codes = [await _raw_oversize(w.port, 1_000_000, 8) for _ in range(40)]
    assert codes == [1009] * 40

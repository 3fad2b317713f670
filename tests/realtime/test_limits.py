"""Limits at the socket: frame size, encoding, bad frames, floods, slow consumers."""

from __future__ import annotations

import asyncio
import socket

import orjson
import pytest
from websockets.exceptions import ConnectionClosed

from tests.realtime.conftest import Client, Clients, Org, WebFactory, start_chat


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
    v = await clients.visitor(w)
    cid = await start_chat(v, org.dept)
    ana = await clients.staff(w, "ana@x.test")
    await ana.send(type="accept", conversation_id=cid)
    await v.expect("assigned")
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
    sam = await clients.staff(w, "sam@x.test", "supervisor")
    visitors = []
    for i in range(12):
        v = await clients.visitor(w)
        cid = await start_chat(v, org.dept, client_id=f"s{i}")
        await sam.send(type="monitor", conversation_id=cid)
        await sam.expect("done", op="monitor")
        visitors.append((v, cid))
    # The supervisor's client stops reading; the kernel buffers fill, then its outbox.
    sock = sam.ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sam.ws.transport.pause_reading()
    text = "x" * 10_000

    async def talk(v: Client, cid: int) -> None:
        for i in range(25):
            await v.send(type="message", conversation_id=cid, client_id=f"m{i}", text=text)
        for i in range(25):
            await v.expect("message", client_id=f"m{i}", within=10)

    await asyncio.gather(*(talk(v, cid) for v, cid in visitors))  # nobody else waits
    sam.ws.transport.resume_reading()
    with pytest.raises((ConnectionClosed, TimeoutError)):
        while True:
            await asyncio.wait_for(sam.ws.recv(), 3)
    assert len(sam.of("message")) < 12 * 25

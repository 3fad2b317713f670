"""Live chat through real web processes: message path, typing, cross-node, kill and resume."""

from __future__ import annotations

import os
import signal

from sqlalchemy import update

from desk.db import SessionMaker
from desk.models import Site
from tests.realtime.conftest import Clients, Org, WebFactory, accepted_chat, start_chat


async def test_visitor_agent_chat_with_acks_idempotency_and_typing(
        web: WebFactory, clients: Clients, org: Org) -> None:
    [w] = await web(1)
    v = await clients.visitor(w)
    cid = await start_chat(v, org.dept, "Hi, my order is late")
    ana = await clients.staff(w, "ana@x.test")
    await ana.send(type="accept", conversation_id=cid)
    assigned = await v.expect("assigned")
    assert assigned["agent_name"] == "Ana"
    await ana.quiet(0.3)
    assert ana.of("done")[0]["op"] == "accept"
    [first] = ana.of("message")  # history, once assigned
    assert first["text"] == "Hi, my order is late" and first["author_kind"] == "contact"

    await ana.send(type="message", conversation_id=cid, client_id="a1", text="On it!")
    ack = await ana.expect("ack", client_id="a1")
    assert ack["seq"] == 2 and ack["duplicate"] is False
    got = await v.expect("message", seq=2)
    assert got["text"] == "On it!" and got["author_name"] == "Ana"

    # Same client_id again: stored once, same seq, not delivered twice.
    await ana.send(type="message", conversation_id=cid, client_id="a1", text="On it!")
    assert (await ana.expect("ack", client_id="a1")) == {**ack, "duplicate": True}

    await v.send(type="typing", conversation_id=cid, draft="Thank y")
    typing = await ana.expect("typing")
    assert typing["draft"] == "Thank y" and typing["author_kind"] == "contact"
    await ana.send(type="typing", conversation_id=cid, draft="secret draft")
    vt = await v.expect("typing")
    assert vt["draft"] is None and vt["active"] is True

    await v.send(type="message", conversation_id=cid, client_id="v2", text="Thank you")
    assert (await v.expect("ack", client_id="v2"))["seq"] == 3
    assert (await ana.expect("message", seq=3))["text"] == "Thank you"
    await v.quiet(0.3)
    assert [m["seq"] for m in v.of("message")] == [1, 2, 3]
    assert "secret draft" not in str(v.frames)

    await v.send(type="end", conversation_id=cid)
    assert (await ana.expect("ended"))["by"] == "contact"


async def test_typing_preview_switch_off_leaves_plain_indicator(
        web: WebFactory, clients: Clients, org: Org, sm: SessionMaker) -> None:
    async with sm() as s:
        await s.execute(update(Site).values(typing_preview=False))
        await s.commit()
    [w] = await web(1)
    v, ana, cid = await accepted_chat(clients, org, w, w)
    await v.send(type="typing", conversation_id=cid, draft="my card number is")
    typing = await ana.expect("typing")
    assert typing["draft"] is None and typing["active"] is True
    await ana.quiet(0.3)
    assert "card number" not in str(ana.frames)


async def test_cross_node_chat_and_kill_and_resume(
        web: WebFactory, clients: Clients, org: Org) -> None:
    a, b = await web(2)
    v, ana, cid = await accepted_chat(clients, org, a, b, "from A")
    for i in range(5):
        await ana.send(type="message", conversation_id=cid, client_id=f"a{i}", text=f"b{i}")
        await v.send(type="message", conversation_id=cid, client_id=f"vm{i}", text=f"a{i}")
    await v.quiet(0.5)
    seen = [m["seq"] for m in v.of("message")]
    assert seen == list(range(1, 12)), str([(f["type"], f.get("seq")) for f in v.frames])

    # Process A dies mid-chat; the agent keeps writing; the visitor comes back on B.
    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait()
    for i in range(5, 8):
        await ana.send(type="message", conversation_id=cid, client_id=f"a{i}", text=f"b{i}")
        await ana.expect("ack", client_id=f"a{i}")
    v2 = await clients.visitor(b, token=v.token)
    await v2.send(type="resume", conversation_id=cid, after_seq=seen[-1])
    state = await v2.expect("state")
    assert state["last_seq"] == 14
    await v2.quiet(0.5)
    resumed = [m["seq"] for m in v2.of("message")]
    assert resumed == [12, 13, 14]
    await v2.send(type="message", conversation_id=cid, client_id="v-final", text="back")
    assert (await ana.expect("message", client_id="v-final"))["seq"] == 15


async def test_a_burst_of_frames_is_handled_in_the_order_sent(
        web: WebFactory, clients: Clients, org: Org) -> None:
    """Frames taken as they are read and frames left to the socket's task (while a message is
    being stored) keep the order they were sent in: acks, seqs, errors and the agent's view."""
    [w] = await web(1)
    v, ana, cid = await accepted_chat(clients, org, w, w, "First")
    await ana.expect("message", seq=1)
    sent = []
    for i in range(20):
        await v.send(type="message", conversation_id=cid, client_id=f"b{i}", text=f"burst {i}")
        sent.append(f"b{i}")
        if i == 5:
            await v.send(type="ping")
        if i == 9:  # not the visitor's chat: refused in place, the others go on
            await v.send(type="message", conversation_id=cid + 1000, client_id="x",
                         text="elsewhere")
            sent.append("x")
    answers: list[dict[str, object]] = []
    while len(answers) < 22:
        frame = await v.next()
        if frame["type"] in ("ack", "error", "pong"):
            answers.append(frame)
    order = [f.get("client_id") for f in answers if f["type"] != "pong"]
    assert order == sent
    seqs = [f["seq"] for f in answers if f["type"] == "ack"]
    assert seqs == list(range(2, 22))
    assert [f["type"] for f in answers].index("pong") == 6
    got = [(await ana.expect("message", seq=s))["text"] for s in range(2, 22)]
    assert got == [f"burst {i}" for i in range(20)]

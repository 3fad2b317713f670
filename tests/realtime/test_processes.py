"""``switchboard web --processes N``: N web processes on one port (SO_REUSEPORT), each a full hub
node; a visitor served by one and an agent served by the other talk across Redis. Which process
serves a socket is read from /proc (the server-side socket's inode among a child's fds)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from tests.realtime.conftest import Client, Clients, Org, WebFactory, start_chat


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _server_of(client: Client, port: int, pids: list[int]) -> int:
    """The child process holding the server side of ``client``'s TCP connection."""
    local = client.ws.transport.get_extra_info("sockname")[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        ours, theirs = fields[1].split(":")[1], fields[2].split(":")[1]
        if int(ours, 16) == port and int(theirs, 16) == local:
            inode = fields[9]
    assert inode is not None
    for pid in pids:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no process holds the connection of port {local}")


async def test_two_processes_on_one_port_serve_and_deliver_across(
        web: WebFactory, clients: Clients, org: Org) -> None:
    (w,) = await web(1, TEST_WEB_PROCESSES="2")
    pids = _children(w.proc.pid)
    assert len(pids) == 2
    v = await clients.visitor(w)
    cid = await start_chat(v, org.dept, "hello")
    home = _server_of(v, w.port, pids)
    far = None
    for _ in range(30):  # new connections are spread over both listening sockets
        ana = await clients.staff(w, "ana@x.test")
        if _server_of(ana, w.port, pids) != home:
            far = ana
            break
    assert far is not None, "every connection went to one process"
    await far.send(type="accept", conversation_id=cid)
    await v.expect("assigned")
    await v.send(type="message", conversation_id=cid, client_id="v2", text="across?")
    await v.expect("ack", client_id="v2")
    await far.expect("message", client_id="v2", text="across?")
    await far.send(type="message", conversation_id=cid, client_id="a1", text="yes")
    await far.expect("ack", client_id="a1")
    await v.expect("message", client_id="a1", text="yes")
    # A process that dies is started again by the supervisor, on the same port.
    os.kill(home, signal.SIGKILL)
    for _ in range(100):
        now = _children(w.proc.pid)
        if len(now) == 2 and home not in now:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the killed web process was not started again")

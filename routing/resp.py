"""Redis commands in RESP, the wire form, for the paths that write to a connection directly
(the router's pipelined scripts in ``routing.store``, the hub's PUBLISHes in
``realtime.publisher``): redis-py's own packing costs more client CPU than the command."""

from __future__ import annotations


def bulk(value: bytes) -> bytes:
    """One RESP bulk string: the wire form of a command argument."""
    return b"$%d\r\n%s\r\n" % (len(value), value)


def command(*args: bytes) -> bytes:
    """One command in RESP."""
    return b"*%d\r\n%s" % (len(args), b"".join(map(bulk, args)))


def publish(channel: bytes, payload: bytes) -> bytes:
    """``command(b"PUBLISH", channel, payload)`` in one formatting step (the hub's fan-out)."""
    return b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
        len(channel), channel, len(payload), payload)

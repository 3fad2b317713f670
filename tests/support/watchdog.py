"""A hung test ends the run instead of eating CI's whole timeout.

faulthandler's dump shows only threads, and an asyncio hang is a task awaiting a future that
never resolves: every thread sits idle in ``select``. So, past ``dump_after_s`` in one test
(setup, call and teardown together), the stacks of every live asyncio task and thread are
printed; past ``exit_after_s`` the process exits non-zero, naming the test, so CI reports it
at once.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _task_stacks() -> str:
    out = io.StringIO()
    # all_tasks() wants the loop's own thread; the weak set behind it is readable from here.
    tasks = list(getattr(asyncio.tasks, "_all_tasks", ()))
    for task in tasks:
        if task.done():
            continue
        out.write(f"--- {task!r}\n")
        task.print_stack(limit=30, file=out)
    for ident, frame in sys._current_frames().items():
        if ident != threading.get_ident():
            out.write(f"--- thread {ident}\n")
            traceback.print_stack(frame, limit=12, file=out)
    return out.getvalue()


@contextmanager
def watching(name: str, dump_after_s: float, exit_after_s: float,
             uncapture: Callable[[], None]) -> Iterator[None]:
    """``uncapture`` gives the real stderr back (pytest holds file descriptor 2 while a test
    runs, and what it holds is lost on exit)."""
    done = threading.Event()

    def watch() -> None:
        if done.wait(dump_after_s):
            return
        uncapture()
        sys.stderr.write(f"\n=== {name} still running after {dump_after_s:.0f} s\n")
        sys.stderr.write(_task_stacks())
        sys.stderr.flush()
        if done.wait(exit_after_s - dump_after_s):
            return
        sys.stderr.write(f"\n=== {name} hung for {exit_after_s:.0f} s: ending the run\n")
        sys.stderr.flush()
        os._exit(3)

    thread = threading.Thread(target=watch, name="test-watchdog", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()

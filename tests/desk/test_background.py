"""Stopping background loops: a swallowed cancellation does not hold the shutdown."""

from __future__ import annotations

import asyncio

import pytest

from desk.background import stop_tasks


async def _swallows_once() -> None:
    swallowed = False
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed = True  # what a library's reconnect path may do


async def _deaf_until(released: asyncio.Event) -> None:
    while not released.is_set():
        try:
            await released.wait()
        except asyncio.CancelledError:
            continue


async def test_a_swallowed_cancel_is_repeated() -> None:
    task = asyncio.get_running_loop().create_task(_swallows_once())
    await asyncio.sleep(0)
    await stop_tasks([task, None])
    assert task.cancelled()


async def test_a_task_that_never_stops_is_logged_and_left(
        caplog: pytest.LogCaptureFixture) -> None:
    released = asyncio.Event()
    task = asyncio.get_running_loop().create_task(_deaf_until(released), name="stubborn")
    await asyncio.sleep(0)
    await stop_tasks([task], within_s=0.2)
    assert not task.done()
    assert "stubborn did not stop" in caplog.text
    released.set()
    await task


async def test_a_failure_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def fails() -> None:
        raise RuntimeError("boom")
    task = asyncio.get_running_loop().create_task(fails(), name="failing")
    await asyncio.sleep(0)
    await stop_tasks([task])
    assert "failing failed" in caplog.text

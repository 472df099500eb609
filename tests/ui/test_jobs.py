"""ui.jobs: failures are reported while the owner lives, and dropped quietly after."""

from __future__ import annotations

import asyncio
import logging

import shiboken6

from ui.jobs import Jobs


async def _fail_after(event: asyncio.Event) -> None:
    await event.wait()
    raise RuntimeError("the widget is gone")


def test_a_failed_job_is_reported(qtbot, qasync_loop) -> None:
    jobs = Jobs()
    event = asyncio.Event()
    with qtbot.waitSignal(jobs.failed, timeout=5000) as failed:
        jobs.spawn("work", _fail_after(event))
        event.set()
    assert failed.args[0] == "work" and isinstance(failed.args[1], RuntimeError)


def test_a_job_that_fails_after_its_owner_was_deleted_logs_no_loop_error(
    qtbot, qasync_loop, caplog
) -> None:
    jobs = Jobs()
    event = asyncio.Event()
    task = jobs.spawn("work", _fail_after(event))
    shiboken6.delete(jobs)
    with caplog.at_level(logging.ERROR):
        event.set()
        qtbot.waitUntil(task.done, timeout=5000)
        qtbot.wait(50)  # the done callback runs on the next loop turn
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

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


def test_jobs_asked_for_before_the_loop_exists_start_with_it_in_order(qtbot, qasync_loop) -> None:
    """ui.main shows the window before it installs the qasync loop: a job asked for
    then (restoring saved settings can ask for one) waits, and starts with the loop."""
    from ui import jobs as jobs_module

    ran: list[str] = []

    async def note(name: str) -> None:
        ran.append(name)

    jobs = Jobs()
    gone = Jobs()
    jobs_module.hold_until_loop()
    try:
        assert jobs.spawn("first", note("first")) is None
        assert jobs.spawn("second", note("second")) is None
        gone.spawn("of a deleted owner", note("never"))
        dropped = Jobs()
        dropped.spawn("canceled", note("canceled"))
        dropped.cancel_all()
        assert jobs.busy and jobs.count == 2 and not dropped.busy
        shiboken6.delete(gone)
        qtbot.wait(20)
        assert ran == []  # nothing ran while held
    finally:
        jobs_module.loop_started()
    qtbot.waitUntil(lambda: not jobs.busy, timeout=5000)
    assert ran == ["first", "second"]
    assert jobs.spawn("after", note("after")) is not None
    qtbot.waitUntil(lambda: ran[-1:] == ["after"], timeout=5000)

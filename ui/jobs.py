"""Running work off the UI thread, and coroutines on the qasync loop.

Vorta's rule, applied: the window never waits on a file, a key derivation, the
keyring, the network or the runtime. Blocking engine calls run on a worker thread
(`run_blocking`, i.e. `asyncio.to_thread`); their continuation runs back on the Qt
thread, where the coroutine updates widgets or emits signals.

The window is shown before the qasync loop exists (`ui.main`: asyncio and qasync are
imported after the first paint, docs/benchmarks.md, window start). A job asked for
before then (restoring saved settings can ask for one) waits in `_held` and starts
when `loop_started()` is called, in the order asked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import shiboken6
from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    import asyncio

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger(__name__)

# None: jobs start at once (a loop is running, or is set, as in the tests). A list:
# the loop does not exist yet; the jobs asked for so far, in order.
_held: list[tuple[Jobs, str, Coroutine[Any, Any, Any]]] | None = None


def hold_until_loop() -> None:
    """Jobs asked for from now on wait for `loop_started()` (no loop exists yet)."""
    global _held
    if _held is None:
        _held = []


def loop_started() -> None:
    """The qasync loop is installed: start the jobs that waited for it."""
    global _held
    held, _held = _held, None
    for jobs, what, coroutine in held or ():
        if shiboken6.isValid(jobs):
            jobs.spawn(what, coroutine)
        else:  # its widget is gone: nothing would see the outcome
            coroutine.close()


async def run_blocking(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `function` on a worker thread; the awaiting coroutine stays on the UI thread."""
    import asyncio

    return await asyncio.to_thread(function, *args, **kwargs)


class Jobs(QObject):
    """Keeps the tasks a widget starts (asyncio holds only weak references to
    tasks) and reports failures through a signal instead of losing them."""

    failed = Signal(str, object)  # what was being done, the exception

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, what: str, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Start `coroutine` as a task, or (before the loop exists) hold it until the
        loop starts; None then."""
        if _held is not None:
            _held.append((self, what, coroutine))
            return None
        import asyncio

        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._tasks.discard(finished)
            if finished.cancelled():
                return
            exc = finished.exception()
            if exc is None:
                return
            log.debug("job %r failed: %s", what, type(exc).__name__)
            if not shiboken6.isValid(self):
                # The widget that started it is gone (closed and deleted): nobody to
                # tell, and emitting from a deleted QObject raises.
                return
            self.failed.emit(what, exc)

        task.add_done_callback(done)
        return task

    def _held_here(self) -> int:
        return sum(1 for jobs, _, _ in _held or () if jobs is self)

    @property
    def count(self) -> int:
        """Jobs still running or waiting for the loop (a test waits for one of several
        to end)."""
        return len(self._tasks) + self._held_here()

    @property
    def busy(self) -> bool:
        return bool(self._tasks) or self._held_here() > 0

    async def wait_all(self) -> None:
        """Wait for every running job (tests, and closing the window)."""
        import asyncio

        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def cancel_all(self) -> None:
        global _held
        if _held is not None:
            for jobs, _, coroutine in _held:
                if jobs is self:
                    coroutine.close()
            _held = [entry for entry in _held if entry[0] is not self]
        for task in list(self._tasks):
            task.cancel()

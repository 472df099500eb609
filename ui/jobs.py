"""Running work off the UI thread, and coroutines on the qasync loop.

Vorta's rule, applied: the window never waits on a file, a key derivation, the
keyring, the network or the runtime. Blocking engine calls run on a worker thread
(`run_blocking`, i.e. `asyncio.to_thread`); their continuation runs back on the Qt
thread, where the coroutine updates widgets or emits signals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

import shiboken6
from PySide6.QtCore import QObject, Signal

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger(__name__)


async def run_blocking(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `function` on a worker thread; the awaiting coroutine stays on the UI thread."""
    return await asyncio.to_thread(function, *args, **kwargs)


class Jobs(QObject):
    """Keeps the tasks a widget starts (asyncio holds only weak references to
    tasks) and reports failures through a signal instead of losing them."""

    failed = Signal(str, object)  # what was being done, the exception

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, what: str, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
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

    @property
    def count(self) -> int:
        """Jobs still running (a test waits for one of several to end)."""
        return len(self._tasks)

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    async def wait_all(self) -> None:
        """Wait for every running job (tests, and closing the window)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

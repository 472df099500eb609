"""Callback records from the runtime's threads to the session's event loop, in bursts.

Split from `app.endpoint.session` because it is the one place records are batched
(see `RecordRelay`), with its own threading rules and its own tests.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Callable, Sequence

from app.xr.records import CallbackRecord

log = logging.getLogger(__name__)

# Records queued for a loop that does not run are bounded like the session's history.
MAX_QUEUED_RECORDS = 10_000
# Callback records made before `start()` attached the relay to a loop.
MAX_PENDING_RECORDS = 1_000
# At most one burst of records per this many seconds: 25 a second is smooth to the eye
# (the window inserts each burst into its timeline in one go), and at 10,000 records a
# second a burst is ~400 rows, which a table view absorbs in well under a frame.
RECORD_PACE_S = 0.04


# Receives each burst of records, in order.
RecordsTarget = Callable[[Sequence[CallbackRecord]], None]


class RecordRelay:
    """A thread-safe record sink: pass it as `record_sink=` to the callbacks object.

    Until a session attaches it keeps (a bounded number of) records. Attached with a
    loop (as `Session` does), it queues each record and schedules ONE
    `call_soon_threadsafe` drain when none is pending; the drain hands every queued
    record to the target on the loop, in order. Why: each thread-safe call wakes the
    loop (under qasync it becomes a Qt timer), so at thousands of records a second a
    hop per record is what stalls the window; a burst now costs one wake-up. Bursts are
    at least `RECORD_PACE_S` apart (a drain due sooner waits on the loop's timer).
    Attached without a loop, it forwards each record at once on the caller's thread.
    The target always receives a sequence of records: this is the one place records
    are batched, and the window and the command line take the batches as they come.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._target: RecordsTarget | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: collections.deque[CallbackRecord] = collections.deque(
            maxlen=MAX_PENDING_RECORDS
        )
        self._queued: collections.deque[CallbackRecord] = collections.deque()
        self._drain_scheduled = False
        self._dropped = 0
        self._next_drain_at = 0.0  # loop time before which no drain runs

    def __call__(self, record: CallbackRecord) -> None:
        with self._lock:
            target, loop = self._target, self._loop
            if target is None:
                self._pending.append(record)
                return
            if loop is not None:
                self._enqueue(record)
                if self._drain_scheduled:
                    return
                self._drain_scheduled = True
        if loop is None:
            target((record,))
            return
        self._schedule(loop)

    def _enqueue(self, record: CallbackRecord) -> None:
        """Under the lock. A loop that does not run for a long time must not grow
        memory without bound: past MAX_QUEUED_RECORDS queued records the oldest go."""
        if len(self._queued) >= MAX_QUEUED_RECORDS:
            self._queued.popleft()
            self._dropped += 1
        self._queued.append(record)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.call_soon_threadsafe(self._drain_when_due, loop)
        except RuntimeError:  # the loop closed: nobody will read these records
            with self._lock:
                self._queued.clear()
                self._drain_scheduled = False

    def _drain_when_due(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop: drain now, or when `RECORD_PACE_S` since the last one is up."""
        delay = self._next_drain_at - loop.time()
        if delay > 0:
            loop.call_later(delay, self._drain)
        else:
            self._drain()

    def drain(self) -> None:
        """On the loop: hand over what is queued now (the session does this before
        a disconnect, so that the records of an attempt precede its outcome)."""
        self._drain()

    def _drain(self) -> None:
        """On the loop: every record queued so far, in order."""
        with self._lock:
            records = list(self._queued)
            self._queued.clear()
            self._drain_scheduled = False
            target, dropped, self._dropped = self._target, self._dropped, 0
            if self._loop is not None and records:
                self._next_drain_at = self._loop.time() + RECORD_PACE_S
        if dropped:
            log.warning("session: %d callback records dropped (the loop did not run)", dropped)
        if target is None or not records:
            return
        target(records)

    def attach(
        self,
        target: RecordsTarget,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        """Deliver to `target`: on `loop`, batched, when given; else at once."""
        with self._lock:
            pending = list(self._pending)
            self._pending.clear()
            self._target, self._loop = target, loop
            if loop is not None:
                for record in pending:
                    self._enqueue(record)
                schedule = bool(self._queued) and not self._drain_scheduled
                self._drain_scheduled = self._drain_scheduled or schedule
                pending = []
            else:
                schedule = False
        if schedule:
            assert loop is not None
            self._schedule(loop)
        if pending:
            target(pending)

    def detach(self) -> None:
        with self._lock:
            self._target = None
            self._loop = None
            self._queued.clear()

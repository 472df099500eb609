"""Longest event-loop stall while callback records pour into the live timeline, at
1,000, 10,000 and 50,000 records per second, against the simplest correct code in
the same run (not a test; `make bench` runs it).

A producer thread hands records over in bursts every 10 ms (as runtime threads do)
while a 5 ms QTimer ticks on the qasync loop; the stall is the longest gap between
ticks minus the interval (bench/load.py).
- Ours: the window's real path: the session's record sink (`RecordRelay`) -> the
  `Session` of an idle built-in runtime -> `SessionController.follow` -> signal ->
  the timeline widget (batched model, filter proxy, view), shown.
- Baseline (no project code): the producer appends plain tuples to a deque and
  wakes the loop once per burst (`call_soon_threadsafe` only when no drain is
  pending); the drain inserts the whole batch into a bare QAbstractTableModel
  (one beginInsertRows/endInsertRows) shown in a QTableView.

    python bench/stall.py [--rounds 3] [--seconds 3] [--rates 1000,10000,50000]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QTableView  # noqa: E402

from bench.harness import Figure, add_arguments, emit  # noqa: E402
from bench.load import stall_ms, ticks_under_load  # noqa: E402

Index = QModelIndex | QPersistentModelIndex


class BareModel(QAbstractTableModel):
    """The baseline model: rows of plain tuples, inserted a batch at a time."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[Any, ...]] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 6

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return str(self.rows[index.row()][index.column()])

    def add_batch(self, batch: list[tuple[Any, ...]]) -> None:
        first = len(self.rows)
        self.beginInsertRows(QModelIndex(), first, first + len(batch) - 1)
        self.rows.extend(batch)
        self.endInsertRows()


async def bare(seconds: float, rate: int) -> tuple[float, int, int]:
    """(max stall ms, sent, rows shown) for the baseline."""
    loop = asyncio.get_running_loop()
    model = BareModel()
    view = QTableView()
    view.setModel(model)
    view.resize(1000, 700)
    view.show()
    pending: collections.deque[tuple[Any, ...]] = collections.deque()
    lock = threading.Lock()
    scheduled = [False]

    def drain() -> None:
        with lock:
            batch = list(pending)
            pending.clear()
            scheduled[0] = False
        if batch:
            model.add_batch(batch)

    callbacks = ("RequestAuthenticationToken", "ValidateServerCertificate")

    def hand_over(i: int) -> None:
        row = (time.time(), "client", callbacks[i % 2], "summary of the call", "XR_SUCCESS", 0.0001)
        with lock:
            pending.append(row)
            if scheduled[0]:
                return
            scheduled[0] = True
        loop.call_soon_threadsafe(drain)

    gaps, sent = await ticks_under_load(hand_over, seconds, rate, settle=0.3)
    rows = model.rowCount()
    view.close()
    view.deleteLater()
    return stall_ms(gaps), sent, rows


def _records() -> list[Any]:
    from app.xr.masking import mask_secret
    from app.xr.records import CallbackRecord

    now = time.time()
    return [
        CallbackRecord(
            "RequestAuthenticationToken",
            now,
            0.00004,
            {"tokenCapacityIn": 1024},
            {"tokenSizeOut": 44, "token": mask_secret("x" * 43)},
            0,
        ),
        CallbackRecord(
            "ValidateServerCertificate",
            now,
            0.0021,
            {"hostName": "127.0.0.1", "forceRevocationCheck": False, "numCertificates": 3},
            {"validationResultOut": {"trustedRoot": True, "nameMismatch": "MATCH"}},
            0,
        ),
        CallbackRecord(
            "ValidateAuthenticationToken",
            now,
            0.00003,
            {"token": mask_secret("x" * 43)},
            {"tokenValidOut": True},
            0,
        ),
        CallbackRecord(
            "RequestServerCertificate",
            now,
            0.0004,
            {"certStoreCapacityIn": 4096},
            {"certStoreSizeOut": 2900, "keyPassphrase": mask_secret("p" * 24)},
            0,
        ),
    ]


CATCH_UP_S = 10.0


class _DropCounter(logging.Handler):
    """Counts the records the session's relay reports as dropped (it logs them:
    the loop did not run for long enough that its bounded queue overflowed)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "records dropped" in record.getMessage() and record.args:
            self.dropped += int(record.args[0])  # type: ignore[index, call-overload]


async def ours(seconds: float, rate: int) -> tuple[float, int, int, int]:
    """(max stall ms, sent, rows shown, dropped by the session) for the window's path."""
    from app.endpoint.events import Note
    from app.endpoint.session import Session, SessionConfig
    from app.remoting.builtin import BuiltinOptions, BuiltinRuntime
    from ui.controller import SessionController
    from ui.timeline_view import TimelineWidget

    widget = TimelineWidget()
    widget.resize(1000, 700)
    widget.show()
    controller = SessionController()
    controller.records.connect(widget.add_records)
    config = SessionConfig(mode="connect", host="127.0.0.1", secure=False)
    session = Session.with_callbacks(config, BuiltinRuntime(BuiltinOptions()))
    reader = asyncio.ensure_future(controller.follow(session))
    records = _records()
    sink = session.record_sink
    counted = _DropCounter()
    logging.getLogger("app.endpoint.session").addHandler(counted)
    try:
        gaps, sent = await ticks_under_load(
            lambda i: sink(records[i % 4]), seconds, rate, settle=0.3
        )
        # Records still on their way are late, not lost: wait (bounded) for them.
        deadline = time.monotonic() + CATCH_UP_S
        while widget.model.rowCount() + counted.dropped < sent and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        logging.getLogger("app.endpoint.session").removeHandler(counted)
    dropped = counted.dropped + sum(
        int(e.message.split()[0])
        for e in session.history
        if isinstance(e, Note) and "were dropped" in e.message
    )
    await session.aclose()
    reader.cancel()
    rows = widget.model.rowCount()
    widget.close()
    widget.deleteLater()
    return stall_ms(gaps), sent, rows, dropped


async def measure(rounds: int, seconds: float, rates: list[int]) -> list[Figure]:
    result = []
    for rate in rates:
        mine: list[float] = []
        base: list[float] = []
        lost = 0
        for index in range(rounds):
            order = ("bare", "ours") if index % 2 == 0 else ("ours", "bare")
            for who in order:
                if who == "bare":
                    stall, sent, rows = await bare(seconds, rate)
                    base.append(stall)
                else:
                    stall, sent, rows, dropped = await ours(seconds, rate)
                    mine.append(stall)
                    lost += max(dropped, sent - rows)
        figure = Figure(
            name=f"longest loop stall at {rate:,} records/s",
            unit="ms",
            ours=mine,
            baseline_name="bare qasync + batched table model",
            baseline=base,
            note=f"{lost} dropped",
            ok_extra=lost == 0,
        )
        if rate == 10_000:
            figure.target, figure.bound = "ratio<=", 3.0
        elif rate == 50_000:
            figure.target, figure.bound = "abs<", 16.0
        result.append(figure)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--seconds", type=float, default=3.0, help="load per measurement")
    parser.add_argument("--rates", default="1000,10000,50000", help="records/s, comma-separated")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    rounds, seconds = (1, 0.3) if args.smoke else (args.rounds, args.seconds)
    import qasync

    app = QApplication.instance() or QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        found = loop.run_until_complete(measure(rounds, seconds, rates))
    emit(found, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Window benchmarks, each against a bare PySide6 baseline measured in the same run.

1. Start-up: process spawn to the first paint of the shown window, `python -m
   ui.main` against a script that shows a bare QMainWindow (median of N runs each,
   alternated so both see the same machine state).
2. Event-loop stall under load: 10,000 callback records per second, in bursts every
   10 ms from a producer thread, handed to the session's record sink (the real
   `app.endpoint.session.RecordRelay` a callbacks object writes to from runtime threads), for
   several seconds; the session (an idle built-in runtime) turns them into events on
   the qasync loop. Measured: the longest gap between ticks of a 5 ms QTimer, minus
   its interval. Ours: the window's path (`SessionController.follow` -> signal ->
   timeline widget: batched model, filter proxy, view); baseline: a bare
   QAbstractTableModel in a QTableView inserting each record as its event arrives.

    python bench/ui.py [--runs 5] [--seconds 5] [--rate 10000]

Runs offscreen unless QT_QPA_PLATFORM (or a DISPLAY with QT_QPA_PLATFORM=xcb) says
otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import (  # noqa: E402
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtWidgets import QApplication, QTableView  # noqa: E402

from app.xr.masking import mask_secret  # noqa: E402
from app.xr.records import CallbackRecord  # noqa: E402
from bench.load import stall_ms, ticks_under_load  # noqa: E402

BARE_WINDOW = """
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow
app = QApplication(sys.argv[:1])
window = QMainWindow()
window.setCentralWidget(QLabel("bare PySide6 window"))
window.resize(1280, 820)
class First(QObject):
    done = False
    def eventFilter(self, obj, event):
        if not self.done and event.type() == QEvent.Type.Paint:
            self.done = True
            QTimer.singleShot(0, lambda: (print("holoremote-shown", flush=True), window.close()))
        return False
first = First()
window.installEventFilter(first)
window.show()
sys.exit(app.exec())
"""


def _time_to_shown(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == "holoremote-shown":
            elapsed = time.perf_counter() - start
            break
    else:
        process.wait()
        raise RuntimeError(f"{command} exited ({process.returncode}) without showing a window")
    process.wait(timeout=30)
    return elapsed


def bench_startup(runs: int) -> None:
    with tempfile.TemporaryDirectory() as config:
        env = dict(os.environ, XDG_CONFIG_HOME=config, HOLOREMOTE_EXIT_WHEN_SHOWN="1")
        ours: list[float] = []
        bare: list[float] = []
        # One warm-up of each so the page cache is equally warm for both.
        _time_to_shown([sys.executable, "-c", BARE_WINDOW], env)
        _time_to_shown([sys.executable, "-m", "ui.main"], env)
        for _ in range(runs):
            bare.append(_time_to_shown([sys.executable, "-c", BARE_WINDOW], env))
            ours.append(_time_to_shown([sys.executable, "-m", "ui.main"], env))
    o, b = statistics.median(ours), statistics.median(bare)
    print(f"start-up to first paint ({runs} runs each, median, {os.environ['QT_QPA_PLATFORM']}):")
    print(f"  bare PySide6 window     {b * 1000:8.1f} ms")
    print(f"  holoremote main window  {o * 1000:8.1f} ms   ratio {o / b:.2f}x")


def _records() -> list[CallbackRecord]:
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


class BareModel(QAbstractTableModel):
    """The baseline: a plain table model that inserts each record as it comes."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[CallbackRecord] = []

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 6

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        record = self.rows[index.row()]
        return (
            record.started_at,
            record.side,
            record.callback,
            record.summary(),
            record.result_name,
            record.duration_s,
        )[index.column()]

    def add(self, record: CallbackRecord) -> None:
        row = len(self.rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self.rows.append(record)
        self.endInsertRows()


def _idle_session() -> Any:
    """A session on an idle built-in runtime: records reach the loop exactly as they
    do from a connection's callbacks (RecordRelay -> the session's event history)."""
    from app.endpoint.session import Session, SessionConfig
    from app.remoting.builtin import BuiltinOptions, BuiltinRuntime

    config = SessionConfig(mode="connect", host="127.0.0.1", secure=False)
    return Session.with_callbacks(config, BuiltinRuntime(BuiltinOptions()))


async def _feed_and_measure(
    consume: Any, seconds: float, rate: int
) -> tuple[float, int, int, float]:
    """Feed `rate` records/s into a fresh session's record sink; `consume(session)` is
    the coroutine that reads its events. Returns (max stall ms, sent, dropped, p99)."""
    from app.endpoint.events import Note

    session = _idle_session()
    reader = asyncio.ensure_future(consume(session))
    records = _records()
    sink = session.record_sink
    gaps, sent = await ticks_under_load(lambda i: sink(records[i % 4]), seconds, rate, settle=0.3)
    dropped = sum(
        int(e.message.split()[0])
        for e in session.history
        if isinstance(e, Note) and "were dropped" in e.message
    )
    await session.aclose()
    reader.cancel()
    return stall_ms(gaps), sent, dropped, stall_ms(gaps, 0.99)


async def bench_stall(seconds: float, rate: int) -> None:
    from app.endpoint.events import CallbacksCalled
    from ui.controller import SessionController
    from ui.timeline_view import TimelineWidget

    ours_widget = TimelineWidget()
    ours_widget.resize(1000, 700)
    ours_widget.show()
    controller = SessionController()
    controller.records.connect(ours_widget.add_records)
    ours = await _feed_and_measure(controller.follow, seconds, rate)
    ours_rows = ours_widget.model.rowCount()
    ours_widget.close()

    bare_model = BareModel()
    bare_view = QTableView()
    bare_view.setModel(bare_model)
    bare_view.resize(1000, 700)
    bare_view.show()

    async def bare_reader(session: Any) -> None:
        async for event in session.events():
            if isinstance(event, CallbacksCalled):
                for record in event.records:
                    bare_model.add(record)

    bare = await _feed_and_measure(bare_reader, seconds, rate)
    bare_rows = bare_model.rowCount()
    bare_view.close()

    print(
        f"longest event-loop stall, {rate} records/s for {seconds:.0f} s through "
        "RecordRelay -> Session (one burst per 40 ms at most):"
    )
    for label, (stall, sent, dropped, p99), rows in (
        ("bare table model, row by row ", bare, bare_rows),
        ("holoremote timeline (batched)", ours, ours_rows),
    ):
        print(
            f"  {label}  max {stall:6.1f} ms  p99 {p99:5.1f} ms"
            f"  ({rows} rows of {sent} sent, {dropped} dropped by the session)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=int, default=10_000)
    args = parser.parse_args()
    bench_startup(args.runs)
    import qasync

    app = QApplication.instance() or QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(bench_stall(args.seconds, args.rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())

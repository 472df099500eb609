"""Where the UI thread's time goes per burst of records in the window's path, in CPU
time (not a test; a profiling aid for `bench/stall.py`, not part of `make bench`).

`bench/stall.py` measures the longest wall-clock gap of the loop, which on a shared
machine is mostly set by when the OS runs the process at all. This script runs the
same path (records -> `RecordRelay` -> `Session` -> `SessionController` -> the live
timeline, shown) at one rate and reports the UI thread's CPU time per burst of its
parts: the relay's drain (with the session's reading of the burst), the controller's
dispatch into the timeline (the model insert), and the repaint that follows (Qt's
`UpdateRequest`, timed by a `QApplication.notify` override). Figures from two
checkouts, run one after the other, compare the code, not the machine's load.

    python bench/stall_parts.py [--rate 50000] [--seconds 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

PARTS: defaultdict[str, list[float]] = defaultdict(list)
_UPDATE = QEvent.Type.UpdateRequest


class TimingApp(QApplication):
    """Times each repaint (UpdateRequest) in the UI thread's CPU time."""

    def notify(self, receiver: QObject, event: QEvent) -> bool:
        if event.type() != _UPDATE:
            return super().notify(receiver, event)
        started = time.thread_time()
        try:
            return super().notify(receiver, event)
        finally:
            PARTS["repaint"].append(time.thread_time() - started)


def _timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            PARTS[name].append(time.thread_time() - started)

    return timed


def instrument() -> None:
    from app.endpoint.record_relay import RecordRelay
    from ui.controller import SessionController

    RecordRelay._drain = _timed("relay drain", RecordRelay._drain)  # type: ignore[method-assign]
    SessionController._dispatch = _timed("dispatch", SessionController._dispatch)  # type: ignore[method-assign]


async def measure(rate: int, seconds: float, rounds: int) -> None:
    from bench.stall import ours

    await ours(0.2, 1000)  # imports and first paints out of the figures
    for _ in range(rounds):
        PARTS.clear()
        stall, sent, rows, dropped = await ours(seconds, rate)
        lost = max(dropped, sent - rows)
        line = [f"{rate:,} records/s: wall stall {stall:.1f} ms, {lost} not shown"]
        total = 0.0
        for name in ("relay drain", "dispatch", "repaint"):
            values = [v * 1000 for v in PARTS[name]] or [0.0]
            median = statistics.median(values)
            total += median
            line.append(f"{name} {median:.2f} (max {max(values):.2f})")
        line.append(f"sum of medians {total:.2f} ms CPU per burst")
        print("; ".join(line), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=50_000, help="records/s")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="one short round")
    args = parser.parse_args()
    rounds, seconds = (1, 0.3) if args.smoke else (args.rounds, args.seconds)
    import qasync

    app = TimingApp(sys.argv[:1])
    instrument()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(measure(args.rate, seconds, rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())

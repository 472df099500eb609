"""Record delivery from runtime threads to the qasync loop: `RecordRelay` (one
`call_soon_threadsafe` drain per burst) against the old way (one
`call_soon_threadsafe` per record), in the same run (not a test).

A producer thread hands over N records per second in bursts every 10 ms, as runtime
threads would; the target on the loop only appends (so the hand-over itself is
measured, not a widget). Measured: the longest and the 99th-percentile gap between
ticks of a 5 ms Qt timer, minus its interval, and the loop wake-ups used.

    python bench/relay.py [--seconds 5] [--rate 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.security.records import CallbackRecord  # noqa: E402
from app.session import RecordRelay  # noqa: E402


async def measure(
    hand_over: Callable[[CallbackRecord], None], seconds: float, rate: int
) -> tuple[float, float, int]:
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(5)
    timer.timeout.connect(tick)
    record = CallbackRecord("ValidateAuthenticationToken", 0.0, 0.0, {}, {"x": 1}, 0)
    stop = threading.Event()
    sent = [0]

    def produce() -> None:
        per_burst = rate // 100
        next_at = time.perf_counter()
        while not stop.is_set():
            for _ in range(per_burst):
                hand_over(record)
            sent[0] += per_burst
            next_at += 0.01
            delay = next_at - time.perf_counter()
            if delay > 0:
                stop.wait(delay)

    producer = threading.Thread(target=produce, daemon=True)
    await asyncio.sleep(0.2)
    last[0] = time.perf_counter()
    timer.start()
    producer.start()
    await asyncio.sleep(seconds)
    stop.set()
    producer.join()
    await asyncio.sleep(0.2)
    timer.stop()
    gaps.sort()
    return max(gaps) * 1000 - 5, gaps[int(len(gaps) * 0.99)] * 1000 - 5, sent[0]


async def bench(seconds: float, rate: int) -> None:
    loop = asyncio.get_running_loop()
    wakeups = [0]
    original = loop.call_soon_threadsafe

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        wakeups[0] += 1
        return original(*args, **kwargs)

    loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
    got: list[CallbackRecord] = []

    def per_record(record: CallbackRecord) -> None:
        loop.call_soon_threadsafe(got.append, record)

    relay = RecordRelay()
    relay.attach(got.append, loop)
    results = {}
    hand_overs: tuple[tuple[str, Callable[[CallbackRecord], None]], ...] = (
        ("per record", per_record),
        ("RecordRelay", relay),
    )
    for name, hand_over in hand_overs:
        got.clear()
        wakeups[0] = 0
        stall, p99, sent = await measure(hand_over, seconds, rate)
        results[name] = (stall, p99, sent, len(got), wakeups[0])
    print(f"record hand-over to the qasync loop, {rate} records/s for {seconds:.0f} s:")
    for name, (stall, p99, sent, delivered, used) in results.items():
        print(
            f"  {name:<12} max stall {stall:6.1f} ms  p99 {p99:5.1f} ms  "
            f"{used:>7} wake-ups for {delivered} of {sent} records"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=int, default=10_000)
    args = parser.parse_args()
    import qasync

    app = QApplication.instance() or QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(bench(args.seconds, args.rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())

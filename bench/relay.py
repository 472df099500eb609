"""Record delivery from runtime threads to the qasync loop: `RecordRelay` (one
`call_soon_threadsafe` drain per burst) against the old way (one
`call_soon_threadsafe` per record), in the same run (not a test).

A producer thread hands over N records per second in bursts every 10 ms, as runtime
threads would; the target on the loop only appends (so the hand-over itself is
measured, not a widget). Measured: the longest and the 99th-percentile gap between
ticks of a 5 ms Qt timer, minus its interval, and the loop wake-ups used.

    python bench/relay.py [--seconds 5] [--rate 10000] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from app.endpoint.record_relay import RecordRelay  # noqa: E402
from app.xr.records import CallbackRecord  # noqa: E402
from bench.load import stall_ms, ticks_under_load  # noqa: E402


async def measure(
    hand_over: Callable[[CallbackRecord], None], seconds: float, rate: int
) -> tuple[float, float, int]:
    record = CallbackRecord("ValidateAuthenticationToken", 0.0, 0.0, {}, {"x": 1}, 0)
    gaps, sent = await ticks_under_load(lambda _i: hand_over(record), seconds, rate)
    return stall_ms(gaps), stall_ms(gaps, 0.99), sent


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
    parser.add_argument("--smoke", action="store_true", help="a tiny run: proves the script runs")
    args = parser.parse_args()
    if args.smoke:
        args.seconds = 0.2
    import qasync

    app = QApplication.instance() or QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(bench(args.seconds, args.rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())

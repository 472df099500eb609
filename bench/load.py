"""What bench/relay.py and bench/stall.py share: a producer thread that hands records
over in bursts every 10 ms (as runtime threads deliver them) while a 5 ms Qt timer
ticks on the loop; the gaps between ticks show how long the loop stalled.

A module for the benchmark scripts, not one of them (it runs nothing by itself).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer

TICK_MS = 5  # the timer's interval; a gap minus this is a stall
BURST_S = 0.01  # one burst of records every 10 ms


async def ticks_under_load(
    hand_over: Callable[[int], None], seconds: float, rate: int, *, settle: float = 0.2
) -> tuple[list[float], int]:
    """Call `hand_over(i)` `rate` times a second from a thread for `seconds`, with
    the timer running; returns the sorted gaps between ticks (seconds) and how many
    records were handed over. `settle`: how long the loop may catch up after."""
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    stop = threading.Event()
    sent = [0]

    def produce() -> None:
        per_burst = int(rate * BURST_S)
        next_at = time.perf_counter()
        while not stop.is_set():
            for i in range(per_burst):
                hand_over(i)
            sent[0] += per_burst
            next_at += BURST_S
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
    await asyncio.sleep(settle)
    timer.stop()
    gaps.sort()
    return gaps, sent[0]


def stall_ms(gaps: list[float], quantile: float = 1.0) -> float:
    """The longest gap (or the given quantile of sorted gaps) beyond the interval, ms."""
    gap = gaps[-1] if quantile >= 1.0 else gaps[int(len(gaps) * quantile)]
    return gap * 1000 - TICK_MS

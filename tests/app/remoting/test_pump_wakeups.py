"""How often the built-in runtime wakes the session's event pump for channel data
(BuiltinRuntime._on_data / _announce): every event is announced, a lone one within a
few turns of the runtime's loop, a stream of reads with one wake-up per several."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from app.remoting.builtin.channels import _OPEN, MAX_MESSAGE_BYTES
from app.remoting.builtin.frames import DataReceived
from app.remoting.builtin.options import BuiltinOptions
from app.remoting.builtin.protocol import FrameType
from app.remoting.builtin.runtime import (
    ANNOUNCE_TURNS,
    WAKE_PUMP_BYTES,
    WAKE_PUMP_EVENTS,
    BuiltinRuntime,
)
from app.remoting.contract import DataChannelDataReceivedEvent
from app.xr.values import ConnectionState
from tests.app.remoting.remoting_support import WAIT_S

CHANNEL_ID = 7  # a remote's id, opened by the peer of this player


class CountingCondition(threading.Condition):
    def __init__(self, lock: threading.Lock) -> None:
        super().__init__(lock)
        self.notified = 0

    def notify_all(self) -> None:
        self.notified += 1
        super().notify_all()


@pytest.fixture
def player() -> Iterator[BuiltinRuntime]:
    runtime = BuiltinRuntime(BuiltinOptions(role="player"))
    runtime._changed = CountingCondition(runtime._lock)
    with runtime._lock:  # as a connected session whose peer opened a channel
        runtime._state = ConnectionState.CONNECTED
        runtime._channels.session_opened()
        runtime._channels.on_frame(FrameType.CHANNEL_OPEN, _OPEN.pack(CHANNEL_ID, 1), 0.0)
    try:
        yield runtime
    finally:
        runtime.close()


def on_loop(runtime: BuiltinRuntime, reads: int, per_read: int) -> int:
    """`reads` reads of `per_read` messages, one per turn of the runtime's loop, then
    enough idle turns for any announcement; the pump's wake-ups for them."""

    async def scenario() -> int:
        condition = runtime._changed
        assert isinstance(condition, CountingCondition)
        condition.notified = 0
        for _ in range(reads):
            runtime._on_data([DataReceived(CHANNEL_ID, b"m")] * per_read)
            await asyncio.sleep(0)
        for _ in range(ANNOUNCE_TURNS + 2):
            await asyncio.sleep(0)
        return condition.notified

    return asyncio.run_coroutine_threadsafe(scenario(), runtime._loop).result(WAIT_S)


def wakeups_per_read(runtime: BuiltinRuntime, reads: list[list[DataReceived]]) -> list[int]:
    """The pump's wake-ups so far after each read, all in one turn of the runtime's
    loop (no announcement can come between), and last after the idle turns."""

    async def scenario() -> list[int]:
        condition = runtime._changed
        assert isinstance(condition, CountingCondition)
        condition.notified = 0
        counts = []
        for messages in reads:
            runtime._on_data(messages)
            counts.append(condition.notified)
        for _ in range(ANNOUNCE_TURNS + 2):
            await asyncio.sleep(0)
        return [*counts, condition.notified]

    return asyncio.run_coroutine_threadsafe(scenario(), runtime._loop).result(WAIT_S)


def data_events(runtime: BuiltinRuntime) -> int:
    count = 0
    while (event := runtime.poll_event()) is not None:
        count += isinstance(event, DataChannelDataReceivedEvent)
    return count


def test_a_lone_message_is_announced_once(player: BuiltinRuntime) -> None:
    assert on_loop(player, reads=1, per_read=1) == 1
    assert data_events(player) == 1
    assert player._unannounced == 0 and not player._announcing


def test_a_stream_of_reads_wakes_the_pump_per_several_events(player: BuiltinRuntime) -> None:
    reads = 4 * WAKE_PUMP_EVENTS
    wakeups = on_loop(player, reads=reads, per_read=1)
    assert data_events(player) == reads  # every event is there, and announced
    assert player._unannounced == 0 and not player._announcing
    assert 1 <= wakeups <= reads // WAKE_PUMP_EVENTS + reads // ANNOUNCE_TURNS


def test_a_read_of_many_events_wakes_the_pump_at_once(player: BuiltinRuntime) -> None:
    assert on_loop(player, reads=1, per_read=WAKE_PUMP_EVENTS) == 1
    assert data_events(player) == WAKE_PUMP_EVENTS


def test_a_read_of_few_small_messages_waits_for_the_announcement(player: BuiltinRuntime) -> None:
    small = [DataReceived(CHANNEL_ID, b"m")] * 3
    assert wakeups_per_read(player, [small]) == [0, 1]
    assert data_events(player) == 3


def test_a_read_of_few_large_messages_wakes_the_pump_at_once_by_their_bytes(
    player: BuiltinRuntime,
) -> None:
    """Counting events alone, 1 MiB messages would wait for the turns of the loop
    while reads go on: WAKE_PUMP_BYTES of them wake the pump as WAKE_PUMP_EVENTS do."""
    count = -(-WAKE_PUMP_BYTES // MAX_MESSAGE_BYTES)
    assert count < WAKE_PUMP_EVENTS
    large = DataReceived(CHANNEL_ID, bytes(MAX_MESSAGE_BYTES))
    assert wakeups_per_read(player, [[large] * (count - 1), [large]]) == [0, 1, 1]
    assert data_events(player) == count
    assert player._unannounced == 0 and player._unannounced_bytes == 0

"""The built-in runtime's one-call paths for Python callers: `send_packet_paced` (the
look at sendQueueSize and the send together) and `wait_events_with_packets` (the event
pump's turn: events and their packets in one call). Same checks, errors and results as
the calls they stand for, on real sessions over TLS on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading

import pytest

from app.endpoint.session import EventPump
from app.remoting import channel_calls
from app.remoting.contract import (
    DataChannelDataReceivedEvent,
    DataChannelError,
    RemotingCallError,
    RemotingEvent,
)
from app.security.testpki import GeneratedPki
from app.xr.values import DataChannelPriority, DataChannelResult, Result
from tests.app.remoting.remoting_support import WAIT_S, run
from tests.app.remoting.test_builtin_channels import (
    builtin,
    connected_pair,
    opened_by_peer,
    parked_loop,
)

LOW = DataChannelPriority.LOW


def test_send_paced_waits_while_more_than_the_limit_is_unsent(pki: GeneratedPki) -> None:
    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            runtime = builtin(remote)
            assert channel_calls.has_fast_path(runtime, channel_calls.PacedPacketSender)
            handle = await remote.channels.open(5, LOW)
            peer = await opened_by_peer(player, 5)
            sent = threading.Event()

            def pace_while_parked() -> tuple[bool, bool]:
                with parked_loop(runtime):  # nothing leaves the queue meanwhile
                    assert runtime.send_packet_paced(handle, b"a" * 1000, 1000, True)
                    assert runtime.send_packet_paced(handle, b"b" * 1000, 1000, True)
                    over = runtime.send_packet_paced(handle, b"c" * 1000, 1000, True)
                    waiter = threading.Thread(
                        target=lambda: (
                            channel_calls.send_paced(
                                runtime, handle, b"d" * 1000, limit=1000, poll_s=0.002
                            ),
                            sent.set(),
                        )
                    )
                    waiter.start()
                    waited = not sent.wait(0.2)  # still waiting: 2000 bytes unsent
                return over, waited

            over, waited = await asyncio.to_thread(pace_while_parked)
            assert over is False  # refused, not queued
            assert waited
            assert await asyncio.to_thread(sent.wait, WAIT_S)  # the queue drained
            got = [await player.channels.receive(peer, WAIT_S) for _ in range(3)]
            assert [m[:1] for m in got] == [b"a", b"b", b"d"]

    run(scenario())


def test_send_paced_raises_what_send_raises(pki: GeneratedPki) -> None:
    async def scenario() -> None:
        async with connected_pair(pki) as (remote, _player):
            runtime = builtin(remote)
            with pytest.raises(RemotingCallError) as invalid:
                runtime.send_packet_paced(9999, b"x", 1 << 20, True)
            assert invalid.value.result == Result.ERROR_HANDLE_INVALID
            assert invalid.value.function == "xrSendRemotingDataMSFT"

            def pending() -> DataChannelError:
                with parked_loop(runtime):
                    handle = channel_calls.create(runtime, 6, LOW)
                    with pytest.raises(DataChannelError) as early:
                        runtime.send_packet_paced(handle, b"x", 1 << 20, True)
                    return early.value

            assert (await asyncio.to_thread(pending)).code == DataChannelResult.OPEN_PENDING

    run(scenario())


def _data_events(
    taken: list[tuple[RemotingEvent, bytes | Exception | None]],
) -> list[tuple[DataChannelDataReceivedEvent, bytes | Exception | None]]:
    return [(e, d) for e, d in taken if isinstance(e, DataChannelDataReceivedEvent)]


def test_the_pump_turn_takes_events_with_their_packets_once(pki: GeneratedPki) -> None:
    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            runtime = builtin(player)
            assert channel_calls.has_fast_path(runtime, EventPump)
            # The session's pump leaves packets in place (from its turn after the
            # channel's creation on): the test takes them.
            player.channels.manual_retrieve = True
            handle = await remote.channels.open(7, LOW)
            peer = await opened_by_peer(player, 7)
            for index in range(3):
                await remote.channels.send(handle, bytes([index]) * 100)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + WAIT_S
            while len(player.channels.announced) < 3:
                assert loop.time() < deadline
                await asyncio.sleep(0.01)
            first, second, third = list(player.channels.announced)
            # From here on the test is the only one taking the runtime's events.
            player._stop_pump.set()
            assert player._pump_task is not None
            await asyncio.wait_for(player._pump_task, WAIT_S)
            # Retrieved by the application already: the turn reports that, not bytes.
            assert channel_calls.retrieve(runtime, peer, first.packet_id) == b"\0" * 100

            def turn() -> list[tuple[RemotingEvent, bytes | Exception | None]]:
                with runtime._changed:  # the events, queued again as they came
                    runtime._events.extendleft(reversed([first, second, third]))
                return runtime.wait_events_with_packets(WAIT_S, 2)

            taken = _data_events(await asyncio.to_thread(turn))
            assert [e.packet_id for e, _ in taken] == [first.packet_id, second.packet_id]
            spent = taken[0][1]
            assert isinstance(spent, DataChannelError)
            assert spent.code == DataChannelResult.PACKET_EXPIRED
            assert taken[1][1] == b"\1" * 100
            # The limit left the third queued; without retrieval it stays retrievable.
            rest = _data_events(
                await asyncio.to_thread(runtime.wait_events_with_packets, 0.0, 10, retrieve=False)
            )
            assert [(e.packet_id, d) for e, d in rest] == [(third.packet_id, None)]
            assert channel_calls.retrieve(runtime, peer, third.packet_id) == b"\2" * 100
            # Each packet once: the second was handed out by the turn.
            with pytest.raises(DataChannelError) as again:
                channel_calls.retrieve(runtime, peer, second.packet_id)
            assert again.value.code == DataChannelResult.PACKET_EXPIRED
            # The session's pump again, for the sessions' close.
            player._stop_pump.clear()
            player._pump_task = asyncio.get_running_loop().create_task(player._pump())

    run(scenario())

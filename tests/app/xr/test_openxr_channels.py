"""Data channels on the OpenXR path: the app -> the Khronos loader -> the test runtime
(shim + Python body) -> its built-in engine, against a built-in runtime on the other end.

The OpenXR runtime looks the five functions up with xrGetInstanceProcAddr and reads the
four events by their raw structure type. The XR_ERROR_REMOTING_DATA_CHANNEL_* numbers are
in no source this project has: the test runtime answers with numbers of its own
(`CHANNEL_RESULTS`), which reach the app as the unknown failures they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
from collections.abc import AsyncIterator

import pytest

from app.endpoint.channels import ChannelClosedError
from app.endpoint.events import ChannelClosed, Connected, Disconnected
from app.endpoint.session import Session
from app.remoting import channel_calls
from app.remoting.builtin import BuiltinRuntime
from app.remoting.builtin.channels import MAX_MESSAGE_BYTES, MAX_UNRETRIEVED_BYTES
from app.remoting.contract import DataChannelError, RemotingCallError, RetrieveCapacityError
from app.remoting.openxr.runtime import OpenXRRuntime
from app.xr.values import DataChannelPriority, DataChannelResult, DataChannelStatus, Result
from tests.app.remoting.test_builtin_channels import parked_loop
from tests.app.xr.conftest import installed
from tests.app.xr.e2e_support import TIMEOUT, Secrets, builtin, connect_pair, make_secrets, openxr
from tests.support.openxr_runtime.build import BuiltRuntime
from tests.support.openxr_runtime.runtime import CHANNEL_RESULTS

CREATED, OPENED, RECEIVED, CLOSED = 1000065015, 1000065016, 1000065017, 1000065018


@pytest.fixture(scope="module")
def shared() -> Secrets:
    return make_secrets()


@contextlib.asynccontextmanager
async def openxr_remote(
    shared: Secrets, built: BuiltRuntime
) -> AsyncIterator[tuple[Session, Session]]:
    """(remote on OpenXR, player on the built-in runtime), connected."""
    server, client = await connect_pair(shared, builtin("player")(), openxr(built)())
    try:
        await client.wait_for(lambda e: isinstance(e, Connected), TIMEOUT)
        await server.wait_for(lambda e: isinstance(e, Connected), TIMEOUT)
        assert isinstance(client.runtime, OpenXRRuntime)
        yield client, server
    finally:
        await client.aclose()
        await server.aclose()


def test_channels_from_either_side_through_the_loader(
    xr_runtimes: dict[str, BuiltRuntime], shared: Secrets
) -> None:
    built = xr_runtimes["full"]
    trace = installed(built).trace

    async def scenario() -> None:
        async with openxr_remote(shared, built) as (remote, player):
            mark = len(trace.events)
            # the OpenXR end creates ...
            mine = await remote.channels.open(5, DataChannelPriority.HIGH)
            theirs = await player.channels.accept(TIMEOUT)
            await remote.channels.send(mine, b"from openxr")
            assert await player.channels.receive(theirs, TIMEOUT) == b"from openxr"
            await player.channels.send(theirs, b"x" * 100_000)
            assert await remote.channels.receive(mine, TIMEOUT) == b"x" * 100_000
            assert (await remote.channels.state(mine)).status == DataChannelStatus.OPENED
            assert trace.events[mark:][:2] == [OPENED, RECEIVED]
            # ... and the built-in end creates: Created on the OpenXR end
            other = await player.channels.open(70)
            accepted = await remote.channels.accept(TIMEOUT)
            assert remote.channels.channel_id(accepted) == 70
            assert CREATED in trace.events[mark:]
            await remote.channels.send(accepted, b"back")
            assert await player.channels.receive(other, TIMEOUT) == b"back"
            # close: the OpenXR end sees CLOSED (PROTOCOL) by its raw type
            await player.channels.close(other)
            with pytest.raises(ChannelClosedError, match="PROTOCOL"):
                await remote.channels.receive(accepted, TIMEOUT)
            assert CLOSED in trace.events[mark:]
            closed = [e for e in remote.history if isinstance(e, ChannelClosed)]
            assert closed[-1].channel_id == 70 and closed[-1].reason == "PROTOCOL"
            assert "xrCreateRemotingDataChannelMSFT" in trace.proc_addr_lookups

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_one_byte_first_buffers_and_the_errors_through_the_loader(
    xr_runtimes: dict[str, BuiltRuntime], shared: Secrets
) -> None:
    built = xr_runtimes["full"]

    async def scenario() -> None:
        async with openxr_remote(shared, built) as (remote, player):
            runtime = remote.runtime
            remote.channels.manual_retrieve = True
            mine = await remote.channels.open(6)
            theirs = await player.channels.accept(TIMEOUT)
            await player.channels.send(theirs, b"hello")
            while not remote.channels.announced:
                remote.channels.announced_changed.clear()
                await asyncio.wait_for(remote.channels.announced_changed.wait(), TIMEOUT)
            (event,) = remote.channels.announced
            assert event.size == 5 and event.channel == mine

            def by_hand() -> None:
                one = (ctypes.c_uint8 * 1)()
                with pytest.raises(RetrieveCapacityError) as small:
                    runtime.retrieve_remoting_data(mine, event.packet_id, 1, one)
                assert small.value.required == 5
                assert small.value.result == Result.ERROR_VALIDATION_FAILURE
                assert runtime.retrieve_remoting_data(mine, event.packet_id, 0, None) == 5
                five = (ctypes.c_uint8 * 5)()
                assert runtime.retrieve_remoting_data(mine, event.packet_id, 5, five) == 5
                assert bytes(five) == b"hello"
                with pytest.raises(RemotingCallError) as again:
                    runtime.retrieve_remoting_data(mine, event.packet_id, 5, five)
                assert again.value.result == CHANNEL_RESULTS[DataChannelResult.PACKET_EXPIRED]
                with pytest.raises(RemotingCallError) as wrong_side:
                    channel_calls.create(runtime, 100, DataChannelPriority.LOW)
                assert wrong_side.value.result == CHANNEL_RESULTS[DataChannelResult.INVALID_ID]
                with pytest.raises(RemotingCallError) as in_use:
                    channel_calls.create(runtime, 6, DataChannelPriority.LOW)
                assert in_use.value.result == CHANNEL_RESULTS[DataChannelResult.ID_ALREADY_IN_USE]
                with pytest.raises(RemotingCallError) as empty:
                    channel_calls.send(runtime, mine, b"")
                assert empty.value.result == CHANNEL_RESULTS[DataChannelResult.INVALID_DATA]

            await asyncio.to_thread(by_hand)
            await player.channels.close(theirs)
            await remote.wait_for(lambda e: isinstance(e, ChannelClosed), TIMEOUT)

            def after_close() -> None:
                with pytest.raises(RemotingCallError) as closed:
                    channel_calls.send(runtime, mine, b"late")
                assert closed.value.result == CHANNEL_RESULTS[DataChannelResult.CLOSED]
                assert channel_calls.state(runtime, mine).status == DataChannelStatus.CLOSED
                channel_calls.destroy(runtime, mine)
                with pytest.raises(RemotingCallError) as gone:
                    channel_calls.state(runtime, mine)
                assert gone.value.result == Result.ERROR_HANDLE_INVALID

            await asyncio.to_thread(after_close)

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_a_runtime_without_data_channels_answers_function_unsupported(
    xr_runtimes: dict[str, BuiltRuntime], shared: Secrets
) -> None:
    built = xr_runtimes["full"]

    async def scenario() -> None:
        async with openxr_remote(shared, built) as (remote, _player):
            runtime = remote.runtime
            assert isinstance(runtime, OpenXRRuntime)
            runtime._functions.pop("xrCreateRemotingDataChannelMSFT")
            with pytest.raises(RemotingCallError) as unsupported:
                await remote.channels.open(9)
            assert unsupported.value.result == Result.ERROR_FUNCTION_UNSUPPORTED

    asyncio.run(asyncio.wait_for(scenario(), 60))


def _engine(built: BuiltRuntime, remote: Session) -> BuiltinRuntime:
    """The test runtime's own engine behind this session's OpenXR instance."""
    runtime = remote.runtime
    assert isinstance(runtime, OpenXRRuntime)
    state = installed(built)._instances[int(runtime._instance)]
    engine = state.backend
    assert isinstance(engine, BuiltinRuntime)
    return engine


def test_pending_send_priorities_flood_and_disconnect_through_the_loader(
    xr_runtimes: dict[str, BuiltRuntime], shared: Secrets
) -> None:
    built = xr_runtimes["full"]
    trace = installed(built).trace

    async def scenario() -> None:
        async with openxr_remote(shared, built) as (remote, player):
            runtime, engine = remote.runtime, _engine(built, remote)

            def pending_then_priorities() -> tuple[int, int]:
                with parked_loop(engine):  # nothing leaves the OpenXR end meanwhile
                    pending = channel_calls.create(runtime, 1, DataChannelPriority.LOW)
                    assert channel_calls.state(runtime, pending).status == (
                        DataChannelStatus.OPEN_PENDING
                    )
                    with pytest.raises(RemotingCallError) as early:
                        channel_calls.send(runtime, pending, b"early")
                    assert early.value.result == CHANNEL_RESULTS[DataChannelResult.OPEN_PENDING]
                return pending, 0

            pending, _ = await asyncio.to_thread(pending_then_priorities)
            await player.channels.accept(TIMEOUT)
            low = await remote.channels.open(2, DataChannelPriority.LOW)
            high = await remote.channels.open(3, DataChannelPriority.HIGH)
            low_peer = await player.channels.accept(TIMEOUT)
            high_peer = await player.channels.accept(TIMEOUT)

            def queue_parked() -> int:
                with parked_loop(engine):
                    for index in range(6):
                        channel_calls.send(runtime, low, bytes([index]) * MAX_MESSAGE_BYTES)
                    channel_calls.send(runtime, high, b"urgent")
                    return channel_calls.state(runtime, low).send_queue_size

            # The order of arrival is the player runtime's order of data events, not the
            # order in which two reading tasks happen to run (a reader that finds messages
            # already waiting takes them all before the other task starts).
            player.channels.manual_retrieve = True
            assert await asyncio.to_thread(queue_parked) == 6 * MAX_MESSAGE_BYTES
            while len(player.channels.announced) < 7:
                player.channels.announced_changed.clear()
                await asyncio.wait_for(player.channels.announced_changed.wait(), TIMEOUT)
            arrived = player.channels.announced
            order = ["high" if e.channel == high_peer else "low" for e in arrived]
            assert {e.channel for e in arrived} == {low_peer, high_peer}
            assert order.count("low") == 6
            assert order.index("high") <= 1, order
            player.channels.manual_retrieve = False

            # a flood from the built-in end: the OpenXR end reads nothing, its engine
            # closes that channel with ERROR (seen by raw type), the other goes on
            remote.channels.manual_retrieve = True
            flood = await player.channels.open(80)
            await remote.channels.accept(TIMEOUT)
            mark = remote.event_count
            chunk = b"f" * MAX_MESSAGE_BYTES
            for _ in range(MAX_UNRETRIEVED_BYTES // MAX_MESSAGE_BYTES + 8):
                try:
                    await player.channels.send(flood, chunk, paced=True)
                except DataChannelError:
                    break
            closed = await remote.wait_for(
                lambda e: isinstance(e, ChannelClosed) and e.channel_id == 80, TIMEOUT, after=mark
            )
            assert isinstance(closed, ChannelClosed) and closed.reason == "ERROR"
            assert CLOSED in trace.events
            await player.channels.send(high_peer, b"still here")
            while not any(e.channel == high for e in remote.channels.announced):
                remote.channels.announced_changed.clear()
                await asyncio.wait_for(remote.channels.announced_changed.wait(), TIMEOUT)

            # a disconnect closes every channel (ERROR) before the Disconnected event
            mark = remote.event_count
            await player.disconnect()
            await remote.wait_for(lambda e: isinstance(e, Disconnected), TIMEOUT, after=mark)
            tail = [e for e in remote.history[mark:] if isinstance(e, ChannelClosed | Disconnected)]
            assert isinstance(tail[-1], Disconnected)
            assert tail[:-1] and all(
                isinstance(e, ChannelClosed) and e.reason == "ERROR" for e in tail[:-1]
            )

            def closed_after() -> None:
                with pytest.raises(RemotingCallError) as late:
                    channel_calls.send(runtime, low, b"late")
                assert late.value.result == CHANNEL_RESULTS[DataChannelResult.CLOSED]
                channel_calls.destroy(runtime, pending)

            await asyncio.to_thread(closed_after)

    asyncio.run(asyncio.wait_for(scenario(), 90))

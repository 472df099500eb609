"""Data channels through the built-in runtime over real TLS on 127.0.0.1.

Where a test needs the transport to hold still (a channel still pending, a queue not
yet sent), it parks the sending runtime's loop on a threading.Event: the contract's
calls only queue and never need the loop, so what is queued is exactly known when the
loop resumes. Nothing here depends on timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from app.endpoint.channels import ChannelClosedError
from app.endpoint.events import ChannelClosed, ChannelOpened, Connected, Disconnected
from app.endpoint.session import Session
from app.remoting import channel_calls
from app.remoting.builtin import BuiltinRuntime, shell
from app.remoting.builtin.channels import (
    MAX_MESSAGE_BYTES,
    MAX_UNRETRIEVED_BYTES,
    MAX_UNRETRIEVED_PACKETS,
    RetrieveCapacityError,
)
from app.remoting.contract import DataChannelError, RemotingCallError
from app.security.testpki import GeneratedPki
from app.xr.channel_structs import XrRemotingDataChannelSendDataInfoMSFT
from app.xr.values import DataChannelPriority, DataChannelResult, DataChannelStatus, Result
from tests.app.remoting.remoting_support import (
    WAIT_S,
    client_session,
    outcome,
    run,
    server_session,
    start_listening,
)

LOW, HIGH = DataChannelPriority.LOW, DataChannelPriority.HIGH


@contextlib.asynccontextmanager
async def connected_pair(pki: GeneratedPki) -> AsyncIterator[tuple[Session, Session]]:
    """(remote, player): the remote connects to the listening player, over TLS."""
    player = server_session(pki)
    listening = await start_listening(player)
    remote = client_session(listening.port, pki)
    await remote.start()
    try:
        assert isinstance(await outcome(remote), Connected)
        assert isinstance(await outcome(player), Connected)
        yield remote, player
    finally:
        await remote.aclose()
        await player.aclose()


def builtin(session: Session) -> BuiltinRuntime:
    assert isinstance(session.runtime, BuiltinRuntime)
    return session.runtime


@contextlib.contextmanager
def parked_loop(runtime: BuiltinRuntime) -> Iterator[None]:
    """The runtime's loop blocked until the block ends (bounded)."""
    parked, release = threading.Event(), threading.Event()

    def park() -> None:
        parked.set()
        release.wait(WAIT_S)

    runtime._loop.call_soon_threadsafe(park)
    assert parked.wait(WAIT_S)
    try:
        yield
    finally:
        release.set()


async def until_input_held(session: Session) -> None:
    """Until the session's transport has stopped reading for its backlog (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not builtin(session).input_held:
        assert loop.time() < deadline, "the transport kept reading"
        await asyncio.sleep(0.01)


async def retrieve_announced(session: Session, handle: int, count: int) -> list[bytes]:
    """`count` packets announced on `handle` (manual retrieval), retrieved in order."""
    runtime = builtin(session)
    received: list[bytes] = []
    while len(received) < count:
        while not session.channels.announced:
            session.channels.announced_changed.clear()
            await asyncio.wait_for(session.channels.announced_changed.wait(), WAIT_S)
        event = session.channels.announced.popleft()
        assert event.channel == handle
        received.append(
            await asyncio.to_thread(
                channel_calls.retrieve, runtime, handle, event.packet_id, event.size
            )
        )
    return received


async def opened_by_peer(session: Session, channel_id: int) -> int:
    handle = await session.channels.accept(WAIT_S)
    assert session.channels.channel_id(handle) == channel_id
    return handle


@pytest.mark.parametrize("creator", ["remote", "player"])
def test_create_from_either_side_then_messages_both_ways_and_close(
    pki: GeneratedPki, creator: str
) -> None:
    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            maker, peer = (remote, player) if creator == "remote" else (player, remote)
            channel_id = 7 if creator == "remote" else 99
            mark_maker, mark_peer = maker.event_count, peer.event_count
            handle = await maker.channels.open(channel_id, HIGH)
            peer_handle = await opened_by_peer(peer, channel_id)
            await maker.channels.send(handle, b"to the peer")
            await peer.channels.send(peer_handle, b"and back")
            assert await peer.channels.receive(peer_handle, WAIT_S) == b"to the peer"
            assert await maker.channels.receive(handle, WAIT_S) == b"and back"
            await maker.channels.close(handle)
            with pytest.raises(ChannelClosedError, match="PROTOCOL"):
                await peer.channels.receive(peer_handle, WAIT_S)
            state = await peer.channels.state(peer_handle)
            assert state.status == DataChannelStatus.CLOSED
            assert [e for e in maker.history[mark_maker:] if isinstance(e, ChannelOpened)] == [
                ChannelOpened(handle, channel_id, by_peer=False)
            ]
            peer_events = [
                e for e in peer.history[mark_peer:] if isinstance(e, ChannelOpened | ChannelClosed)
            ]
            assert [type(e) for e in peer_events] == [ChannelOpened, ChannelClosed]
            assert peer_events[1].reason == "PROTOCOL"

    run(scenario())


def test_the_wrong_sides_channel_id_and_an_id_in_use_are_refused(pki: GeneratedPki) -> None:
    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            with pytest.raises(DataChannelError) as wrong:
                await remote.channels.open(64)
            assert wrong.value.code == DataChannelResult.INVALID_ID
            with pytest.raises(DataChannelError) as wrong:
                await player.channels.open(0)
            assert wrong.value.code == DataChannelResult.INVALID_ID
            await remote.channels.open(3)
            with pytest.raises(DataChannelError) as used:
                await remote.channels.open(3)
            assert used.value.code == DataChannelResult.ID_ALREADY_IN_USE

    run(scenario())


def test_retrieve_with_one_byte_first_buffers_then_once_only(pki: GeneratedPki) -> None:
    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            player.channels.manual_retrieve = True
            handle = await remote.channels.open(1)
            peer_handle = await opened_by_peer(player, 1)
            await remote.channels.send(handle, b"12345")
            await remote.channels.send(handle, b"!")
            while len(player.channels.announced) < 2:
                player.channels.announced_changed.clear()
                await asyncio.wait_for(player.channels.announced_changed.wait(), WAIT_S)
            five, one = player.channels.announced
            assert (five.size, one.size) == (5, 1)
            runtime = builtin(player)

            def retrieve_by_hand() -> None:
                one_byte = (ctypes.c_uint8 * 1)()
                with pytest.raises(RetrieveCapacityError) as small:
                    runtime.retrieve_remoting_data(peer_handle, five.packet_id, 1, one_byte)
                assert small.value.result == Result.ERROR_VALIDATION_FAILURE
                assert small.value.required == 5
                assert runtime.retrieve_remoting_data(peer_handle, one.packet_id, 1, one_byte) == 1
                assert bytes(one_byte) == b"!"
                assert runtime.retrieve_remoting_data(peer_handle, five.packet_id, 0, None) == 5
                five_bytes = (ctypes.c_uint8 * 5)()
                assert (
                    runtime.retrieve_remoting_data(peer_handle, five.packet_id, 5, five_bytes) == 5
                )
                assert bytes(five_bytes) == b"12345"
                with pytest.raises(DataChannelError) as again:
                    runtime.retrieve_remoting_data(peer_handle, five.packet_id, 5, five_bytes)
                assert again.value.code == DataChannelResult.PACKET_EXPIRED
                # the plain helper does the two calls itself
                with pytest.raises(DataChannelError):
                    channel_calls.retrieve(runtime, peer_handle, one.packet_id, 1)

            await asyncio.to_thread(retrieve_by_hand)

    run(scenario())


def test_send_on_a_pending_channel_and_send_queue_size_while_unsent(pki: GeneratedPki) -> None:
    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            runtime = builtin(remote)

            def while_parked() -> None:
                with parked_loop(runtime):
                    handle = channel_calls.create(runtime, 2, LOW)
                    assert channel_calls.state(runtime, handle).status == (
                        DataChannelStatus.OPEN_PENDING
                    )
                    with pytest.raises(DataChannelError) as pending:
                        channel_calls.send(runtime, handle, b"too early")
                    assert pending.value.code == DataChannelResult.OPEN_PENDING
                    with pytest.raises(DataChannelError) as pending:
                        runtime.retrieve_remoting_data(handle, 1, 0, None)
                    assert pending.value.code == DataChannelResult.OPEN_PENDING

            await asyncio.to_thread(while_parked)
            await opened_by_peer(player, 2)  # once the loop runs, the open goes through
            handle = await remote.channels.open(4, LOW)
            await opened_by_peer(player, 4)

            def queue_while_parked() -> int:
                with parked_loop(runtime):
                    for _ in range(3):
                        channel_calls.send(runtime, handle, b"q" * 1000)
                    return channel_calls.state(runtime, handle).send_queue_size

            assert await asyncio.to_thread(queue_while_parked) == 3000
            await remote.channels.drain(handle, WAIT_S)
            assert (await remote.channels.state(handle)).send_queue_size == 0

    run(scenario())


def _send_through_ctypes(runtime: BuiltinRuntime, handle: int, data: bytes) -> None:
    """xrSendRemotingDataMSFT as an OpenXR caller makes it (a struct and a pointer)."""
    pointer = ctypes.cast(ctypes.c_char_p(data), ctypes.POINTER(ctypes.c_uint8)) if data else None
    runtime.send_remoting_data(
        handle,
        XrRemotingDataChannelSendDataInfoMSFT(data=pointer, size=len(data), guaranteedDelivery=1),
    )


def _send_as_bytes(runtime: BuiltinRuntime, handle: int, data: bytes) -> None:
    runtime.send_packet(handle, data, True)


def test_the_ctypes_call_and_the_bytes_fast_path_check_and_queue_alike(pki: GeneratedPki) -> None:
    senders = (_send_through_ctypes, _send_as_bytes)

    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            runtime = builtin(remote)
            # What the session's sends take on this runtime.
            assert channel_calls.has_fast_path(runtime, channel_calls.PacketSender)

            def while_pending() -> None:
                with parked_loop(runtime):
                    handle = channel_calls.create(runtime, 2, LOW)
                    for send in senders:
                        with pytest.raises(DataChannelError) as pending:
                            send(runtime, handle, b"too early")
                        assert pending.value.code == DataChannelResult.OPEN_PENDING

            await asyncio.to_thread(while_pending)
            await opened_by_peer(player, 2)
            handle = await remote.channels.open(4, LOW)
            peer = await opened_by_peer(player, 4)

            def queue_while_parked() -> list[int]:
                sizes = []
                with parked_loop(runtime):
                    for send in senders:
                        for bad in (b"", b"x" * (MAX_MESSAGE_BYTES + 1)):
                            with pytest.raises(DataChannelError) as invalid:
                                send(runtime, handle, bad)
                            assert invalid.value.code == DataChannelResult.INVALID_DATA
                        send(runtime, handle, send.__name__.encode())
                        sizes.append(channel_calls.state(runtime, handle).send_queue_size)
                return sizes

            assert await asyncio.to_thread(queue_while_parked) == [
                len(b"_send_through_ctypes"),
                len(b"_send_through_ctypes") + len(b"_send_as_bytes"),
            ]
            assert await player.channels.receive(peer, WAIT_S) == b"_send_through_ctypes"
            assert await player.channels.receive(peer, WAIT_S) == b"_send_as_bytes"

    run(scenario())


def test_a_high_priority_message_overtakes_queued_low_priority_data(pki: GeneratedPki) -> None:
    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            runtime = builtin(remote)
            low = await remote.channels.open(10, LOW)
            high = await remote.channels.open(11, HIGH)
            low_peer = await opened_by_peer(player, 10)
            high_peer = await opened_by_peer(player, 11)
            # The order of arrival is the player runtime's order of data events, not the
            # order in which two reading tasks happen to run (a reader that finds messages
            # already waiting takes them all before the other task starts).
            player.channels.manual_retrieve = True

            def queue_while_parked() -> None:
                with parked_loop(runtime):
                    for index in range(8):
                        channel_calls.send(runtime, low, bytes([index]) * MAX_MESSAGE_BYTES)
                    channel_calls.send(runtime, high, b"urgent")

            await asyncio.to_thread(queue_while_parked)
            while len(player.channels.announced) < 9:
                player.channels.announced_changed.clear()
                await asyncio.wait_for(player.channels.announced_changed.wait(), WAIT_S)
            order = ["high" if e.channel == high_peer else "low" for e in player.channels.announced]
            assert order.count("low") == 8 and {e.channel for e in player.channels.announced} == {
                low_peer,
                high_peer,
            }
            # the turn budget (256 KiB) lets at most one 1 MiB LOW message out before it
            assert order.index("high") <= 1, order

    run(scenario())


def test_a_peer_flooding_a_channel_gets_it_closed_with_error_others_unaffected(
    pki: GeneratedPki,
) -> None:
    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            player.channels.manual_retrieve = True  # the player reads nothing
            flood = await remote.channels.open(20, LOW)
            calm = await remote.channels.open(21, LOW)
            await opened_by_peer(player, 20)
            calm_peer = await opened_by_peer(player, 21)
            mark = remote.event_count
            chunk = b"f" * MAX_MESSAGE_BYTES
            closed: ChannelClosed | None = None
            for _ in range(MAX_UNRETRIEVED_BYTES // MAX_MESSAGE_BYTES + 8):
                try:
                    await remote.channels.send(flood, chunk, paced=True)
                except DataChannelError as exc:
                    assert exc.code == DataChannelResult.CLOSED
                    break
            event = await remote.wait_for(
                lambda e: isinstance(e, ChannelClosed) and e.channel == flood, WAIT_S, after=mark
            )
            assert isinstance(event, ChannelClosed)
            closed = event
            assert closed.reason == "ERROR"
            # the other channel still carries data, and the session is still up
            player.channels.announced.clear()
            await remote.channels.send(calm, b"calm")
            while not any(e.channel == calm_peer for e in player.channels.announced):
                player.channels.announced_changed.clear()
                await asyncio.wait_for(player.channels.announced_changed.wait(), WAIT_S)
            assert not any(isinstance(e, Disconnected) for e in remote.history[mark:])

    run(scenario())


def test_a_reader_behind_holds_the_sender_back_instead_of_losing_the_channel(
    pki: GeneratedPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More than the flood limit is sent while the player retrieves nothing: its
    transport stops reading at half the limit (the rest waits in the sender's queue
    and TCP), and once the player retrieves, everything arrives on the open channel."""
    monkeypatch.setattr(shell, "HOLD_LIMIT_S", 3600.0)  # the player is slow, not stuck

    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            player.channels.manual_retrieve = True
            handle = await remote.channels.open(40, LOW)
            peer_handle = await opened_by_peer(player, 40)
            count = MAX_UNRETRIEVED_BYTES // MAX_MESSAGE_BYTES + 8
            for index in range(count):
                await remote.channels.send(handle, bytes([index]) * MAX_MESSAGE_BYTES)
            await until_input_held(player)
            assert (await remote.channels.state(handle)).send_queue_size > 0
            received = await retrieve_announced(player, peer_handle, count)
            assert [data[0] for data in received] == [index % 256 for index in range(count)]
            assert (await player.channels.state(peer_handle)).status == DataChannelStatus.OPENED
            await remote.channels.drain(handle, WAIT_S)

    run(scenario())


def test_a_disconnect_mid_transfer_closes_every_channel_with_error_first(
    pki: GeneratedPki,
) -> None:
    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            handle = await remote.channels.open(30, LOW)
            peer_handle = await opened_by_peer(player, 30)
            await remote.channels.send(handle, b"x" * 100_000)
            mark = player.event_count
            await remote.disconnect()
            await player.wait_for(lambda e: isinstance(e, Disconnected), WAIT_S, after=mark)
            tail = [e for e in player.history[mark:] if isinstance(e, ChannelClosed | Disconnected)]
            assert [type(e) for e in tail] == [ChannelClosed, Disconnected]
            assert tail[0].reason == "ERROR"  # type: ignore[union-attr]
            with pytest.raises(DataChannelError) as closed:
                await player.channels.send(peer_handle, b"late")
            assert closed.value.code == DataChannelResult.CLOSED
            # a destroyed handle is invalid afterwards
            await remote.channels.close(handle)
            with pytest.raises(RemotingCallError) as invalid:
                await remote.channels.state(handle)
            assert invalid.value.result == Result.ERROR_HANDLE_INVALID

    run(scenario())


def test_many_small_messages_read_at_once_are_held_back_not_the_channel_closed(
    pki: GeneratedPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One read can carry thousands of small messages (a 1 MiB read, 75,000 of one
    byte): the backlog is looked at between batches of them, so reading stops where the
    hold begins and the channel stays open, instead of one read carrying it past its
    flood limit (link-test with 256-byte messages lost its channel that way)."""
    monkeypatch.setattr(shell, "HOLD_LIMIT_S", 3600.0)  # the player is slow, not stuck
    count = 3 * MAX_UNRETRIEVED_PACKETS

    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            player.channels.manual_retrieve = True
            handle = await remote.channels.open(43, LOW)
            peer_handle = await opened_by_peer(player, 43)
            sender = builtin(remote)

            def queue_all_then_write_at_once() -> None:
                with parked_loop(sender):  # then the driver writes them in big pieces
                    for index in range(count):
                        channel_calls.send(sender, handle, index.to_bytes(2, "big"))

            await asyncio.to_thread(queue_all_then_write_at_once)
            await until_input_held(player)
            received = await retrieve_announced(player, peer_handle, count)
            assert [int.from_bytes(data, "big") for data in received] == list(range(count))
            assert (await player.channels.state(peer_handle)).status == DataChannelStatus.OPENED
            assert not [e for e in player.history if isinstance(e, ChannelClosed)]

    run(scenario())

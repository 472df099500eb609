"""The built-in runtime's data channels without sockets: two ChannelTables wired
frame to frame, so every event, its order and every error is checked exactly."""

from __future__ import annotations

import pytest

from app.remoting.builtin import channels as ch
from app.remoting.builtin.channels import ChannelTable, RetrieveCapacityError
from app.remoting.builtin.protocol import FrameType
from app.remoting.contract import (
    DataChannelClosedEvent,
    DataChannelCreatedEvent,
    DataChannelDataReceivedEvent,
    DataChannelError,
    DataChannelOpenedEvent,
    RemotingCallError,
    RemotingEvent,
)
from app.xr.values import (
    DataChannelClosedReason,
    DataChannelPriority,
    DataChannelResult,
    DataChannelStatus,
    Result,
)

HIGH, MEDIUM, LOW = DataChannelPriority.HIGH, DataChannelPriority.MEDIUM, DataChannelPriority.LOW


def deliver(source: ChannelTable, target: ChannelTable, now: float = 0.0) -> list[RemotingEvent]:
    """Everything `source` wants sent, into `target`; the events it caused there."""
    events: list[RemotingEvent] = []
    for kind, prefix, body in source.take(1 << 30):
        payload = prefix + body
        if kind == FrameType.DATA:
            channel_id = int.from_bytes(payload[:8], "big")
            events += target.on_data(channel_id, payload[8:], now)
        else:
            events += target.on_frame(kind, payload, now)
    return events


def pair() -> tuple[ChannelTable, ChannelTable]:
    remote, player = ChannelTable("remote"), ChannelTable("player")
    remote.session_opened()
    player.session_opened()
    return remote, player


def open_channel(
    creator: ChannelTable, peer: ChannelTable, channel_id: int, priority: DataChannelPriority = LOW
) -> tuple[int, int]:
    handle = creator.create(channel_id, priority)
    (created,) = deliver(creator, peer)
    assert isinstance(created, DataChannelCreatedEvent)
    (opened,) = deliver(peer, creator)
    assert opened == DataChannelOpenedEvent(handle)
    return handle, created.channel


@pytest.mark.parametrize(("creator_role", "channel_id"), [("remote", 0), ("player", 127)])
def test_create_from_either_side_in_the_specifications_order(
    creator_role: str, channel_id: int
) -> None:
    remote, player = pair()
    creator, peer = (remote, player) if creator_role == "remote" else (player, remote)
    handle = creator.create(channel_id, MEDIUM)
    assert creator.state(handle).status == DataChannelStatus.OPEN_PENDING
    # Pending: only state and destroy are allowed.
    with pytest.raises(DataChannelError) as pending:
        creator.send(handle, b"x", True)
    assert pending.value.code == DataChannelResult.OPEN_PENDING
    created = deliver(creator, peer)
    assert len(created) == 1 and isinstance(created[0], DataChannelCreatedEvent)
    assert created[0].channel_id == channel_id
    peer_handle = created[0].channel
    assert peer.state(peer_handle).status == DataChannelStatus.OPENED
    assert deliver(peer, creator) == [DataChannelOpenedEvent(handle)]
    assert creator.state(handle).status == DataChannelStatus.OPENED
    # data, then close: DataReceived then Closed(PROTOCOL) on the peer
    creator.send(handle, b"abc", True)
    creator.destroy(handle)
    events = deliver(creator, peer)
    assert [type(e) for e in events] == [DataChannelDataReceivedEvent, DataChannelClosedEvent]
    assert events[1] == DataChannelClosedEvent(peer_handle, DataChannelClosedReason.PROTOCOL)
    # the peer's handle stays valid (CLOSED) until it destroys it
    assert peer.state(peer_handle).status == DataChannelStatus.CLOSED
    peer.destroy(peer_handle)
    with pytest.raises(RemotingCallError) as gone:
        peer.state(peer_handle)
    assert gone.value.result == Result.ERROR_HANDLE_INVALID


def test_channel_ids_outside_this_sides_range_or_in_use_are_refused() -> None:
    remote, player = pair()
    with pytest.raises(DataChannelError) as wrong_side:
        remote.create(64, LOW)
    assert wrong_side.value.code == DataChannelResult.INVALID_ID
    with pytest.raises(DataChannelError) as wrong_side:
        player.create(63, LOW)
    assert wrong_side.value.code == DataChannelResult.INVALID_ID
    remote.create(5, LOW)
    with pytest.raises(DataChannelError) as used:
        remote.create(5, HIGH)
    assert used.value.code == DataChannelResult.ID_ALREADY_IN_USE
    with pytest.raises(RemotingCallError) as priority:
        remote.create(6, 7)
    assert priority.value.result == Result.ERROR_VALIDATION_FAILURE


def test_create_before_the_connection_is_established_fails_by_name() -> None:
    table = ChannelTable("remote")
    with pytest.raises(RemotingCallError, match="no connection is established"):
        table.create(0, LOW)


def test_a_peer_opening_an_id_of_the_other_side_is_refused_for_that_channel_only() -> None:
    remote, player = pair()
    # A misbehaving remote asks the player to open an id in the player's own range.
    events = player.on_frame(FrameType.CHANNEL_OPEN, bytes([70, 0]), 0.0)
    assert events == []
    ((kind, prefix, payload),) = player.take(1024)
    assert (kind, prefix + payload) == (
        FrameType.CHANNEL_CLOSE,
        bytes([70, DataChannelClosedReason.ERROR]),
    )
    # and the session's other channels still work
    handle, peer_handle = open_channel(remote, player, 1)
    remote.send(handle, b"ok", True)
    (event,) = deliver(remote, player)
    assert isinstance(event, DataChannelDataReceivedEvent) and event.channel == peer_handle


def test_retrieve_with_a_one_byte_first_buffer_then_exactly_once() -> None:
    remote, player = pair()
    handle, peer_handle = open_channel(remote, player, 3)
    remote.send(handle, b"one", True)
    remote.send(handle, b"Z", True)
    first, second = deliver(remote, player)
    assert isinstance(first, DataChannelDataReceivedEvent) and first.size == 3
    assert isinstance(second, DataChannelDataReceivedEvent) and second.size == 1
    assert first.packet_id != second.packet_id
    # capacity 0: the size, the packet kept
    assert player.retrieve(peer_handle, first.packet_id, 0, 1.0) == 3
    # a 1-byte buffer: too small for 3 bytes (VALIDATION_FAILURE, size needed 3) ...
    with pytest.raises(RetrieveCapacityError) as small:
        player.retrieve(peer_handle, first.packet_id, 1, 1.0)
    assert small.value.result == Result.ERROR_VALIDATION_FAILURE and small.value.required == 3
    # ... and enough for the 1-byte packet
    assert player.retrieve(peer_handle, second.packet_id, 1, 1.0) == b"Z"
    assert player.retrieve(peer_handle, first.packet_id, 3, 1.0) == b"one"
    # retrievable once
    with pytest.raises(DataChannelError) as again:
        player.retrieve(peer_handle, first.packet_id, 3, 1.0)
    assert again.value.code == DataChannelResult.PACKET_EXPIRED
    # a packet id that never arrived on this channel is not a valid handle
    with pytest.raises(RemotingCallError) as unknown:
        player.retrieve(peer_handle, 999_999, 3, 1.0)
    assert unknown.value.result == Result.ERROR_HANDLE_INVALID


def test_packets_expire_after_their_lifetime() -> None:
    remote, player = pair()
    handle, peer_handle = open_channel(remote, player, 3)
    remote.send(handle, b"late", True)
    (event,) = deliver(remote, player, now=10.0)
    assert isinstance(event, DataChannelDataReceivedEvent)
    later = 10.0 + ch.PACKET_LIFETIME_S
    with pytest.raises(DataChannelError) as expired:
        player.retrieve(peer_handle, event.packet_id, 4, later)
    assert expired.value.code == DataChannelResult.PACKET_EXPIRED


def test_send_errors_closed_and_invalid_data() -> None:
    remote, player = pair()
    handle, peer_handle = open_channel(remote, player, 9)
    for size in (0, ch.MAX_MESSAGE_BYTES + 1):
        with pytest.raises(DataChannelError) as bad:
            remote.send(handle, b"x" * size, True)
        assert bad.value.code == DataChannelResult.INVALID_DATA
    player.destroy(peer_handle)
    assert deliver(player, remote) == [
        DataChannelClosedEvent(handle, DataChannelClosedReason.PROTOCOL)
    ]
    with pytest.raises(DataChannelError) as closed:
        remote.send(handle, b"x", True)
    assert closed.value.code == DataChannelResult.CLOSED
    with pytest.raises(DataChannelError) as closed:
        remote.retrieve(handle, 1, 0, 0.0)
    assert closed.value.code == DataChannelResult.CLOSED
    # but state still answers, and the id is free once destroyed
    assert remote.state(handle).status == DataChannelStatus.CLOSED
    remote.destroy(handle)
    remote.create(9, LOW)


def test_priorities_order_what_leaves_and_send_queue_size_counts_unsent_bytes() -> None:
    remote, player = pair()
    low, _ = open_channel(remote, player, 1, LOW)
    medium, _ = open_channel(remote, player, 2, MEDIUM)
    high, _ = open_channel(remote, player, 3, HIGH)
    for _ in range(4):
        remote.send(low, b"L" * 1000, True)
    remote.send(medium, b"M" * 10, True)
    remote.send(high, b"H" * 10, True)
    assert remote.state(low).send_queue_size == 4000
    assert remote.state(high).send_queue_size == 10
    frames = remote.take(1)  # one turn's budget: the highest first
    assert [(prefix + body)[8:9] for _, prefix, body in frames] == [b"H"]
    assert remote.state(high).send_queue_size == 0
    assert remote.state(low).send_queue_size == 4000
    frames = remote.take(1500)
    assert [(prefix + body)[8:9] for _, prefix, body in frames] == [b"M", b"L", b"L"]
    assert remote.state(low).send_queue_size == 2000
    # a HIGH message queued now still overtakes the LOW ones left
    remote.send(high, b"H" * 10, True)
    assert [(prefix + body)[8:9] for _, prefix, body in remote.take(1 << 20)] == [b"H", b"L", b"L"]


def test_best_effort_messages_are_dropped_when_the_queue_is_behind() -> None:
    remote, player = pair()
    handle, _ = open_channel(remote, player, 1)
    chunk = b"v" * (512 * 1024)
    assert remote.send(handle, chunk, False)
    assert remote.send(handle, chunk, False)
    assert remote.send(handle, chunk, False)  # 1 MiB unsent before it: still queued
    assert not remote.send(handle, chunk, False)  # now behind: dropped
    assert remote.send(handle, chunk, True)  # guaranteed delivery is never dropped


def test_a_flooded_channel_is_closed_with_error_and_the_others_go_on() -> None:
    remote, player = pair()
    flood, flood_peer = open_channel(remote, player, 1)
    calm, calm_peer = open_channel(remote, player, 2)
    chunk = b"f" * ch.MAX_MESSAGE_BYTES
    events: list[RemotingEvent] = []
    for _ in range(ch.MAX_UNRETRIEVED_BYTES // len(chunk) + 1):
        remote.send(flood, chunk, True)
        events += deliver(remote, player)
    assert events[-1] == DataChannelClosedEvent(flood_peer, DataChannelClosedReason.ERROR)
    # the flooder learns it too, with ERROR
    assert deliver(player, remote) == [DataChannelClosedEvent(flood, DataChannelClosedReason.ERROR)]
    remote.send(calm, b"still here", True)
    (event,) = deliver(remote, player)
    assert isinstance(event, DataChannelDataReceivedEvent) and event.channel == calm_peer
    assert player.retrieve(calm_peer, event.packet_id, 64, 0.0) == b"still here"


def test_backlog_marks_hold_reading_from_half_the_limit_and_release_at_a_quarter() -> None:
    remote, player = pair()
    busy, busy_peer = open_channel(remote, player, 1)
    parts = 32
    chunk = b"b" * (ch.HOLD_BYTES // parts)
    ids: list[int] = []
    for _ in range(parts):
        assert not player.backlogged(releasing=False)
        remote.send(busy, chunk, True)
        (event,) = deliver(remote, player)
        assert isinstance(event, DataChannelDataReceivedEvent)
        ids.append(event.packet_id)
    assert player.backlogged(releasing=False)  # half the byte limit: stop reading
    for packet_id in ids[: parts // 2]:  # down to half the mark: still held
        assert player.backlogged(releasing=True)
        player.retrieve(busy_peer, packet_id, len(chunk), 0.0)
    assert player.backlogged(releasing=True)  # exactly at the mark
    player.retrieve(busy_peer, ids[parts // 2], len(chunk), 0.0)
    assert not player.backlogged(releasing=True)  # below a quarter of the limit: read on
    assert player.retrieved == parts // 2 + 1


def test_many_small_packets_hold_reading_too() -> None:
    remote, player = pair()
    small, _ = open_channel(remote, player, 1)
    for _ in range(ch.HOLD_PACKETS - 1):
        remote.send(small, b".", True)
    deliver(remote, player)
    assert not player.backlogged(releasing=False)
    remote.send(small, b".", True)
    deliver(remote, player)
    assert player.backlogged(releasing=False)


def test_stop_holding_leaves_a_channel_nobody_retrieves_to_its_flood_limit() -> None:
    remote, player = pair()
    stuck, stuck_peer = open_channel(remote, player, 1)
    chunk = b"s" * ch.MAX_MESSAGE_BYTES
    ids: list[int] = []
    while not player.backlogged(releasing=False):
        remote.send(stuck, chunk, True)
        (event,) = deliver(remote, player)
        assert isinstance(event, DataChannelDataReceivedEvent)
        ids.append(event.packet_id)
    player.stop_holding()
    assert not player.backlogged(releasing=False) and not player.backlogged(releasing=True)
    events: list[RemotingEvent] = []
    while not events or isinstance(events[-1], DataChannelDataReceivedEvent):
        remote.send(stuck, chunk, True)
        events += deliver(remote, player)
    assert events[-1] == DataChannelClosedEvent(stuck_peer, DataChannelClosedReason.ERROR)
    assert len(events) < ch.MAX_UNRETRIEVED_BYTES // len(chunk)  # not a second full limit
    assert not player.backlogged(releasing=False)  # its packets went with it


def test_the_session_ending_closes_every_channel_with_error() -> None:
    remote, player = pair()
    a, _ = open_channel(remote, player, 1)
    b = remote.create(2, LOW)  # still pending
    remote.send(a, b"unsent", True)
    assert remote.session_ended() == [
        DataChannelClosedEvent(a, DataChannelClosedReason.ERROR),
        DataChannelClosedEvent(b, DataChannelClosedReason.ERROR),
    ]
    assert remote.state(a) == ch.DataChannelState(0, DataChannelStatus.CLOSED)
    assert not remote.pending()


def test_spent_packet_ids_stay_bounded_and_still_answer_expired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A channel remembers its spent ids without keeping one per message for its whole
    life; an id it forgot is still PACKET_EXPIRED, a live older packet still
    retrievable, an id that never arrived still HANDLE_INVALID."""
    monkeypatch.setattr(ch, "SPENT_IDS_KEPT", 8)
    remote, player = pair()
    handle, peer_handle = open_channel(remote, player, 3)
    remote.send(handle, b"kept back", True)
    (held,) = deliver(remote, player)
    assert isinstance(held, DataChannelDataReceivedEvent)
    spent_ids = []
    for index in range(50):
        remote.send(handle, bytes([index]), True)
        (event,) = deliver(remote, player)
        assert isinstance(event, DataChannelDataReceivedEvent)
        assert player.retrieve(peer_handle, event.packet_id, 1, 1.0) == bytes([index])
        spent_ids.append(event.packet_id)
    assert len(player._channels[peer_handle].spent) == 8
    for packet_id in (spent_ids[0], spent_ids[30], spent_ids[-1]):  # forgotten or kept
        with pytest.raises(DataChannelError) as again:
            player.retrieve(peer_handle, packet_id, 1, 1.0)
        assert again.value.code == DataChannelResult.PACKET_EXPIRED
    # older than every forgotten id, but live: retrievable
    assert player.retrieve(peer_handle, held.packet_id, 16, 1.0) == b"kept back"
    with pytest.raises(RemotingCallError) as unknown:
        player.retrieve(peer_handle, spent_ids[-1] + 1000, 1, 1.0)
    assert unknown.value.result == Result.ERROR_HANDLE_INVALID

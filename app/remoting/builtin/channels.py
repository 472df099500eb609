"""Data channels of the built-in runtime, as a sans-I/O table (no sockets, no threads).

The runtime keeps one `ChannelTable` and calls it under its own lock: the contract's
calls (create, destroy, state, send, retrieve) from application threads, and the
transport's frames and the session's end from its loop. Every call returns the contract
events it caused, in the order the specification puts them, for the runtime to queue.

Wire (docs/protocol.md, "Data channels"): CHANNEL_OPEN (id, priority) from the end that
creates, CHANNEL_ACCEPT (id) back, DATA (id, bytes) either way, CHANNEL_CLOSE (id,
reason) from the end that closes or destroys. The creator's channel is OPEN_PENDING
until the accept arrives (then the Opened event); the peer's is OPENED at once (the
Created event).

Sending: `send` only queues. `take(budget)` hands the transport the next frames: control
frames first, then data by priority (HIGH, MEDIUM, LOW; first in, first out within
one), so a HIGH message queued behind megabytes of LOW data leaves next.
`sendQueueSize` is what is queued here and not yet handed to the socket.

Receiving: each message becomes a packet with a fresh id, retrievable once, until
its channel closes or PACKET_LIFETIME_S passes (the specification names
PACKET_EXPIRED without saying when; this is this runtime's rule). A channel whose
unretrieved packets exceed MAX_UNRETRIEVED_BYTES or MAX_UNRETRIEVED_PACKETS (a peer
flooding it, or an application not reading it) is closed with ERROR on both ends;
the other channels go on. Before that, from half those limits on (`backlogged`),
the transport stops reading until the application has retrieved down to a quarter:
a sender faster than the retrieval is slowed by TCP instead of cut off. An
application that retrieves nothing for a while gets its channel closed after all
(`stop_holding`), so a stuck reader costs the other channels a bounded delay only.
"""

from __future__ import annotations

import collections
import itertools
import struct
from dataclasses import dataclass, field

from app.remoting.builtin.protocol import CHANNEL_ID_BYTES, MAX_FRAME_PAYLOAD, FrameType, Role
from app.remoting.contract import (
    DataChannelClosedEvent,
    DataChannelCreatedEvent,
    DataChannelDataReceivedEvent,
    DataChannelError,
    DataChannelOpenedEvent,
    DataChannelState,
    RemotingCallError,
    RemotingEvent,
    RetrieveCapacityError,
)
from app.xr.values import (
    PLAYER_CHANNEL_IDS,
    REMOTE_CHANNEL_IDS,
    DataChannelClosedReason,
    DataChannelPriority,
    DataChannelResult,
    DataChannelStatus,
    Result,
    own_channel_ids,
)

__all__ = ["ChannelTable", "RetrieveCapacityError"]

Reason = DataChannelClosedReason
Status = DataChannelStatus

#: Largest message: one DATA frame (1 MiB) minus its channel id.
MAX_MESSAGE_BYTES = MAX_FRAME_PAYLOAD - CHANNEL_ID_BYTES
#: Unsent bytes one channel may queue with guaranteed delivery; beyond it `send`
#: fails (RUNTIME_FAILURE, "send queue full") and the caller waits for
#: sendQueueSize to fall. 64 MiB: a few seconds of a fast link, bounded memory.
MAX_SEND_QUEUE_BYTES = 64 << 20
#: Above this many unsent bytes on its channel, a message without guaranteed delivery
#: is dropped instead of queued (late video frames are worth nothing).
BEST_EFFORT_QUEUE_BYTES = 1 << 20
#: Received, not yet retrieved, per channel (the flood limits).
MAX_UNRETRIEVED_BYTES = 32 << 20
MAX_UNRETRIEVED_PACKETS = 4096
#: How long a received packet can be retrieved.
PACKET_LIFETIME_S = 30.0
#: Back-pressure: from half the flood limits on, the transport stops reading (so a
#: sender faster than the application's retrieval is slowed by TCP, not cut off), and
#: reads again below a quarter; `stop_holding` leaves a channel whose application
#: retrieves nothing to the flood limits after all.
HOLD_PACKETS = MAX_UNRETRIEVED_PACKETS // 2
HOLD_BYTES = MAX_UNRETRIEVED_BYTES // 2

#: Packet ids a channel remembers having handed out or let expire, the most recent
#: ones (see `_SpentIds`): enough to tell an application that asks for a packet again
#: that it is spent, without one id kept per message for the channel's whole life.
SPENT_IDS_KEPT = MAX_UNRETRIEVED_PACKETS

_OPEN = struct.Struct(">BB")
_ACCEPT = struct.Struct(">B")
_CLOSE = struct.Struct(">BB")
_DATA_ID = struct.Struct(">Q")

# (type, prefix, payload): the frame's payload is prefix + payload, written apart by
# the transport (a DATA frame's channel id and the message, never joined first).
OutgoingFrame = tuple[FrameType, bytes, bytes]


@dataclass
class _Packet:
    data: bytes
    expires: float


class _SpentIds:
    """The packet ids a channel handed out or let expire: asking for one again is
    PACKET_EXPIRED, where an id that never arrived on the channel is HANDLE_INVALID.

    Only the most recent SPENT_IDS_KEPT are kept (a set kept every id, one per message
    received: a channel open for hours grew by megabytes). Ids are issued in
    increasing order, so an id below the oldest one forgotten is spent, or was another
    channel's: not a live packet here either way, and answered PACKET_EXPIRED (the
    only loss of precision, for an id that old)."""

    __slots__ = ("_ids", "_order", "forgotten_below")

    def __init__(self) -> None:
        self._ids: set[int] = set()
        self._order: collections.deque[int] = collections.deque()
        self.forgotten_below = 0

    def add(self, packet_id: int) -> None:
        self._ids.add(packet_id)
        self._order.append(packet_id)
        if len(self._order) > SPENT_IDS_KEPT:
            oldest = self._order.popleft()
            self._ids.discard(oldest)
            self.forgotten_below = max(self.forgotten_below, oldest + 1)

    def __contains__(self, packet_id: int) -> bool:
        """For an id that is not a live packet of the channel (`retrieve` asks that
        first): whether it is one of its spent ones."""
        return packet_id in self._ids or packet_id < self.forgotten_below

    def __len__(self) -> int:
        return len(self._ids)


@dataclass
class _Channel:
    handle: int
    channel_id: int
    priority: DataChannelPriority
    status: Status
    unsent: int = 0
    packets: dict[int, _Packet] = field(default_factory=dict)
    spent: _SpentIds = field(default_factory=_SpentIds)  # retrieved or expired
    unretrieved: int = 0
    not_held: bool = False  # left to the flood limits (`stop_holding`)


@dataclass
class _Queued:
    handle: int
    frame: OutgoingFrame
    data_bytes: int  # counted in its channel's sendQueueSize


class ChannelTable:
    def __init__(self, role: Role) -> None:
        self.role: Role = role
        self._channels: dict[int, _Channel] = {}  # by handle (handles never reused)
        self._live: dict[int, int] = {}  # channel id -> handle, channels not closed
        self._handles = itertools.count(1)
        self._packet_ids = itertools.count(1)
        self._packet_channel: dict[int, int] = {}  # packet id -> handle
        self._control: collections.deque[OutgoingFrame] = collections.deque()
        self._queues: dict[DataChannelPriority, collections.deque[_Queued]] = {
            p: collections.deque() for p in sorted(DataChannelPriority, reverse=True)
        }
        self._own: set[int] = set()  # handles of channels this end created
        self.connected = False
        #: Packets retrieved so far (the transport's hold checks for progress).
        self.retrieved = 0

    # --- the contract's calls ------------------------------------------------------------

    def create(self, channel_id: int, priority: int) -> int:
        function = "xrCreateRemotingDataChannelMSFT"
        try:
            prio = DataChannelPriority(priority)
        except ValueError:
            raise RemotingCallError(
                function,
                Result.ERROR_VALIDATION_FAILURE,
                f"channelPriority {priority} is not an XrRemotingDataChannelPriorityMSFT",
            ) from None
        ids = own_channel_ids(self.role)
        if channel_id not in ids:
            raise DataChannelError(
                function,
                DataChannelResult.INVALID_ID,
                f"channel {channel_id} is not one the {self.role} creates "
                f"({ids.start}..{ids.stop - 1})",
            )
        if any(self._channels[h].channel_id == channel_id for h in self._own):
            raise DataChannelError(
                function,
                DataChannelResult.ID_ALREADY_IN_USE,
                f"channel {channel_id} exists; destroy it first",
            )
        if not self.connected:
            raise RemotingCallError(
                function,
                Result.ERROR_RUNTIME_FAILURE,
                "no connection is established",
                fix="create data channels after the Connected event",
            )
        handle = next(self._handles)
        self._channels[handle] = _Channel(handle, channel_id, prio, Status.OPEN_PENDING)
        self._own.add(handle)
        self._live[channel_id] = handle
        self._control.append((FrameType.CHANNEL_OPEN, b"", _OPEN.pack(channel_id, int(prio))))
        return handle

    def destroy(self, handle: int) -> None:
        channel = self._get(handle, "xrDestroyRemotingDataChannelMSFT")
        if channel.status != Status.CLOSED and self.connected:
            self._close_frame(channel, Reason.PROTOCOL)
        self._forget(channel)

    def state(self, handle: int) -> DataChannelState:
        channel = self._get(handle, "xrGetRemotingDataChannelStateMSFT")
        return DataChannelState(send_queue_size=channel.unsent, status=channel.status)

    def unsent(self, handle: int, function: str) -> int:
        """The channel's sendQueueSize (as `state`, without the structure)."""
        return self._get(handle, function).unsent

    def check_sendable(self, handle: int, size: int) -> _Channel:
        function = "xrSendRemotingDataMSFT"
        channel = self._get(handle, function)
        self._require_open(channel, function)
        if not 0 < size <= MAX_MESSAGE_BYTES:
            raise DataChannelError(
                function,
                DataChannelResult.INVALID_DATA,
                f"size is {size}; a message is 1..{MAX_MESSAGE_BYTES} bytes",
            )
        return channel

    def send(self, handle: int, data: bytes, guaranteed: bool) -> bool:
        """Queue one message; False if it was dropped (best effort, queue behind)."""
        function = "xrSendRemotingDataMSFT"
        channel = self.check_sendable(handle, len(data))
        if not guaranteed and channel.unsent > BEST_EFFORT_QUEUE_BYTES:
            return False
        if channel.unsent + len(data) > MAX_SEND_QUEUE_BYTES:
            raise RemotingCallError(
                function,
                Result.ERROR_RUNTIME_FAILURE,
                f"send queue full ({channel.unsent} bytes unsent on channel {channel.channel_id})",
                fix="wait until sendQueueSize falls before sending more",
            )
        frame = (FrameType.DATA, _DATA_ID.pack(channel.channel_id), data)
        self._queues[channel.priority].append(_Queued(handle, frame, len(data)))
        channel.unsent += len(data)
        return True

    def retrieve(self, handle: int, packet_id: int, capacity: int, now: float) -> bytes | int:
        """Two-call idiom: capacity 0 answers the size (an int) and keeps the packet;
        a large enough capacity answers the bytes and spends the packet."""
        function = "xrRetrieveRemotingDataMSFT"
        channel = self._get(handle, function)
        self._require_open(channel, function)
        self._expire(channel, now)
        packet = channel.packets.get(packet_id)
        if packet is None:
            if packet_id in channel.spent:
                raise DataChannelError(
                    function,
                    DataChannelResult.PACKET_EXPIRED,
                    f"packet {packet_id} was already retrieved or is older than "
                    f"{PACKET_LIFETIME_S:g} s",
                )
            raise RemotingCallError(
                function,
                Result.ERROR_HANDLE_INVALID,
                f"packet {packet_id} did not arrive on channel {channel.channel_id}",
            )
        size = len(packet.data)
        if capacity == 0:
            return size
        if capacity < size:
            # The function's list has no SIZE_INSUFFICIENT: VALIDATION_FAILURE it is,
            # with the size needed for the second call.
            raise RetrieveCapacityError(size, capacity)
        del channel.packets[packet_id]
        channel.spent.add(packet_id)
        channel.unretrieved -= size
        self._packet_channel.pop(packet_id, None)
        self.retrieved += 1
        if channel.not_held and not self._over(channel, releasing=True):
            channel.not_held = False
        return packet.data

    # --- the transport --------------------------------------------------------------------

    def session_opened(self) -> None:
        self.connected = True

    def session_ended(self) -> list[RemotingEvent]:
        """The connection is gone: every channel not yet closed closes with ERROR."""
        self.connected = False
        events: list[RemotingEvent] = []
        for channel in self._channels.values():
            if channel.status != Status.CLOSED:
                events.append(self._closed(channel, Reason.ERROR))
        self._control.clear()
        for queue in self._queues.values():
            queue.clear()
        return events

    def backlogged(self, releasing: bool) -> bool:
        """Whether the transport should not read on: a channel holds half its flood
        limit unretrieved (`releasing`: still a quarter, once reading stopped)."""
        return any(
            not channel.not_held and self._over(channel, releasing)
            for channel in self._channels.values()
        )

    def stop_holding(self) -> None:
        """Reading resumes although channels are backlogged (their application retrieved
        nothing for a while): those channels are left to the flood limits."""
        for channel in self._channels.values():
            if self._over(channel, releasing=True):
                channel.not_held = True

    @staticmethod
    def _over(channel: _Channel, releasing: bool) -> bool:
        packets, size = (HOLD_PACKETS, HOLD_BYTES)
        if releasing:
            packets, size = packets // 2, size // 2
        return len(channel.packets) >= packets or channel.unretrieved >= size

    def pending(self) -> bool:
        return bool(self._control) or any(self._queues.values())

    def take(self, budget: int) -> list[OutgoingFrame]:
        """The next frames to write, at most about `budget` bytes of them."""
        frames: list[OutgoingFrame] = []
        while self._control:
            frames.append(self._control.popleft())
        spent = 0
        for queue in self._queues.values():
            while queue and spent < budget:
                item = queue.popleft()
                frames.append(item.frame)
                spent += len(item.frame[1]) + len(item.frame[2])
                channel = self._channels.get(item.handle)
                if channel is not None:
                    channel.unsent -= item.data_bytes
            if spent >= budget:
                break
        return frames

    def on_frame(self, kind: FrameType, payload: bytes, now: float) -> list[RemotingEvent]:
        """A channel frame from the peer (lengths already checked by the transport)."""
        if kind == FrameType.CHANNEL_OPEN:
            channel_id, priority = _OPEN.unpack(payload)
            return self._on_open(channel_id, priority)
        if kind == FrameType.CHANNEL_ACCEPT:
            (channel_id,) = _ACCEPT.unpack(payload)
            handle = self._live.get(channel_id)
            channel = self._channels.get(handle) if handle is not None else None
            if channel is None or channel.status != Status.OPEN_PENDING:
                return []
            channel.status = Status.OPENED
            return [DataChannelOpenedEvent(channel.handle)]
        if kind == FrameType.CHANNEL_CLOSE:
            channel_id, reason = _CLOSE.unpack(payload)
            handle = self._live.get(channel_id)
            channel = self._channels.get(handle) if handle is not None else None
            if channel is None:
                return []
            closed_reason = Reason.ERROR if reason == Reason.ERROR else Reason.PROTOCOL
            return [self._closed(channel, closed_reason)]
        return []

    # --- inside -------------------------------------------------------------------------

    def _on_open(self, channel_id: int, priority: int) -> list[RemotingEvent]:
        peer_ids = PLAYER_CHANNEL_IDS if self.role == "remote" else REMOTE_CHANNEL_IDS
        try:
            prio = DataChannelPriority(priority)
        except ValueError:
            prio = None
        if channel_id not in peer_ids or prio is None or channel_id in self._live:
            # Not the peer's to open (or open already): refuse this channel only.
            self._control.append(
                (FrameType.CHANNEL_CLOSE, b"", _CLOSE.pack(channel_id, Reason.ERROR))
            )
            return []
        handle = next(self._handles)
        channel = _Channel(handle, channel_id, prio, Status.OPENED)
        self._channels[handle] = channel
        self._live[channel_id] = handle
        self._control.append((FrameType.CHANNEL_ACCEPT, b"", _ACCEPT.pack(channel_id)))
        return [DataChannelCreatedEvent(channel_id, handle)]

    def on_data(self, channel_id: int, data: bytes, now: float) -> list[RemotingEvent]:
        """A DATA frame from the peer."""
        handle = self._live.get(channel_id) if channel_id < 256 else None
        channel = self._channels.get(handle) if handle is not None else None
        if channel is None or channel.status != Status.OPENED:
            return []  # in flight when this end closed it: dropped
        self._expire(channel, now)
        if (
            channel.unretrieved + len(data) > MAX_UNRETRIEVED_BYTES
            or len(channel.packets) >= MAX_UNRETRIEVED_PACKETS
        ):
            self._close_frame(channel, Reason.ERROR)
            return [self._closed(channel, Reason.ERROR)]
        packet_id = next(self._packet_ids)
        channel.packets[packet_id] = _Packet(data, now + PACKET_LIFETIME_S)
        channel.unretrieved += len(data)
        self._packet_channel[packet_id] = handle or 0
        return [DataChannelDataReceivedEvent(channel.handle, len(data), packet_id)]

    def _expire(self, channel: _Channel, now: float) -> None:
        # Packets are kept in arrival order with one lifetime, so the expired ones come
        # first: the scan stops at the first live one (not one pass over all per call).
        expired: list[int] = []
        for packet_id, packet in channel.packets.items():
            if packet.expires > now:
                break
            expired.append(packet_id)
        for packet_id in expired:
            packet = channel.packets.pop(packet_id)
            channel.unretrieved -= len(packet.data)
            channel.spent.add(packet_id)
            self._packet_channel.pop(packet_id, None)

    def _close_frame(self, channel: _Channel, reason: Reason) -> None:
        """Tell the peer, after the data this channel already queued."""
        frame: OutgoingFrame = (
            FrameType.CHANNEL_CLOSE,
            b"",
            _CLOSE.pack(channel.channel_id, int(reason)),
        )
        if reason == Reason.ERROR:
            self._drop_queued(channel)
            self._control.append(frame)
        else:
            self._queues[channel.priority].append(_Queued(channel.handle, frame, 0))

    def _closed(self, channel: _Channel, reason: Reason) -> DataChannelClosedEvent:
        channel.status = Status.CLOSED
        if self._live.get(channel.channel_id) == channel.handle:
            del self._live[channel.channel_id]
        self._drop_queued(channel)
        self._drop_packets(channel)
        return DataChannelClosedEvent(channel.handle, reason)

    def _drop_queued(self, channel: _Channel) -> None:
        queue = self._queues[channel.priority]
        kept = [item for item in queue if item.handle != channel.handle]
        queue.clear()
        queue.extend(kept)
        channel.unsent = 0

    def _drop_packets(self, channel: _Channel) -> None:
        for packet_id in channel.packets:
            channel.spent.add(packet_id)
            self._packet_channel.pop(packet_id, None)
        channel.packets.clear()
        channel.unretrieved = 0

    def _forget(self, channel: _Channel) -> None:
        self._drop_packets(channel)
        if channel.status == Status.CLOSED:
            self._drop_queued(channel)
        if self._live.get(channel.channel_id) == channel.handle:
            del self._live[channel.channel_id]
        del self._channels[channel.handle]
        self._own.discard(channel.handle)

    def _get(self, handle: int, function: str) -> _Channel:
        channel = self._channels.get(handle)
        if channel is None:
            raise RemotingCallError(
                function, Result.ERROR_HANDLE_INVALID, f"no data channel has handle {handle}"
            )
        return channel

    @staticmethod
    def _require_open(channel: _Channel, function: str) -> None:
        if channel.status == Status.OPEN_PENDING:
            raise DataChannelError(
                function,
                DataChannelResult.OPEN_PENDING,
                f"channel {channel.channel_id} is not open yet",
                fix="wait for its Opened event",
            )
        if channel.status == Status.CLOSED:
            raise DataChannelError(
                function, DataChannelResult.CLOSED, f"channel {channel.channel_id} is closed"
            )

"""The data-channel functions with plain Python values in and out.

The runtime contract takes the extension's ctypes structs; the session and everything
above it must not touch ctypes (docs/architecture.md), so they call these. Each is one
blocking runtime call (or two, for the two-call idiom): call them off the event loop.
"""

from __future__ import annotations

import ctypes
import threading
import time
from typing import Protocol, cast, runtime_checkable

from app.remoting.contract import (
    DataChannelState,
    RemotingCallError,
    RemotingRuntime,
    RetrieveCapacityError,
)
from app.xr.channel_structs import (
    XrRemotingDataChannelCreateInfoMSFT,
    XrRemotingDataChannelSendDataInfoMSFT,
)
from app.xr.values import XR_FALSE, XR_TRUE, DataChannelPriority, Result


def create(runtime: RemotingRuntime, channel_id: int, priority: DataChannelPriority) -> int:
    """xrCreateRemotingDataChannelMSFT: the handle of a channel that is OPEN_PENDING."""
    if not 0 <= channel_id <= 255:
        raise RemotingCallError(
            "xrCreateRemotingDataChannelMSFT",
            Result.ERROR_VALIDATION_FAILURE,
            f"channelId {channel_id} does not fit its uint8_t",
        )
    info = XrRemotingDataChannelCreateInfoMSFT(channelPriority=int(priority), channelId=channel_id)
    return runtime.create_data_channel(info)


def destroy(runtime: RemotingRuntime, channel: int) -> None:
    runtime.destroy_data_channel(channel)


def state(runtime: RemotingRuntime, channel: int) -> DataChannelState:
    return runtime.get_data_channel_state(channel)


def send(runtime: RemotingRuntime, channel: int, data: bytes, *, guaranteed: bool = True) -> None:
    """xrSendRemotingDataMSFT with `data` (the runtime copies it before returning)."""
    if has_fast_path(runtime, PacketSender):
        cast(PacketSender, runtime).send_packet(channel, data, guaranteed)
        return
    # c_char_p over a bytes object points at its own storage (no copy); `data` stays
    # alive for the call, and the runtime copies what it keeps.
    pointer = ctypes.cast(ctypes.c_char_p(data), ctypes.POINTER(ctypes.c_uint8)) if data else None
    info = XrRemotingDataChannelSendDataInfoMSFT(
        data=pointer,
        size=len(data),
        guaranteedDelivery=XR_TRUE if guaranteed else XR_FALSE,
    )
    runtime.send_remoting_data(channel, info)


def send_paced(
    runtime: RemotingRuntime,
    channel: int,
    data: bytes,
    *,
    limit: int,
    poll_s: float,
    guaranteed: bool = True,
) -> None:
    """Wait (on this thread) until at most `limit` bytes are unsent on the channel,
    then send: a bulk sender's one call per message."""
    if has_fast_path(runtime, PacedPacketSender):
        sender = cast(PacedPacketSender, runtime)
        while not sender.send_packet_paced(channel, data, limit, guaranteed):
            time.sleep(poll_s)
        return
    while state(runtime, channel).send_queue_size > limit:
        time.sleep(poll_s)
    send(runtime, channel, data, guaranteed=guaranteed)


class _Scratch(threading.local):
    """Each thread's retrieve buffer, reused: a stream of packets costs no fresh
    (zero-filled) ctypes array per packet. The bytes leave it as a copy."""

    buffer: ctypes.Array[ctypes.c_uint8] | None = None


_scratch = _Scratch()


def _buffer_for(capacity: int) -> ctypes.Array[ctypes.c_uint8]:
    buffer = _scratch.buffer
    if buffer is None or len(buffer) < capacity:
        buffer = (ctypes.c_uint8 * capacity)()
        _scratch.buffer = buffer
    return buffer


@runtime_checkable
class PacketRetriever(Protocol):
    """A runtime in Python (the built-in one) can hand a packet's bytes over as they
    are: the same checks and errors as xrRetrieveRemotingDataMSFT, without a buffer."""

    def retrieve_packet(self, channel: int, packet_id: int) -> bytes: ...


@runtime_checkable
class PacketSender(Protocol):
    """A runtime in Python (the built-in one) can take a message's bytes as they are:
    the same checks and errors as xrSendRemotingDataMSFT, without the ctypes struct
    and the copy out of its pointer (a bulk sender's every message)."""

    def send_packet(self, channel: int, data: bytes, guaranteed: bool) -> None: ...


@runtime_checkable
class PacedPacketSender(Protocol):
    """A runtime in Python (the built-in one) can look at sendQueueSize and send in
    one step: `send_paced` without a state call per message."""

    def send_packet_paced(
        self, channel: int, data: bytes, limit: int, guaranteed: bool
    ) -> bool: ...


# Whether a runtime class has a fast path, per class and protocol: isinstance
# against a runtime_checkable Protocol walks the class's attributes each time
# (about 4 us), once per message here.
_fast_paths: dict[tuple[type, type], bool] = {}


def has_fast_path(runtime: RemotingRuntime, protocol: type) -> bool:
    key = (type(runtime), protocol)
    found = _fast_paths.get(key)
    if found is None:
        found = _fast_paths[key] = isinstance(runtime, protocol)
    return found


def retrieve(runtime: RemotingRuntime, channel: int, packet_id: int, size_hint: int = 0) -> bytes:
    """xrRetrieveRemotingDataMSFT with the two-call idiom: ask the size, then fetch.

    With `size_hint` (the size the DataReceived event announced) the first call
    already offers that much; a runtime that wants more answers with the size needed
    and the second call offers exactly that. A `PacketRetriever` hands the bytes over
    directly (two copies of every message fewer on a busy receiver, and less time
    holding the GIL that the runtime's own loop thread needs)."""
    if has_fast_path(runtime, PacketRetriever):
        return cast(PacketRetriever, runtime).retrieve_packet(channel, packet_id)
    capacity = size_hint or runtime.retrieve_remoting_data(channel, packet_id, 0, None)
    for _ in range(2):
        buffer = _buffer_for(capacity)
        try:
            count = runtime.retrieve_remoting_data(channel, packet_id, capacity, buffer)
        except RetrieveCapacityError as exc:
            if exc.required <= capacity:
                raise
            capacity = exc.required
            continue
        return ctypes.string_at(buffer, count)
    raise RemotingCallError(
        "xrRetrieveRemotingDataMSFT",
        Result.ERROR_RUNTIME_FAILURE,
        "the packet grew between the two calls",
    )

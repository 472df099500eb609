"""A session's data channels as plain Python values (bytes in, bytes out), on asyncio.

The session's pump hands every data-channel event here, with the packet's bytes
already retrieved on the pump's worker thread (so a packet is read the moment its
event is polled, and the loop never blocks on a runtime call). Runtime calls made
from here run off the loop (`asyncio.to_thread`).

Messages wait in a per-channel inbox of at most MAX_INBOX_BYTES; a channel whose
reader falls that far behind is destroyed here and reported closed with ERROR, so
one flooded channel never costs the others (or the process) their memory.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from app.endpoint.events import ChannelClosed, ChannelOpened, SessionEvent
from app.errors import HoloremoteError
from app.remoting import channel_calls
from app.remoting.contract import (
    DataChannelClosedEvent,
    DataChannelCreatedEvent,
    DataChannelDataReceivedEvent,
    DataChannelEvent,
    DataChannelOpenedEvent,
    DataChannelState,
    RemotingRuntime,
)
from app.xr.values import DataChannelClosedReason, DataChannelPriority

MAX_INBOX_BYTES = 64 << 20
# While this many bytes are unsent on a channel, `send(paced=True)` waits.
PACE_QUEUE_BYTES = 4 << 20
PACE_POLL_S = 0.002
MAX_ANNOUNCED = 4096
_SHUT = 0  # never a handle: wakes `accept` when the session closes


class ChannelClosedError(HoloremoteError):
    """The channel closed (or was never open) while waiting on it."""

    def __init__(self, channel_id: int, reason: str, detail: str = "") -> None:
        text = f"data channel {channel_id} is closed ({reason})"
        super().__init__(f"{text}: {detail}" if detail else text)
        self.channel_id = channel_id
        self.reason = reason


@dataclass
class _Channel:
    handle: int
    channel_id: int
    opened: asyncio.Future[None]
    inbox: collections.deque[bytes] = field(default_factory=collections.deque)
    inbox_bytes: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    closed: ChannelClosed | None = None


class ChannelHub:
    def __init__(self, runtime: RemotingRuntime, emit: Callable[[SessionEvent], None]) -> None:
        self._runtime = runtime
        self._emit = emit
        self._channels: dict[int, _Channel] = {}
        self._accepted: asyncio.Queue[int] = asyncio.Queue()
        # Runtime events that arrived for a handle before `open` returned it.
        self._early: dict[int, list[tuple[DataChannelEvent, bytes | None]]] = {}
        #: When set, the pump leaves packets in the runtime and announces them here
        #: (handle -> events) for a caller that retrieves them itself, with its own
        #: buffer sizes (the two-call idiom's tests).
        self.manual_retrieve = False
        self.announced: collections.deque[DataChannelDataReceivedEvent] = collections.deque(
            maxlen=MAX_ANNOUNCED
        )
        self.announced_changed = asyncio.Event()
        self._shut = False

    # --- what the session's users call ------------------------------------------------

    async def open(
        self,
        channel_id: int,
        priority: DataChannelPriority = DataChannelPriority.MEDIUM,
        timeout: float = 10.0,
    ) -> int:
        """Create a channel and wait for the peer to accept it; its handle."""
        handle = await asyncio.to_thread(channel_calls.create, self._runtime, channel_id, priority)
        channel = self._add(handle, channel_id)
        for event, data in self._early.pop(handle, []):
            self.on_event(event, data)
        try:
            # Timeout scopes here, not `wait_for`: on Python 3.11 that loses a cancel
            # that comes once what it waits for is done, and a session's close cancels
            # whoever waits here.
            async with asyncio.timeout(timeout):
                await asyncio.shield(channel.opened)
        except TimeoutError:
            await self.close(handle)
            raise ChannelClosedError(
                channel_id, "timeout", f"the peer did not accept it within {timeout:g} s"
            ) from None
        return handle

    async def accept(self, timeout: float | None = None) -> int:
        """The next channel the peer created (its handle); ChannelClosedError once the
        session is closed, so that whoever waits here ends by itself."""
        if not self._shut:
            async with asyncio.timeout(timeout):
                handle = await self._accepted.get()
            if handle != _SHUT:
                return handle
            self._accepted.put_nowait(_SHUT)  # for the next one waiting
        raise ChannelClosedError(-1, "ERROR", "the session is closed")

    def shutdown(self) -> None:
        """The session is closing: every wait on a channel or for one ends."""
        if self._shut:
            return
        self._shut = True
        for channel in self._channels.values():
            if channel.closed is None:
                self._mark_closed(channel, "ERROR", "the session is closed", emit=False)
        self._accepted.put_nowait(_SHUT)

    def channel_id(self, handle: int) -> int:
        return self._channels[handle].channel_id

    async def send(
        self, handle: int, data: bytes, *, guaranteed: bool = True, paced: bool = False
    ) -> None:
        """Queue one message (at most 1 MiB). `paced` first waits until fewer than
        PACE_QUEUE_BYTES are unsent on the channel (for bulk transfers)."""
        if paced:
            await asyncio.to_thread(
                channel_calls.send_paced,
                self._runtime,
                handle,
                data,
                limit=PACE_QUEUE_BYTES,
                poll_s=PACE_POLL_S,
                guaranteed=guaranteed,
            )
            return
        await asyncio.to_thread(
            channel_calls.send, self._runtime, handle, data, guaranteed=guaranteed
        )

    async def send_many(self, handle: int, messages: list[bytes]) -> None:
        """Several messages in one trip to a worker thread, each paced as with
        `send(paced=True)`: bulk transfers pay the thread hop once per batch."""

        def send_all() -> None:
            for message in messages:
                channel_calls.send_paced(
                    self._runtime, handle, message, limit=PACE_QUEUE_BYTES, poll_s=PACE_POLL_S
                )

        await asyncio.to_thread(send_all)

    async def drain(self, handle: int, timeout: float = 60.0) -> None:
        """Wait until nothing is left unsent on the channel."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (await self.state(handle)).send_queue_size > 0:
            if loop.time() > deadline:
                raise TimeoutError(f"channel {self.channel_id(handle)} still has unsent data")
            await asyncio.sleep(PACE_POLL_S)

    async def state(self, handle: int) -> DataChannelState:
        return await asyncio.to_thread(channel_calls.state, self._runtime, handle)

    async def receive(self, handle: int, timeout: float | None = None) -> bytes:
        """The next message; ChannelClosedError once the channel is closed and empty."""
        channel = self._channels[handle]
        if not channel.inbox:
            await self._arrival(channel, timeout)
        data = channel.inbox.popleft()
        channel.inbox_bytes -= len(data)
        return data

    async def _arrival(self, channel: _Channel, timeout: float | None) -> None:
        """Until `channel` has a message (or is closed and empty: ChannelClosedError).
        Apart from `receive`, whose messages are mostly waiting already: one per
        message of a stream, and asking for the loop and its time costs a system call
        each (Python 3.11 checks the process id on every `get_running_loop`)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not channel.inbox:
            if channel.closed is not None:
                raise ChannelClosedError(
                    channel.channel_id, channel.closed.reason, channel.closed.detail
                )
            channel.arrived.clear()
            # A timeout scope, not `wait_for`: that made a task per wait, per message
            # on a busy channel.
            async with asyncio.timeout_at(deadline):
                await channel.arrived.wait()

    def pending(self, handle: int) -> int:
        """Messages received and not yet read."""
        return len(self._channels[handle].inbox)

    async def close(self, handle: int) -> None:
        """Destroy the channel (the peer sees it closed, PROTOCOL)."""
        channel = self._channels.get(handle)
        await asyncio.to_thread(channel_calls.destroy, self._runtime, handle)
        if channel is not None and channel.closed is None:
            self._mark_closed(channel, "PROTOCOL", "closed by this end", emit=True)

    def open_channels(self) -> list[tuple[int, int]]:
        """(handle, channel id) of every channel not closed."""
        return [(c.handle, c.channel_id) for c in self._channels.values() if c.closed is None]

    # --- from the session's pump (on the loop) ------------------------------------------

    def on_event(self, event: DataChannelEvent, data: bytes | None) -> None:
        if isinstance(event, DataChannelCreatedEvent):
            channel = self._add(event.channel, event.channel_id)
            channel.opened.set_result(None)
            self._emit(ChannelOpened(event.channel, event.channel_id, by_peer=True))
            self._accepted.put_nowait(event.channel)
            return
        channel_or_none = self._channels.get(event.channel)
        if channel_or_none is None:
            # `open` has the handle from the runtime but has not registered it yet.
            self._early.setdefault(event.channel, []).append((event, data))
            return
        channel = channel_or_none
        if isinstance(event, DataChannelOpenedEvent):
            if not channel.opened.done():
                channel.opened.set_result(None)
            self._emit(ChannelOpened(event.channel, channel.channel_id, by_peer=False))
        elif isinstance(event, DataChannelDataReceivedEvent):
            if self.manual_retrieve:
                self.announced.append(event)
                self.announced_changed.set()
                return
            if data is None or channel.closed is not None:
                return
            if channel.inbox_bytes + len(data) > MAX_INBOX_BYTES:
                self._mark_closed(
                    channel,
                    DataChannelClosedReason.ERROR.name,
                    f"more than {MAX_INBOX_BYTES >> 20} MiB received and not read",
                    emit=True,
                )
                asyncio.get_running_loop().create_task(self._destroy_quietly(channel.handle))
                return
            channel.inbox.append(data)
            channel.inbox_bytes += len(data)
            channel.arrived.set()
        elif isinstance(event, DataChannelClosedEvent) and channel.closed is None:
            detail = (
                "the peer closed it"
                if event.closed_reason == DataChannelClosedReason.PROTOCOL
                else "the connection was lost or a limit was exceeded"
            )
            self._mark_closed(channel, event.closed_reason.name, detail, emit=True)

    def retrieval_failed(self, event: DataChannelDataReceivedEvent, error: Exception) -> None:
        """The pump could not read a packet: that channel is unusable from here on."""
        channel = self._channels.get(event.channel)
        if channel is not None and channel.closed is None:
            self._mark_closed(channel, "ERROR", f"reading a packet failed: {error}", emit=True)

    # --- inside ---------------------------------------------------------------------------

    def _add(self, handle: int, channel_id: int) -> _Channel:
        loop = asyncio.get_running_loop()
        channel = _Channel(handle, channel_id, loop.create_future())
        self._channels[handle] = channel
        return channel

    def _mark_closed(self, channel: _Channel, reason: str, detail: str, *, emit: bool) -> None:
        channel.closed = ChannelClosed(channel.handle, channel.channel_id, reason, detail)
        channel.arrived.set()
        if not channel.opened.done():
            channel.opened.set_exception(ChannelClosedError(channel.channel_id, reason, detail))
            channel.opened.exception()  # retrieved: no "never retrieved" warning
        if emit:
            self._emit(channel.closed)

    async def _destroy_quietly(self, handle: int) -> None:
        with contextlib.suppress(HoloremoteError):
            await asyncio.to_thread(channel_calls.destroy, self._runtime, handle)

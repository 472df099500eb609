"""What the server and client shells share: the reporter they tell outcomes to, the
socket-error mapping, the read step of a handshake, the transport core built from
the options, and the loop that drives a `TransportConnection` over a stream.

A shell does three things only (as aioquic's asyncio adapter): push received bytes
into the core, drain the core's events, and send what the core wants sent while
re-arming the one timer the core asks for.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Protocol, cast

from app.remoting.builtin.frames import (
    ChannelFrame,
    DataReceived,
    Phase,
    Side,
    TransportConnection,
    TransportEnded,
    TransportEvent,
)
from app.remoting.builtin.options import BuiltinOptions
from app.remoting.builtin.protocol import FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD, FrameType
from app.remoting.contract import HandshakeStage
from app.xr.values import DisconnectReason

R = DisconnectReason
# The open transport's read buffer (`_DirectFeed`): the TLS layer decrypts into it, up
# to this much per callback; as much as the bare socket baseline reads per call.
FEED_BUFFER_BYTES = 256 * 1024
# Per read from the TLS stream: all that asyncio has decrypted (it buffers up to
# twice its 64 KiB limit), so a busy link costs fewer turns of the loop.
READ_CHUNK = 256 * 1024
# How long a closing TLS connection may take to exchange close_notify before the
# socket is simply dropped.
CLOSE_GRACE_S = 1.0


class Reporter(Protocol):
    """Where a shell reports what the runtime turns into events and state."""

    def listening(self, port: int, transport_port: int) -> None: ...

    def connected(self) -> None: ...

    def disconnected(self, reason: DisconnectReason, detail: str) -> None: ...

    def note(self, message: str) -> None: ...

    def stage(self, report: HandshakeStage) -> None: ...


def connect_error_reason(exc: BaseException) -> R:
    """A failed TCP connect to the handshake port, as the specification names it."""
    if isinstance(exc, ConnectionRefusedError):
        return R.HANDSHAKE_CONNECTION_REFUSED
    if isinstance(exc, socket.gaierror):
        return R.HANDSHAKE_UNREACHABLE
    if isinstance(exc, TimeoutError):
        return R.HANDSHAKE_UNREACHABLE
    if isinstance(exc, PermissionError) or getattr(exc, "errno", None) in (
        errno.EACCES,
        errno.EPERM,
    ):
        return R.HANDSHAKE_PERMISSION_DENIED
    if getattr(exc, "errno", None) == errno.ENETUNREACH:
        return R.HANDSHAKE_NETWORK_UNREACHABLE
    if getattr(exc, "errno", None) in (errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ETIMEDOUT):
        return R.HANDSHAKE_UNREACHABLE
    return R.HANDSHAKE_UNREACHABLE


def describe_connect_error(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return f"the host name did not resolve ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return "the TCP connection attempt timed out"
    return f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}"


@contextlib.contextmanager
def one_segment(writer: asyncio.StreamWriter) -> Iterator[None]:
    """Hold back what is written inside the block and send it as one TCP segment when
    it ends (TCP_CORK, Linux): a last answer and the TLS close_notify after it then
    cost one send() and one wake-up of the peer instead of two. On loopback a send()
    also runs the receiver's TCP input, so it was most of a listener's CPU per
    handshake (docs/benchmarks.md). Elsewhere, or without a socket, it does nothing."""
    sock = writer.get_extra_info("socket")
    cork = getattr(socket, "TCP_CORK", None)
    corked = False
    if sock is not None and cork is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, cork, 1)
            corked = True
    try:
        yield
    finally:
        if corked:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, cork, 0)


async def close_writer(writer: asyncio.StreamWriter, last: bytes = b"") -> None:
    """Close a stream (TLS close_notify first); drop it if the peer does not answer.
    `last`, if given, is written just before the close, in the same TCP segment."""
    if writer.is_closing():
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_GRACE_S):
                await writer.wait_closed()
        return
    with one_segment(writer) if last else contextlib.nullcontext(), contextlib.suppress(Exception):
        if last:
            writer.write(last)
        writer.close()
    try:
        # asyncio.timeout, not wait_for: wait_for wraps the wait in a task of its own,
        # one more task per connection (docs/benchmarks.md, handshakes).
        async with asyncio.timeout(CLOSE_GRACE_S):
            await writer.wait_closed()
    except (TimeoutError, OSError, ssl.SSLError, ConnectionError):
        writer.transport.abort()
    except Exception:  # noqa: BLE001 - teardown must not raise
        writer.transport.abort()


async def flush(writer: asyncio.StreamWriter, data: bytes | bytearray) -> bool:
    """Write and drain; False if the connection is gone."""
    if not data:
        return True
    try:
        writer.write(data)
        await writer.drain()
    except (ConnectionError, OSError, ssl.SSLError, RuntimeError):
        return False
    return True


class TimedCore(Protocol):
    """A sans-I/O core with one timer: what `feed_next` drives."""

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...

    def receive_data(self, data: bytes, now: float) -> None: ...


async def feed_next(core: TimedCore, reader: asyncio.StreamReader) -> None:
    """Wait for the next bytes until the core's timer is due: feed them in, or fire
    the timer. A broken stream is the end of input (b"") to the core."""
    loop = asyncio.get_running_loop()
    timer = core.get_timer()
    timeout = None if timer is None else max(0.0, timer - loop.time())
    try:
        async with asyncio.timeout(timeout):  # no task per read, as wait_for makes
            data = await reader.read(READ_CHUNK)
    except TimeoutError:
        core.handle_timer(loop.time())
        return
    except (ConnectionError, OSError, ssl.SSLError):
        data = b""
    core.receive_data(data, loop.time())


def transport_core(side: Side, options: BuiltinOptions, now: float) -> TransportConnection:
    """The transport state machine with the options' timeouts and protocol version."""
    return TransportConnection(
        side,
        now=now,
        session_open_timeout=options.session_open_timeout,
        heartbeat_interval=options.heartbeat_interval,
        heartbeat_timeout=options.heartbeat_timeout,
        disconnect_wait=options.disconnect_wait,
        version=options.protocol_version,
    )


class Outbox(Protocol):
    """Where the driver takes data-channel frames from (the runtime's channel table),
    and asks whether the application's backlog wants reading to stop."""

    def take(self, budget: int) -> list[tuple[FrameType, bytes, bytes]]: ...

    def hold_input(self) -> bool: ...

    def progress(self) -> int: ...

    def stop_holding(self) -> None: ...


# How long reading stays stopped for a backlog while the application retrieves
# nothing at all; then reading resumes and that channel's flood limit decides.
HOLD_LIMIT_S = 1.0
# Channel frames handed to the runtime at a time (`TransportDriver._dispatch`): the
# backlog is looked at between batches, so a hold begins within this many messages of
# its mark (the flood limits are 4096 packets, the hold begins at 2048).
TRAFFIC_BATCH = 256


# Data-channel bytes handed to the socket per turn: small enough that a HIGH message
# queued behind a long LOW transfer waits for at most this much, large enough to keep
# the TLS writer busy.
OUTBOX_BUDGET = 256 * 1024


class _DirectFeed(asyncio.BufferedProtocol):
    """The open transport's reading end: the TLS layer decrypts straight into one
    reused buffer and the frames in it go to the core in the same callback.

    Reading through the `StreamReader` cost two copies per read (into the reader's
    buffer, out of it), a wake-up of a reader task and then of the driver's task per
    read (docs/benchmarks.md, "Data-channel throughput"). The core handles the whole
    frames where they lie (`deliver_frames` answers how many bytes it used); a frame
    not yet complete stays here, and the next read lands right behind it, so a frame
    split across reads costs no copy either (the unfinished one moves to the front
    only when the space behind it runs short). Everything but reading (write flow
    control that `StreamWriter.drain` waits on, end of stream, close) is passed on
    to the stream's own protocol, so the `StreamWriter` works unchanged."""

    def __init__(
        self,
        stream_protocol: asyncio.BaseProtocol,
        deliver: Callable[[bytes | bytearray | memoryview], None],
        deliver_frames: Callable[[memoryview], int],
    ) -> None:
        self._stream = stream_protocol
        self._deliver = deliver
        self._deliver_frames = deliver_frames
        # Room for the largest frame plus a full read behind it.
        self._buffer = bytearray(FEED_BUFFER_BYTES + FRAME_HEADER_BYTES + MAX_FRAME_PAYLOAD)
        self._view = memoryview(self._buffer)
        self._start = self._end = 0  # the bytes not yet used by the core
        # What arrives before `start()` (the reader's leftovers must reach the core first).
        self._held: bytearray | None = bytearray()
        self._eof_held = False
        self._ended = False

    def start(self) -> None:
        held, self._held = self._held, None
        if held:
            self._deliver(held)
        if self._eof_held:
            self._end_of_input()

    def get_buffer(self, sizehint: int) -> memoryview:
        if len(self._buffer) - self._end < FEED_BUFFER_BYTES:
            unfinished = bytes(self._view[self._start : self._end])
            self._buffer[: len(unfinished)] = unfinished
            self._start, self._end = 0, len(unfinished)
        return self._view[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        if self._held is not None:
            self._held += self._view[self._end : self._end + nbytes]
            return
        self._end += nbytes
        self._start += self._deliver_frames(self._view[self._start : self._end])
        if self._start == self._end:
            self._start = self._end = 0

    def _end_of_input(self) -> None:
        if self._held is not None:
            self._eof_held = True
            return
        if self._ended:
            return
        self._ended = True
        if self._end > self._start:  # an unfinished frame: the core says how much
            self._deliver(bytes(self._view[self._start : self._end]))
            self._start = self._end = 0
        self._deliver(b"")

    def eof_received(self) -> bool | None:
        self._end_of_input()
        return cast(asyncio.Protocol, self._stream).eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_of_input()
        self._stream.connection_lost(exc)

    def pause_writing(self) -> None:
        self._stream.pause_writing()

    def resume_writing(self) -> None:
        self._stream.resume_writing()


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class TransportDriver:
    """Runs one `TransportConnection` over a stream until it ends.

    Other code (on the loop) may call `request_disconnect()`, or queue frames in the
    `outbox` and call `wake()`: the loop flushes and re-arms at once. Over TLS the
    received bytes go to the core as the TLS layer decrypts them (`_DirectFeed`) and
    its events are handled in that same callback; otherwise a reading task feeds the
    core. Either way reading never waits on writing, so that both ends writing large
    transfers at once never wait on each other's writes."""

    def __init__(
        self,
        core: TransportConnection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_event: Callable[[TransportEvent], None],
        outbox: Outbox | None = None,
        *,
        on_channel: Callable[[list[DataReceived | ChannelFrame]], None] | None = None,
    ) -> None:
        self.core = core
        # Data-channel frames go here, those of one read together, in order with the
        # other events (which go to `on_event`); without it they go to `on_event`.
        self._on_channel = on_channel
        self._reader = reader
        self._writer = writer
        self._on_event = on_event
        self._outbox = outbox
        self._woken = False
        self._waiter: asyncio.Future[None] | None = None
        self._failure: BaseException | None = None
        self._direct = False  # reading through a `_DirectFeed`
        self._held = False  # reading stopped for a channel's backlog
        self._hold_timer: asyncio.TimerHandle | None = None
        self._hold_progress = 0
        self._resumed = asyncio.Event()
        self._resumed.set()
        # While a write waits for the socket (`_write_out`): its timeout scope, so
        # that a disconnect request or an abort is seen at once, not at the next timer.
        self._draining: asyncio.Timeout | None = None
        self.ended: TransportEnded | None = None

    def wake(self) -> None:
        self._woken = True
        waiter = self._waiter
        if waiter is not None:
            _settle(waiter)

    def request_disconnect(self) -> None:
        self.core.request_disconnect(asyncio.get_running_loop().time())
        self.wake()
        self._interrupt_drain()

    def abort(self, reason: DisconnectReason, detail: str) -> None:
        self.core.abort(reason, detail)
        self.wake()
        self._interrupt_drain()

    def _interrupt_drain(self) -> None:
        draining = self._draining
        if draining is not None and not draining.expired():
            draining.reschedule(asyncio.get_running_loop().time())

    def _dispatch(self) -> None:
        """Hand the core's events on, in order; consecutive channel frames together, at
        most TRAFFIC_BATCH at a time with the backlog looked at in between.

        While reading is held for the application's backlog, what was read before the
        hold (and everything behind it, to keep the order) waits in the core, and
        `_release` hands it on: one read of many small messages (a 1 MiB read is 75,000
        one-byte ones) must not carry a channel past its flood limit before reading
        stops. A session that ended is handed on whole."""
        traffic: list[DataReceived | ChannelFrame] = []
        on_channel = self._on_channel
        core = self.core
        while True:
            if len(traffic) >= TRAFFIC_BATCH:
                assert on_channel is not None
                on_channel(traffic)
                traffic = []
                self._check_backlog()
            if self._held and not traffic and core.phase != Phase.CLOSED:
                return
            event = core.next_event()
            if event is None:
                break
            if on_channel is not None and isinstance(event, DataReceived | ChannelFrame):
                traffic.append(event)
                continue
            if traffic:
                assert on_channel is not None
                on_channel(traffic)
                traffic = []
            if isinstance(event, TransportEnded):
                self.ended = event
            else:
                self._on_event(event)
        if traffic:
            assert on_channel is not None
            on_channel(traffic)

    def _received(self, data: bytes | bytearray | memoryview) -> None:
        """Bytes from the stream (b"" = its end), in the TLS layer's callback."""
        if self._failure is not None:
            return
        try:
            self.core.receive_data(data, asyncio.get_running_loop().time())
            self._dispatch()
        except Exception as exc:  # noqa: BLE001 - raised again by run(), not lost in asyncio
            self._failure = exc
            self.wake()
            self._interrupt_drain()
            return
        self._after_input()

    def _after_input(self) -> None:
        """What received bytes ask of the writing side: an end (also while a write
        waits for a peer that does not read), or an answer to write."""
        if self.ended is not None:
            self.wake()
            self._interrupt_drain()
        elif self.core.data_to_send_pending():
            self.wake()
        self._check_backlog()

    # --- back-pressure: stop reading while a channel's backlog is near its limit ---------

    def _check_backlog(self) -> None:
        if self._held or self._outbox is None or self.core.phase != Phase.OPEN:
            return
        if self._outbox.hold_input():
            self._hold()

    def _review_hold(self, now: float) -> None:
        """While reading is held: still held (the peer's silence deadline restarts,
        `TransportConnection.input_held`), or released."""
        if not self._held:
            return
        assert self._outbox is not None
        if self._outbox.hold_input():
            self.core.input_held(now)
        else:
            self._release()

    def _hold(self) -> None:
        assert self._outbox is not None
        loop = asyncio.get_running_loop()
        self._held = True
        self.core.input_held(loop.time())
        if self._direct:
            cast(asyncio.Transport, self._writer.transport).pause_reading()
        else:
            self._resumed.clear()
        self._hold_progress = self._outbox.progress()
        self._hold_timer = loop.call_later(HOLD_LIMIT_S, self._hold_expired)

    def _hold_expired(self) -> None:
        """No packet retrieved for HOLD_LIMIT_S: read on, the flood limits decide."""
        assert self._outbox is not None
        self._hold_timer = None
        progress = self._outbox.progress()
        if progress != self._hold_progress:
            self._hold_progress = progress
            self._hold_timer = asyncio.get_running_loop().call_later(
                HOLD_LIMIT_S, self._hold_expired
            )
            return
        self._outbox.stop_holding()
        self._release()

    def _release(self) -> None:
        if not self._held:
            return
        self._held = False
        self.core.input_held(asyncio.get_running_loop().time())
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        if self._direct:
            transport = cast(asyncio.Transport, self._writer.transport)
            if not transport.is_closing():
                transport.resume_reading()
        else:
            self._resumed.set()
        if self.core.next_event_pending():  # read before the hold, not handed on yet
            self._dispatch()
            self._after_input()

    def _received_frames(self, view: memoryview) -> int:
        """Whole frames where they lie (`_DirectFeed`); the bytes the core used."""
        if self._failure is not None:
            return len(view)
        try:
            if self.core.has_unfinished_frame():  # leftovers the reader had: copy on
                self.core.receive_data(view, asyncio.get_running_loop().time())
                used = len(view)
            else:
                used = self.core.receive_frames(view, asyncio.get_running_loop().time())
            self._dispatch()
        except Exception as exc:  # noqa: BLE001 - raised again by run(), not lost in asyncio
            self._failure = exc
            self.wake()
            self._interrupt_drain()
            return len(view)
        self._after_input()
        return used

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._resumed.wait()
            try:
                data = await self._reader.read(READ_CHUNK)
            except (ConnectionError, OSError, ssl.SSLError):
                data = b""
            self.core.receive_data(data, loop.time())
            self.wake()
            if not data or self.core.phase == Phase.CLOSED:
                self._interrupt_drain()
                return
            self._dispatch()
            self._after_input()

    async def _attach_feed(self) -> bool:
        """Read through a `_DirectFeed` from now on; False where that cannot be done
        exactly (plain TCP, a stream already closing): then the reading task reads."""
        transport = self._writer.transport
        if self._writer.get_extra_info("ssl_object") is None or transport.is_closing():
            return False
        ended_before = self._reader.at_eof()
        feed = _DirectFeed(transport.get_protocol(), self._received, self._received_frames)
        transport.set_protocol(feed)
        # No more bytes reach the reader; what it holds goes to the core first.
        self._reader.feed_eof()
        try:
            leftover = await self._reader.read()
        except (ConnectionError, OSError, ssl.SSLError):
            leftover, ended_before = b"", True
        self._direct = True
        if leftover:
            self._received(leftover)
        if ended_before:
            self._received(b"")
        feed.start()
        return True

    def _fill_from_outbox(self) -> bool:
        """Move the next channel frames into the core; True if there were any."""
        if self._outbox is None or self.core.phase != Phase.OPEN:
            return False
        frames = self._outbox.take(OUTBOX_BUDGET)
        for kind, prefix, payload in frames:
            self.core.send_channel_frame(kind, payload, prefix)
        return bool(frames)

    def _write(self, data: bytes) -> bool:
        """Queue `data` on the stream; False if the connection is gone."""
        if not data:
            return True
        try:
            self._writer.write(data)
        except (ConnectionError, OSError, ssl.SSLError, RuntimeError):
            return False
        return True

    async def _write_out(self, data: bytes) -> bool:
        """Write `data` and wait until the socket has taken enough of it; False if the
        connection is gone. While the peer reads slowly or not at all, the core's
        timers go on (heartbeats out, the heartbeat timeout, the disconnect wait), and
        a disconnect request or an abort is handled at once: a peer that stops
        reading cannot hold the session, or its end, for as long as it likes."""
        if not self._write(data):
            return False
        transport = self._writer.transport
        if transport.get_write_buffer_size() <= transport.get_write_buffer_limits()[0]:
            return True  # the socket took it (most writes): nothing to wait for
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with asyncio.timeout_at(self.core.get_timer()) as draining:
                    self._draining = draining
                    await self._writer.drain()
                return True
            except TimeoutError:
                pass
            except (ConnectionError, OSError, ssl.SSLError, RuntimeError):
                return False
            finally:
                self._draining = None
            if self._failure is not None:
                return True  # raised by `run`
            # Both ends may be holding: this one's input for its application, the
            # peer's for its own. Our pause is not the peer's silence.
            self._review_hold(loop.time())
            self.core.handle_timer(loop.time())
            self._dispatch()
            if self.ended is not None:
                return True  # the caller ends the session (`run`)
            if not self._write(self.core.data_to_send()):  # heartbeats, a DISCONNECT
                return False

    async def _sleep(self, timeout: float | None) -> None:
        """Until `wake()` or the timeout (no task per wait, as `wait_for` makes)."""
        if self._woken:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        timer = None if timeout is None else loop.call_later(timeout, _settle, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    async def run(self) -> TransportEnded:
        loop = asyncio.get_running_loop()
        read_task: asyncio.Future[None] | None = None
        try:
            if not await self._attach_feed():
                read_task = asyncio.ensure_future(self._read())
            while True:
                self._woken = False
                if self._failure is not None:
                    raise self._failure
                self._dispatch()
                if self.ended is not None:
                    # Not waited for: the close below flushes it, within its bound
                    # (a peer that reads nothing must not hold the end of the session).
                    self._write(self.core.data_to_send())
                    return self.ended
                self._review_hold(loop.time())
                self.core.handle_timer(loop.time())
                busy = self._fill_from_outbox()
                if self.core.data_to_send_pending():
                    if not await self._write_out(self.core.data_to_send()):
                        self.core.receive_data(b"", loop.time())
                    continue
                if busy or (self.core.next_event_pending() and not self._held):
                    continue
                timer = self.core.get_timer()
                await self._sleep(None if timer is None else max(0.0, timer - loop.time()))
        finally:
            if self._hold_timer is not None:
                self._hold_timer.cancel()
            if read_task is not None:
                read_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await read_task
            await close_writer(self._writer)

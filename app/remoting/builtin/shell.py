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
from collections.abc import Awaitable, Callable, Iterator
from typing import Protocol

from app.remoting.builtin.frames import (
    Phase,
    Side,
    TransportConnection,
    TransportEnded,
    TransportEvent,
)
from app.remoting.builtin.options import BuiltinOptions
from app.remoting.builtin.protocol import FrameType
from app.remoting.contract import HandshakeStage
from app.xr.values import DisconnectReason

R = DisconnectReason
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
            await asyncio.wait_for(writer.wait_closed(), CLOSE_GRACE_S)
        return
    with one_segment(writer) if last else contextlib.nullcontext(), contextlib.suppress(Exception):
        if last:
            writer.write(last)
        writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), CLOSE_GRACE_S)
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
        data = await asyncio.wait_for(reader.read(READ_CHUNK), timeout)
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
    """Where the driver takes data-channel frames from (the runtime's channel table)."""

    def take(self, budget: int) -> list[tuple[FrameType, bytes]]: ...


# Data-channel bytes handed to the socket per turn: small enough that a HIGH message
# queued behind a long LOW transfer waits for at most this much, large enough to keep
# the TLS writer busy.
OUTBOX_BUDGET = 256 * 1024


class TransportDriver:
    """Runs one `TransportConnection` over a stream until it ends.

    Other code (on the loop) may call `request_disconnect()`, or queue frames in the
    `outbox` and call `wake()`: the loop flushes and re-arms at once. Reading runs in
    its own task, so that both ends writing large transfers at once never wait on
    each other's writes (each keeps reading while its own drain waits)."""

    def __init__(
        self,
        core: TransportConnection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_event: Callable[[TransportEvent], Awaitable[None]],
        outbox: Outbox | None = None,
    ) -> None:
        self.core = core
        self._reader = reader
        self._writer = writer
        self._on_event = on_event
        self._outbox = outbox
        self._wake = asyncio.Event()
        self.ended: TransportEnded | None = None

    def wake(self) -> None:
        self._wake.set()

    def request_disconnect(self) -> None:
        self.core.request_disconnect(asyncio.get_running_loop().time())
        self.wake()

    def abort(self, reason: DisconnectReason, detail: str) -> None:
        self.core.abort(reason, detail)
        self.wake()

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = await self._reader.read(READ_CHUNK)
            except (ConnectionError, OSError, ssl.SSLError):
                data = b""
            self.core.receive_data(data, loop.time())
            self.wake()
            if not data or self.core.phase == Phase.CLOSED:
                return

    def _fill_from_outbox(self) -> bool:
        """Move the next channel frames into the core; True if there were any."""
        if self._outbox is None or self.core.phase != Phase.OPEN:
            return False
        frames = self._outbox.take(OUTBOX_BUDGET)
        for kind, payload in frames:
            self.core.send_channel_frame(kind, payload)
        return bool(frames)

    async def run(self) -> TransportEnded:
        loop = asyncio.get_running_loop()
        read_task = asyncio.ensure_future(self._read())
        try:
            while True:
                self._wake.clear()
                while (event := self.core.next_event()) is not None:
                    if isinstance(event, TransportEnded):
                        self.ended = event
                    else:
                        await self._on_event(event)
                if self.ended is not None:
                    await flush(self._writer, self.core.data_to_send())
                    return self.ended
                self.core.handle_timer(loop.time())
                busy = self._fill_from_outbox()
                if self.core.data_to_send_pending():
                    ok = await flush(self._writer, self.core.data_to_send())
                    if not ok:
                        self.core.receive_data(b"", loop.time())
                    continue
                if busy or self.core.next_event_pending():
                    continue
                timer = self.core.get_timer()
                timeout = None if timer is None else max(0.0, timer - loop.time())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
        finally:
            read_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await read_task
            await close_writer(self._writer)

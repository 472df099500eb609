"""A TLS transport for the selector loop in which OpenSSL reads and writes the socket
itself: a non-blocking `ssl.SSLSocket` driven by the loop's readiness callbacks.

Why: asyncio's own TLS (`asyncio.sslproto.SSLProtocol`) keeps OpenSSL away from the
socket. Every byte is received into Python, copied into a memory BIO, decrypted out
of it, and on the way out encrypted into another BIO and copied to the socket, with
Python code per TLS record in between. On the open transport session that layer was
the busiest code of the receiving thread, and on a listener the extra Python per
handshake was most of the gap to `openssl s_server` (docs/benchmarks.md, "Direct
TLS transport"). Here `SSL_read` and `SSL_write` work on the file descriptor: one
copy (decrypting into the protocol's buffer), one Python call per read pass.

It behaves as asyncio's TLS transport does towards the protocol: `connection_made`
after the handshake (not at all when it upgrades a connected stream, `start_tls`),
the waiter settles with the handshake's outcome, the handshake and the closing
handshake have timeouts, end of stream is `eof_received` followed by a close,
`close()` flushes what was written, sends close_notify and waits (bounded) for the
peer's, writes are flow-controlled with the usual high and low water marks, and
both `Protocol` and `BufferedProtocol` are served.

OpenSSL's rules for a non-blocking socket are kept: a write that wanted the socket
is repeated with the same bytes; a read or write may want the other direction
(TLS 1.3 post-handshake messages); plaintext OpenSSL holds after a read that filled
the buffer is read on without waiting for the socket (`pending()`), since the socket
may never become readable again for it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import socket
import ssl
from asyncio import trsock
from collections.abc import Callable
from typing import Any

# Encrypted bytes handed to SSL_write at once: several full TLS records per call,
# few enough that what was written is soon counted out of the buffer.
WRITE_CHUNK_BYTES = 256 * 1024
# TLS records read in one readiness callback before other callbacks get a turn.
MAX_READS_PER_TURN = 64
# asyncio's defaults for flow control of writes.
DEFAULT_HIGH_WATER = 64 * 1024
# A peer that writes nothing but never completes its TLS handshake.
DEFAULT_HANDSHAKE_TIMEOUT_S = 60.0
DEFAULT_SHUTDOWN_TIMEOUT_S = 30.0


class _State(enum.Enum):
    HANDSHAKE = "handshake"
    OPEN = "open"
    FLUSHING = "flushing"  # close() asked; writing what was queued
    SHUTDOWN = "shutdown"  # close_notify sent or being sent; waiting for the peer's
    CLOSED = "closed"


_WANT_NOTHING, _WANT_READ, _WANT_WRITE = 0, 1, 2


def _set_nodelay(sock: socket.socket) -> None:
    """As asyncio's socket transports do: a TLS record is written whole, and waiting
    for the peer's (delayed) ACK before sending the next would cost 40 ms a turn."""
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class DirectTlsTransport(asyncio.Transport):
    """One TLS connection on a selector loop; see the module's docstring."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        rawsock: socket.socket,
        protocol: asyncio.BaseProtocol,
        context: ssl.SSLContext,
        waiter: asyncio.Future[None] | None,
        *,
        read_buffer: memoryview,
        server_side: bool,
        server_hostname: str | None = None,
        extra: dict[str, Any] | None = None,
        server: Any = None,
        handshake_timeout: float | None = None,
        shutdown_timeout: float | None = None,
        call_connection_made: bool = True,
    ) -> None:
        super().__init__()
        self._info: dict[str, Any] = dict(extra or {})
        rawsock.setblocking(False)
        _set_nodelay(rawsock)
        self._sock = context.wrap_socket(
            rawsock,
            server_side=server_side,
            server_hostname=server_hostname,
            do_handshake_on_connect=False,
        )
        self._fd = self._sock.fileno()
        # The `_ssl._SSLSocket` under the wrapper (it exists once the socket is wrapped).
        self._sslobj: Any = self._sock._sslobj  # type: ignore[attr-defined]
        self._loop = loop
        self._protocol = protocol
        self._buffered = isinstance(protocol, asyncio.BufferedProtocol)
        self._waiter = waiter
        self._read_view = read_buffer  # for a plain Protocol: shared, copied out at once
        self._server = server
        self._call_connection_made = call_connection_made
        # The protocol hears connection_lost only once it counts as connected.
        self._protocol_connected = not call_connection_made
        self._handshake_timeout = handshake_timeout or DEFAULT_HANDSHAKE_TIMEOUT_S
        self._shutdown_timeout = shutdown_timeout or DEFAULT_SHUTDOWN_TIMEOUT_S
        self._state = _State.HANDSHAKE
        self._step_wants = _WANT_NOTHING  # what the handshake or shutdown waits for
        self._reading = True  # not paused by the protocol
        self._read_wants_write = False  # SSL_read wanted the socket writable
        self._write_waits = _WANT_NOTHING  # what a repeated SSL_write waits for
        self._write_buffer: collections.deque[bytes | memoryview] = collections.deque()
        self._write_chunk: bytes | memoryview | None = None  # retried as it was
        self._write_size = 0
        self._high_water = DEFAULT_HIGH_WATER
        self._low_water = DEFAULT_HIGH_WATER // 4
        self._protocol_paused = False
        self._reader_on = False
        self._writer_on = False
        self._timer: asyncio.TimerHandle | None = None
        self._info.setdefault("socket", trsock.TransportSocket(self._sock))
        self._info["sslcontext"] = context
        for key, getter in (
            ("sockname", self._sock.getsockname),
            ("peername", self._sock.getpeername),
        ):
            if key not in self._info:
                try:
                    self._info[key] = getter()
                except OSError:  # a peer already gone: as asyncio's transports, None
                    self._info[key] = None
        if server is not None:
            server._attach()
        self._timer = loop.call_later(self._handshake_timeout, self._handshake_timed_out)
        loop.call_soon(self._handshake_step)

    # --- asyncio.Transport ----------------------------------------------------------

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._info.get(name, default)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol
        self._buffered = isinstance(protocol, asyncio.BufferedProtocol)

    def is_closing(self) -> bool:
        return self._state in (_State.FLUSHING, _State.SHUTDOWN, _State.CLOSED)

    def is_reading(self) -> bool:
        return self._reading and self._state in (_State.HANDSHAKE, _State.OPEN)

    def pause_reading(self) -> None:
        self._reading = False
        self._update_interest()

    def resume_reading(self) -> None:
        if self._reading:
            return
        self._reading = True
        self._update_interest()
        if self._state is _State.OPEN and self._sock.pending():
            self._loop.call_soon(self._read_ready)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = DEFAULT_HIGH_WATER if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high_water, self._low_water = high, low
        self._maybe_pause_protocol()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (self._low_water, self._high_water)

    def get_write_buffer_size(self) -> int:
        return self._write_size

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data: expecting a bytes-like instance, got {type(data).__name__}")
        if not data:
            return
        if self._state not in (_State.HANDSHAKE, _State.OPEN):
            return  # closing: as asyncio's TLS transport, the bytes are dropped
        item = data if isinstance(data, bytes) else bytes(data)
        self._write_buffer.append(item)
        self._write_size += len(item)
        if self._state is _State.OPEN and self._write_waits == _WANT_NOTHING:
            self._write_ready()
        self._maybe_pause_protocol()

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        raise NotImplementedError("TLS does not support half-closes")

    def close(self) -> None:
        if self._state is _State.HANDSHAKE:
            self._force_close(None)
            return
        if self._state is not _State.OPEN:
            return
        self._state = _State.FLUSHING
        # As asyncio's: one timeout bounds flushing and the closing handshake together,
        # or a peer that stops reading would keep the transport (and socket) for ever.
        self._timer = self._loop.call_later(self._shutdown_timeout, self._shutdown_timed_out)
        self._update_interest()
        if not self._write_size:
            self._start_shutdown()

    def abort(self) -> None:
        self._force_close(None)

    # --- readiness ------------------------------------------------------------------

    def _update_interest(self) -> None:
        state = self._state
        if state is _State.OPEN:
            want_read = self._reading or self._write_waits == _WANT_READ
            want_write = self._write_waits == _WANT_WRITE or self._read_wants_write
        elif state is _State.FLUSHING:
            want_read = self._write_waits == _WANT_READ
            want_write = self._write_waits == _WANT_WRITE
        elif state is _State.CLOSED:
            want_read = want_write = False
        else:  # handshake, shutdown: the step says
            want_read = self._step_wants == _WANT_READ
            want_write = self._step_wants == _WANT_WRITE
        if want_read != self._reader_on:
            self._reader_on = want_read
            if want_read:
                self._loop.add_reader(self._fd, self._on_readable)
            else:
                self._loop.remove_reader(self._fd)
        if want_write != self._writer_on:
            self._writer_on = want_write
            if want_write:
                self._loop.add_writer(self._fd, self._on_writable)
            else:
                self._loop.remove_writer(self._fd)

    def _on_readable(self) -> None:
        if not self._stepping():
            if self._write_waits == _WANT_READ:
                self._write_waits = _WANT_NOTHING
                self._write_ready()
            if self._state is _State.OPEN and self._reading:
                self._read_ready()
            self._update_interest()

    def _on_writable(self) -> None:
        if not self._stepping():
            if self._read_wants_write:
                self._read_wants_write = False
                if self._state is _State.OPEN and self._reading:
                    self._read_ready()
            if self._write_waits == _WANT_WRITE:
                self._write_waits = _WANT_NOTHING
                self._write_ready()
            # Whatever was waited for is answered: no registration outlives its
            # reason (a writer left registered would wake the loop for ever).
            self._update_interest()

    def _stepping(self) -> bool:
        """In the handshake or the closing handshake, the socket's readiness is the
        step's (whichever direction it waits for): True when it took it."""
        if self._state is _State.HANDSHAKE:
            self._handshake_step()
            return True
        if self._state is _State.SHUTDOWN:
            self._shutdown_step()
            return True
        return False

    # --- handshake ------------------------------------------------------------------

    def _handshake_step(self) -> None:
        if self._state is not _State.HANDSHAKE:
            return
        try:
            if not self._step(self._sock.do_handshake):
                return
        except (ssl.SSLError, OSError) as exc:
            self._handshake_failed(exc)
            return
        self._cancel_timer()
        self._state = _State.OPEN
        self._step_wants = _WANT_NOTHING
        sock = self._sock
        self._info.update(
            ssl_object=sock,
            peercert=sock.getpeercert(),
            cipher=sock.cipher(),
            compression=sock.compression(),
        )
        if self._call_connection_made:
            self._protocol_connected = True
            try:
                self._protocol.connection_made(self)
            except Exception as exc:  # noqa: BLE001 - as asyncio: the connection fails
                self._handshake_failed(exc)
                return
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._state is not _State.OPEN:
            return  # closed from connection_made
        if self._write_buffer:
            self._write_ready()
        self._update_interest()
        if self._sock.pending():
            self._loop.call_soon(self._read_ready)

    def _handshake_timed_out(self) -> None:
        self._timer = None
        if self._state is _State.HANDSHAKE:
            self._handshake_failed(
                ConnectionAbortedError(
                    f"SSL handshake is taking longer than {self._handshake_timeout:g} "
                    "seconds: aborting the connection"
                )
            )

    def _handshake_failed(self, exc: BaseException) -> None:
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self._force_close(exc)

    # --- reading --------------------------------------------------------------------

    def _read_ready(self) -> None:
        """Read what OpenSSL can give now, up to one buffer (and MAX_READS_PER_TURN
        records), and hand it to the protocol in one call."""
        if self._state is not _State.OPEN or not self._reading:
            return
        protocol = self._protocol
        buffered = self._buffered
        if buffered:
            try:
                view = memoryview(protocol.get_buffer(-1))  # type: ignore[attr-defined]
                if not view.nbytes:
                    raise RuntimeError("get_buffer() returned an empty buffer")
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:  # noqa: BLE001 - as asyncio: fatal to the link
                self._fatal_error(exc, "protocol.get_buffer() call failed")
                return
        else:
            view = self._read_view
        # The SSL object's own read, not `SSLSocket.recv_into`: two Python frames less
        # per TLS record. It differs only in raising SSLEOFError for a TCP end without
        # close_notify, which `recv_into` (suppress_ragged_eofs) turns into an end.
        read = self._sslobj.read
        filled = 0
        size = len(view)
        failure: BaseException | None = None
        ended = False
        cut = False  # the last read filled its room: the rest of its record may wait
        for _ in range(MAX_READS_PER_TURN):
            room = size - filled
            try:
                count = read(room, view[filled:])
            except ssl.SSLWantReadError:
                break
            except ssl.SSLWantWriteError:
                self._read_wants_write = True
                self._update_interest()
                break
            except ssl.SSLEOFError:
                ended = True
                break
            except Exception as exc:  # noqa: BLE001 - SSL, socket, or a buffer it cannot fill
                failure = exc
                break
            if not count:
                ended = True
                break
            filled += count
            if count == room:
                cut = True
                break
        if filled:
            raised = (
                self._protocol_raised("buffer_updated", filled)
                if buffered
                else self._protocol_raised("data_received", bytes(view[:filled]))
            )
            if raised is not None:  # as asyncio: fatal to the link
                self._fatal_error(raised, "protocol.data_received() call failed")
                return
        if failure is not None:
            self._fatal_error(failure, "reading from the TLS connection failed")
            return
        if ended:
            self._end_of_stream()
            return
        # A read returns at most one TLS record, and OpenSSL reads no record ahead
        # (CPython never turns read-ahead on): after a read that did not fill its room,
        # OpenSSL holds no plaintext, and whatever else came is in the socket, whose
        # readiness calls this again. Only a read cut short by the buffer may have left
        # the rest of its record inside OpenSSL, which no readiness would announce.
        # Hence `pending()` only then: it releases the GIL, and taking that back can
        # wait for another thread's whole turn (asked after every pass, it was a
        # twentieth of a busy receiver's time: docs/benchmarks.md, "Data-channel
        # throughput: CPU per byte").
        if cut and self._state is _State.OPEN and self._reading and self._sslobj.pending():
            self._loop.call_soon(self._read_ready)

    def _end_of_stream(self) -> None:
        """The peer's close_notify (or its TCP end): tell the protocol, then close, as
        asyncio does: a TLS connection has no half-close."""
        if self._state is not _State.OPEN:
            return
        self._reading = False
        raised = self._protocol_raised("eof_received")
        if raised is not None:  # as asyncio: fatal to the link
            self._fatal_error(raised, "protocol.eof_received() call failed")
            return
        self.close()

    # --- writing --------------------------------------------------------------------

    def _next_chunk(self) -> bytes | memoryview:
        buffer = self._write_buffer
        first = buffer.popleft()
        if len(first) >= WRITE_CHUNK_BYTES or not buffer:
            return first
        parts = [first]
        total = len(first)
        while buffer and total + len(buffer[0]) <= WRITE_CHUNK_BYTES:
            part = buffer.popleft()
            parts.append(part)
            total += len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _write_ready(self) -> None:
        send = self._sock.send
        while True:
            chunk = self._write_chunk
            if chunk is None:
                if not self._write_buffer:
                    break
                chunk = self._next_chunk()
            try:
                sent = send(chunk)
            except ssl.SSLWantWriteError:
                self._write_chunk = chunk
                self._write_waits = _WANT_WRITE
                self._update_interest()
                return
            except ssl.SSLWantReadError:  # TLS 1.3 post-handshake messages first
                self._write_chunk = chunk
                self._write_waits = _WANT_READ
                self._update_interest()
                return
            except (ssl.SSLError, OSError) as exc:
                self._fatal_error(exc, "writing to the TLS connection failed")
                return
            self._write_size -= sent
            self._write_chunk = memoryview(chunk)[sent:] if sent < len(chunk) else None
        self._write_waits = _WANT_NOTHING
        self._update_interest()
        self._maybe_resume_protocol()
        # resume_writing() may have written (and closed): then wait for those bytes.
        if self._state is _State.FLUSHING and not self._write_size:
            self._start_shutdown()

    def _maybe_pause_protocol(self) -> None:
        if self._write_size <= self._high_water or self._protocol_paused:
            return
        if self._state not in (_State.HANDSHAKE, _State.OPEN):
            return
        self._protocol_paused = True
        self._tell_protocol("pause_writing")

    def _maybe_resume_protocol(self) -> None:
        if self._protocol_paused and self._write_size <= self._low_water:
            self._protocol_paused = False
            self._tell_protocol("resume_writing")

    def _tell_protocol(self, method: str) -> None:
        """Flow control news for the protocol; as asyncio does, what it raises is
        reported, not raised into the write that crossed the mark."""
        raised = self._protocol_raised(method)
        if raised is not None:
            self._report(raised, f"protocol.{method}() failed")

    def _protocol_raised(self, method: str, *args: object) -> BaseException | None:
        """Call one of the protocol's methods; what it raised (short of the
        interpreter's exit), for the caller to report: never into the loop."""
        try:
            getattr(self._protocol, method)(*args)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:  # noqa: BLE001 - the caller reports it
            return exc
        return None

    # --- closing --------------------------------------------------------------------

    def _start_shutdown(self) -> None:
        self._state = _State.SHUTDOWN  # under the timeout close() started
        self._step_wants = _WANT_NOTHING
        self._shutdown_step()

    def _shutdown_timed_out(self) -> None:
        self._timer = None
        # As asyncio's TLS transport: the protocol (and `wait_closed()`) hears why.
        self._force_close(TimeoutError("SSL shutdown timed out"))

    def _shutdown_step(self) -> None:
        """Send close_notify, then read until the peer's arrives (OpenSSL discards
        application data meanwhile), its TCP end, or the shutdown timeout."""
        if self._state is not _State.SHUTDOWN:
            return
        sslobj = self._sslobj
        try:
            # SSLSocket.unwrap() would detach the socket; the shutdown itself is this.
            if not self._step(sslobj.shutdown):
                return
        except (ssl.SSLError, OSError):
            pass  # the peer went without its close_notify: nothing more to wait for
        self._force_close(None)

    def _step(self, operation: Callable[[], object]) -> bool:
        """One try of the handshake or the closing handshake: True once it is done,
        False while it waits for the socket (then registered for what it wants)."""
        try:
            operation()
        except ssl.SSLWantReadError:
            self._step_wants = _WANT_READ
        except ssl.SSLWantWriteError:
            self._step_wants = _WANT_WRITE
        else:
            return True
        self._update_interest()
        return False

    def _force_close(self, exc: BaseException | None) -> None:
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        self._cancel_timer()
        self._update_interest()
        self._write_buffer.clear()
        self._write_chunk = None
        self._write_size = 0
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc or ConnectionResetError("the TLS connection was closed"))
        self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        try:
            if self._protocol_connected:
                self._protocol_connected = False
                self._protocol.connection_lost(exc)  # type: ignore[arg-type]
        finally:
            self._sock.close()
            server, self._server = self._server, None
            if server is not None:
                server._detach()

    def _fatal_error(self, exc: BaseException, message: str) -> None:
        if not isinstance(exc, OSError):  # ssl.SSLError is an OSError
            self._report(exc, message)
        self._force_close(exc)

    def _report(self, exc: BaseException, message: str) -> None:
        self._loop.call_exception_handler(
            {"message": message, "exception": exc, "transport": self, "protocol": self._protocol}
        )

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def __repr__(self) -> str:
        return f"<DirectTlsTransport fd={self._fd} {self._state.value}>"

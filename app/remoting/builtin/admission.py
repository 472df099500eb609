"""Admission to a listening port of the built-in runtime: what happens between the
kernel's accept and the first byte a protocol core sees.

A hostile peer's cheapest attacks come before any protocol: opening many connections
and saying nothing (slow-loris), or a TLS handshake it never finishes. This layer
bounds them with the limits of `protocol.py` (docs/security.md):

- at most `MAX_UNAUTHENTICATED_PER_ADDRESS` connections per peer IP address and
  `MAX_UNAUTHENTICATED_TOTAL` in all that are not (yet) the session: one more is
  closed at once, before any byte, and leaves a note;
- a connection must send its first byte within `FIRST_BYTE_TIMEOUT_S`, and until it
  does, it costs a socket and nothing else: TLS state (asyncio keeps a 256 KiB
  buffer per TLS connection) is only made once the peer speaks;
- on a TLS port, a first byte that does not start a TLS record (plain HTTP to the
  TLS port) is answered in plain HTTP, 400, as nginx does, and closed;
- the TLS handshake must finish within `TLS_HANDSHAKE_TIMEOUT_S`.

Each refusal closes that one connection; no other peer is touched. `ConnectionBudget`
is sans-I/O (counts only) so it is tested without sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from app.remoting.builtin.handshake import TLS_HANDSHAKE_RECORD
from app.remoting.builtin.protocol import (
    ERROR_TLS_REQUIRED,
    FIRST_BYTE_TIMEOUT_S,
    MAX_UNAUTHENTICATED_PER_ADDRESS,
    MAX_UNAUTHENTICATED_TOTAL,
    TLS_HANDSHAKE_TIMEOUT_S,
)
from app.remoting.builtin.shell import CLOSE_GRACE_S
from app.remoting.builtin.token_throttle import throttle_key

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

# The whole answer to plain text on a TLS port: no server state, no JSON parser.
_PLAIN_TO_TLS_BODY = (
    b'{"detail":"this port speaks TLS (https)","error":"' + ERROR_TLS_REQUIRED.encode() + b'"}'
)
PLAIN_TO_TLS_ANSWER = (
    b"HTTP/1.1 400 Bad Request\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: %d\r\n"
    b"Connection: close\r\n"
    b"\r\n" % len(_PLAIN_TO_TLS_BODY)
) + _PLAIN_TO_TLS_BODY

# Connections taken per wake-up of the listening socket (asyncio's servers take up to
# their backlog); the rest wait for the next turn of the loop.
ACCEPTS_PER_WAKE = 64

# Plain text read and dropped before that answer (one request head's worth).
READ_AHEAD_LIMIT = 16 * 1024


class ConnectionBudget:
    """Connections held per peer address and in total (sans-I/O)."""

    def __init__(
        self,
        per_address: int = MAX_UNAUTHENTICATED_PER_ADDRESS,
        total: int = MAX_UNAUTHENTICATED_TOTAL,
    ) -> None:
        if not 1 <= per_address <= total:
            raise ValueError("the budget must satisfy 1 <= per_address <= total")
        self.per_address = per_address
        self.total = total
        self._held: dict[str, int] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def held(self, address: str) -> int:
        return self._held.get(address, 0)

    def admit(self, address: str) -> str:
        """ "" if `address` may have one more connection (it is counted), else why not."""
        if self._count >= self.total:
            return f"{self.total} connections are already waiting to authenticate"
        if self._held.get(address, 0) >= self.per_address:
            return f"{self.per_address} connections from this address are already waiting"
        self._held[address] = self._held.get(address, 0) + 1
        self._count += 1
        return ""

    def release(self, address: str) -> None:
        held = self._held.get(address, 0)
        if held <= 0:
            return
        self._count -= 1
        if held == 1:
            del self._held[address]
        else:
            self._held[address] = held - 1


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _first_byte(sock: socket.socket, timeout: float) -> tuple[bool, bytes | None]:
    """Wait until `sock` is readable (data or EOF) without reading it: (False, None) on
    timeout, else (True, the first byte if a peek already saw it: b"" for EOF).

    A loop without `add_reader` (Windows' proactor) cannot wait without reading: there
    the TLS handshake timeout bounds a silent peer instead.

    A client usually sends its first bytes with the connect, so they are mostly here
    by the time the connection is accepted: a peek answers that without registering
    a reader, a future and a timer per connection (docs/benchmarks.md, handshakes)."""
    try:
        return True, sock.recv(1, socket.MSG_PEEK)  # bytes, or b"" for EOF
    except (BlockingIOError, InterruptedError):
        pass
    except OSError:
        return True, None  # readable with an error: the next step reports it
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    try:
        loop.add_reader(sock.fileno(), _resolve, ready)
    except NotImplementedError:
        return True, None
    try:
        # Not `wait_for`, which on Python 3.11 loses a cancel that comes once `ready` is
        # done (client.open_stream): the listener's close must end this wait.
        async with asyncio.timeout(timeout):
            await ready
    except TimeoutError:
        return False, None
    finally:
        loop.remove_reader(sock.fileno())
    return True, None


class Gate:
    """Accepts on one listening socket and hands each admitted connection, as a
    stream (TLS done when `context` is given), to `handler`."""

    def __init__(
        self,
        *,
        budget: ConnectionBudget,
        context: ssl.SSLContext | None,
        handler: Handler,
        note: Callable[[str], None],
        first_byte_timeout: float = FIRST_BYTE_TIMEOUT_S,
        tls_handshake_timeout: float = TLS_HANDSHAKE_TIMEOUT_S,
    ) -> None:
        self._budget = budget
        self._context = context
        self._handler = handler
        self._note = note
        self._first_byte_timeout = first_byte_timeout
        self._tls_handshake_timeout = tls_handshake_timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self._accepting: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self._reading = False
        self._retry: asyncio.TimerHandle | None = None

    @property
    def tasks(self) -> set[asyncio.Task[None]]:
        """The connections being served (to cancel when the listener ends)."""
        return self._tasks

    def start(self, sock: socket.socket) -> None:
        """Accept from a reader callback on the listening socket where the loop has
        one, as asyncio's own servers do: `loop.sock_accept` per connection made a
        future and registered and removed the socket with epoll for every accept
        (docs/benchmarks.md, handshakes). A loop without readers (Windows' proactor)
        accepts in a task."""
        self._sock = sock
        loop = asyncio.get_running_loop()
        try:
            loop.add_reader(sock.fileno(), self._accept_ready, sock)
            self._reading = True
        except NotImplementedError:
            self._accepting = asyncio.ensure_future(self._accept_loop(sock))

    def close(self) -> None:
        """Stop accepting; connections already admitted go on."""
        if self._accepting is not None:
            self._accepting.cancel()
            self._accepting = None
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._sock is not None:
            if self._reading:
                self._reading = False
                with contextlib.suppress(Exception):
                    asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    def _accept_ready(self, sock: socket.socket) -> None:
        """The listening socket is readable: take every connection waiting (up to a
        bound per wake-up, so the loop stays fair to connections already in)."""
        for _ in range(ACCEPTS_PER_WAKE):
            try:
                conn, address = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                # EMFILE and the like: say so, let the peers already in go on, retry.
                self._note(f"accepting a connection failed: {exc.strerror or exc}")
                self._pause_accepting(sock)
                return
            self._admit(conn, address)

    def _pause_accepting(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(sock.fileno())
        self._reading = False

        def resume() -> None:
            self._retry = None
            if self._sock is sock:
                loop.add_reader(sock.fileno(), self._accept_ready, sock)
                self._reading = True

        self._retry = loop.call_later(0.1, resume)

    def _admit(self, conn: socket.socket, address: Any) -> None:
        conn.setblocking(False)
        key = throttle_key(str(address[0]))
        refusal = self._budget.admit(key)
        if refusal:
            conn.close()
            self._note(f"closed a connection from {key} at once: {refusal}")
            return
        task = asyncio.ensure_future(self._serve(conn, key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept_loop(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, address = await loop.sock_accept(sock)
            except OSError as exc:
                # EMFILE and the like: say so, let the peers already in go on, retry.
                self._note(f"accepting a connection failed: {exc.strerror or exc}")
                await asyncio.sleep(0.1)
                continue
            self._admit(conn, address)

    async def _serve(self, conn: socket.socket, key: str) -> None:
        try:
            stream = await self._open(conn, key)
            if stream is not None:
                await self._handler(*stream)
        finally:
            self._budget.release(key)

    async def _open(
        self, conn: socket.socket, key: str
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        arrived, first = await _first_byte(conn, self._first_byte_timeout)
        if not arrived:
            conn.close()
            self._note(
                f"closed a connection from {key}: nothing received in "
                f"{self._first_byte_timeout:g} s"
            )
            return None
        if self._context is not None and not self._starts_tls(conn, key, first):
            return None
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            if self._context is not None:
                transport, _ = await loop.connect_accepted_socket(
                    lambda: protocol,
                    conn,
                    ssl=self._context,
                    ssl_handshake_timeout=self._tls_handshake_timeout,
                    ssl_shutdown_timeout=CLOSE_GRACE_S,
                )
            else:
                transport, _ = await loop.connect_accepted_socket(lambda: protocol, conn)
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
            conn.close()
            self._note(f"a TLS handshake from {key} failed: {_describe(exc)}")
            return None
        return reader, asyncio.StreamWriter(transport, protocol, reader, loop)

    def _starts_tls(self, conn: socket.socket, key: str, first: bytes | None) -> bool:
        """Peek at the first byte (unless `_first_byte` already did): a TLS handshake
        record goes on to TLS; anything else is told, in plain HTTP, that this port
        speaks TLS."""
        if first is None:
            try:
                first = conn.recv(1, socket.MSG_PEEK)
            except (BlockingIOError, InterruptedError):
                return True  # readable but nothing yet (spurious wake-up): let TLS decide
            except OSError:
                conn.close()
                return False
        if not first:
            conn.close()
            return False
        if first[0] == TLS_HANDSHAKE_RECORD:
            return True
        with contextlib.suppress(OSError):
            # Read what the peer already sent: closing a socket with unread data
            # sends a reset, which can destroy the answer before the peer reads it.
            conn.recv(READ_AHEAD_LIMIT)
            conn.send(PLAIN_TO_TLS_ANSWER)
            conn.shutdown(socket.SHUT_WR)
        conn.close()
        self._note(f"answered plain text from {key} on the TLS port with 400 and closed it")
        return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "it did not finish in time"
    if isinstance(exc, ssl.SSLError):
        return exc.reason or type(exc).__name__
    return getattr(exc, "strerror", None) or type(exc).__name__

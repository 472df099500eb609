"""What the direct-TLS loop tests share (test_direct_tls.py, test_event_loop.py): the
test PKI's contexts, a new loop per test under a timeout, payloads, protocols that
record what their transport tells them, and blocking TLS peers for threads."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import random
import socket
import ssl
import sys
import warnings
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from app.remoting.builtin import event_loop, tls
from app.remoting.builtin.direct_tls import DirectTlsTransport
from app.security.certstore import server_tls_material
from app.security.testpki import GeneratedPki

HOST = "127.0.0.1"
#: For a test module of the direct TLS transport: Windows' proactor loop keeps
#: asyncio's own TLS, so there is nothing of ours to test there.
DIRECT_TLS_ONLY = pytest.mark.skipif(
    sys.platform == "win32", reason="the proactor loop keeps asyncio's own TLS"
)
# A whole test (its coroutine) on its loop; passing runs take well under a second.
TEST_TIMEOUT_S = 20.0
# Every blocking socket of a peer thread: no thread outlives a failed test for long.
PEER_TIMEOUT_S = 10.0
MIB = 1024 * 1024

T = TypeVar("T")
P = TypeVar("P", bound=asyncio.BaseProtocol)


@dataclass(frozen=True)
class Contexts:
    server: ssl.SSLContext  # the runtime's own server context, serving the test PKI's chain
    client: ssl.SSLContext  # verifies the chain and the host name against the test CA


def make_contexts(pki: GeneratedPki) -> Contexts:
    chain_pem, key_pem = server_tls_material(pki.pfx, pki.passphrase, pki.friendly_name)
    client = ssl.create_default_context(cadata=pki.ca_pem.decode())
    return Contexts(tls.server_context(chain_pem, key_pem), client)


def run(main: Callable[[], Coroutine[Any, Any, T]], timeout: float = TEST_TIMEOUT_S) -> T:
    """`main()` on a new `event_loop.new_event_loop()`, bounded by `timeout`, the loop
    closed afterwards whatever happened. Fails the test if the loop's exception
    handler heard anything (a test that expects a report installs its own handler)
    or a socket or stream was left unclosed (a ResourceWarning once collected)."""
    gc.collect()  # what an earlier (failed) test left is not this test's to report
    loop = event_loop.new_event_loop()
    heard: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: heard.append(context))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        try:
            result = loop.run_until_complete(asyncio.wait_for(main(), timeout))
        finally:
            try:
                leftover = asyncio.all_tasks(loop)
                for task in leftover:
                    task.cancel()
                if leftover:
                    loop.run_until_complete(asyncio.wait(leftover))
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()
        gc.collect()
    leaked = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    for other in caught:
        if not issubclass(other.category, ResourceWarning):
            warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    assert not heard, f"the loop's exception handler heard: {heard}"
    assert not leaked, f"left unclosed: {leaked}"
    return result


def payload(seed: int, size: int) -> bytes:
    """Reproducible bytes that differ from one seed to the next."""
    return random.Random(seed).randbytes(size)


def digest(data: bytes | bytearray) -> str:
    return hashlib.sha256(data).hexdigest()


async def let_the_loop_turn(turns: int = 10) -> None:
    """Several turns of the loop, each of which polls the selector: a callback that
    some ready socket would trigger has run by the time this returns."""
    for _ in range(turns):
        await asyncio.sleep(0)


class Observed(asyncio.BaseProtocol):
    """What both recording protocols keep: the callbacks in order, the pieces
    received (as they were handed over), and futures and events to wait on."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.made: asyncio.Future[DirectTlsTransport] = loop.create_future()
        self.lost: asyncio.Future[BaseException | None] = loop.create_future()
        self.calls: list[str] = []
        self.pieces: list[bytes | bytearray | memoryview] = []
        self.received = 0
        self.received_at_eof: int | None = None
        self.paused = asyncio.Event()
        self.resumed = asyncio.Event()
        self._news = asyncio.Event()

    @property
    def transport(self) -> DirectTlsTransport:
        return self.made.result()

    @property
    def data(self) -> bytes:
        return b"".join(self.pieces)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, DirectTlsTransport)
        self.calls.append("connection_made")
        self.made.set_result(transport)

    def eof_received(self) -> bool | None:
        self.calls.append("eof_received")
        self.received_at_eof = self.received
        self._news.set()
        return None

    def connection_lost(self, exc: BaseException | None) -> None:
        self.calls.append("connection_lost")
        self.lost.set_result(exc)
        self._news.set()

    def pause_writing(self) -> None:
        self.calls.append("pause_writing")
        self.resumed.clear()
        self.paused.set()

    def resume_writing(self) -> None:
        self.calls.append("resume_writing")
        self.paused.clear()
        self.resumed.set()

    def _took(self, piece: bytes | bytearray | memoryview) -> None:
        self.pieces.append(piece)
        self.received += len(piece)
        self._news.set()

    async def wait_for_bytes(self, count: int) -> None:
        while self.received < count:
            assert not self.lost.done(), f"connection lost at {self.received} of {count} bytes"
            self._news.clear()
            await self._news.wait()


class Recorder(Observed, asyncio.Protocol):
    """A plain `Protocol`, read through the loop's shared buffer. It keeps the very
    objects it is handed (bytes, which do not change): a transport that handed out
    a view of that buffer would see them overwritten by later reads."""

    def data_received(self, data: bytes) -> None:
        self._took(data)


class BufferedRecorder(Observed, asyncio.BufferedProtocol):
    """A `BufferedProtocol` with its own buffer of `buffer_size` bytes; it pauses
    reading whenever the bytes received so far reach one of `pause_at`."""

    def __init__(self, buffer_size: int, pause_at: tuple[int, ...] = ()) -> None:
        super().__init__()
        self._buffer = bytearray(buffer_size)
        self._pause_at = set(pause_at)

    def get_buffer(self, sizehint: int) -> bytearray:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self._took(bytes(self._buffer[:nbytes]))  # the buffer is reused: a copy
        if self.received in self._pause_at:
            self.transport.pause_reading()


@contextlib.asynccontextmanager
async def tls_server(
    context: ssl.SSLContext, factory: Callable[[], P], **kwargs: Any
) -> AsyncIterator[tuple[int, asyncio.Queue[P]]]:
    """A TLS server on an ephemeral port of HOST (`loop.create_server`): its port and
    a queue of the protocols it makes, one per accepted connection."""
    accepted: asyncio.Queue[P] = asyncio.Queue()

    def make() -> P:
        protocol = factory()
        accepted.put_nowait(protocol)
        return protocol

    loop = asyncio.get_running_loop()
    server = await loop.create_server(make, HOST, 0, ssl=context, **kwargs)
    async with server:
        yield server.sockets[0].getsockname()[1], accepted


@contextlib.contextmanager
def listening_socket() -> Iterator[socket.socket]:
    """A plain non-blocking listening socket on an ephemeral port of HOST, for
    `loop.sock_accept` and `loop.connect_accepted_socket`."""
    with socket.create_server((HOST, 0)) as listener:
        listener.setblocking(False)
        yield listener


def tls_peer(port: int, context: ssl.SSLContext, *, rcvbuf: int | None = None) -> ssl.SSLSocket:
    """A blocking TLS client connected to HOST:port, handshake done; call it in a
    thread (the handshake needs the loop). `rcvbuf` shrinks its receive window, so a
    peer that does not read stops the sender early. Ragged ends are not hidden."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(PEER_TIMEOUT_S)
        sock.connect((HOST, port))
        return context.wrap_socket(sock, server_hostname=HOST, suppress_ragged_eofs=False)
    except BaseException:
        sock.close()
        raise


def read_to_end(sock: ssl.SSLSocket) -> tuple[bytes, str]:
    """Everything until the stream ends, and how it ended: "close_notify" (the TLS
    end), "ragged" (TCP's end without close_notify) or "reset"."""
    chunks: list[bytes] = []
    while True:
        try:
            chunk = sock.recv(256 * 1024)
        except ssl.SSLEOFError:
            return b"".join(chunks), "ragged"
        except ConnectionResetError:
            return b"".join(chunks), "reset"
        if not chunk:
            return b"".join(chunks), "close_notify"
        chunks.append(chunk)

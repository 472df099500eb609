"""`DirectTlsTransport` (OpenSSL reading and writing the socket itself) held to its
contract: towards protocols it behaves as asyncio's TLS transport does.

Why: on the built-in runtime's loop it carries every TLS connection (the listener's,
the client's `start_tls`), replacing asyncio's well-worn `SSLProtocol`, and it keeps
OpenSSL's own rules for a non-blocking socket (a write retried with the same bytes,
plaintext OpenSSL holds after a read that filled the buffer). A slip in either shows
as a hang, lost or mixed bytes, or a connection that never closes; each test here
would catch one of those: handshakes and their extra info, large transfers through
both kinds of protocol, flow control both ways, closing (flush, close_notify,
timeouts, abort), failed handshakes, failing protocol callbacks, switching protocols.

Real TLS on 127.0.0.1 with certificates from the test PKI, no mocks. A peer that must
misbehave is a blocking `ssl` socket in a thread or a plain socket on the loop. Each
test runs on its own `event_loop.new_event_loop()` under a timeout, and fails if the
loop's exception handler heard anything it did not expect.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import select
import socket
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from app.remoting.builtin.direct_tls import (
    DEFAULT_HIGH_WATER,
    MAX_READS_PER_TURN,
    DirectTlsTransport,
)
from app.security.testpki import GeneratedPki
from tests.app.remoting.tls_loop_support import (
    DIRECT_TLS_ONLY,
    HOST,
    MIB,
    PEER_TIMEOUT_S,
    BufferedRecorder,
    Contexts,
    Recorder,
    digest,
    let_the_loop_turn,
    listening_socket,
    payload,
    read_to_end,
    run,
    tls_peer,
    tls_server,
)

pytestmark = DIRECT_TLS_ONLY

# The most plaintext one TLS record carries: one write of this many bytes is one record.
RECORD = 16384
# Small timeouts for the tests that wait them out.
SHORT_TIMEOUT_S = 0.3
# A peer's receive buffer and the server's send buffer while nobody reads: a writer
# stops early, so the transport's own buffer fills after a few writes.
SMALL_SOCKET_BUFFER = 64 * 1024


async def open_tls(
    port: int, context: ssl.SSLContext, *, upgrade: bool = False
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TLS stream to HOST:port: `open_connection(ssl=)`, or with `upgrade` a plain
    connection then `StreamWriter.start_tls` (the runtime client's way)."""
    if not upgrade:
        return await asyncio.open_connection(HOST, port, ssl=context, server_hostname=HOST)
    reader, writer = await asyncio.open_connection(HOST, port)
    await writer.start_tls(context, server_hostname=HOST)
    return reader, writer


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, outgoing: bytes, incoming: int
) -> bytes:
    """Send `outgoing` (in pieces of assorted sizes, so some are joined into one
    write and some are larger than one) while receiving `incoming` bytes."""

    async def send() -> None:
        sizes = itertools.cycle((7, 1000, RECORD, 70_000, 300_000))
        start = 0
        while start < len(outgoing):
            size = next(sizes)
            writer.write(outgoing[start : start + size])
            start += size
            if size == 300_000:
                await writer.drain()
        await writer.drain()

    _, received = await asyncio.gather(send(), reader.readexactly(incoming))
    return received


def nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def check_tls_extras(
    writer: asyncio.StreamWriter, context: ssl.SSLContext, *, client_side: bool, port: int
) -> None:
    """The extra info asyncio's TLS transport offers, as it offers it."""
    transport = writer.transport
    assert isinstance(transport, DirectTlsTransport)
    ssl_object = writer.get_extra_info("ssl_object")
    assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")
    assert ssl_object.cipher() is not None
    assert writer.get_extra_info("cipher") == ssl_object.cipher()
    assert writer.get_extra_info("compression") is None
    assert writer.get_extra_info("sslcontext") is context
    peercert = writer.get_extra_info("peercert")
    assert peercert == ssl_object.getpeercert()
    if client_side:  # the server's leaf, verified
        assert ("IP Address", HOST) in peercert["subjectAltName"]
    else:  # the server asks for no client certificate
        assert peercert is None
    sock = writer.get_extra_info("socket")
    assert writer.get_extra_info("peername") == sock.getpeername()
    assert writer.get_extra_info("sockname") == sock.getsockname()
    server_address = writer.get_extra_info("peername" if client_side else "sockname")
    assert server_address == (HOST, port)
    assert nodelay(sock) != 0  # a TLS record must not wait for the peer's delayed ACK
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0
    assert transport.get_extra_info("no such thing", "default") == "default"
    assert not transport.can_write_eof()
    with pytest.raises(NotImplementedError):
        transport.write_eof()


# --- 1. handshakes --------------------------------------------------------------------


@pytest.mark.parametrize("upgrade", [False, True], ids=["open_connection_ssl", "start_tls"])
def test_handshake_through_the_loop_gives_both_ends_the_tls_extra_info(
    contexts: Contexts, upgrade: bool
) -> None:
    async def main() -> None:
        served: asyncio.Future[asyncio.StreamWriter] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            served.set_result(writer)
            writer.write(b"server says " + await reader.readline())
            await writer.drain()

        server = await asyncio.start_server(handle, HOST, 0, ssl=contexts.server)
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await open_tls(port, contexts.client, upgrade=upgrade)
            writer.write(b"hello\n")
            assert await reader.readline() == b"server says hello\n"
            check_tls_extras(writer, contexts.client, client_side=True, port=port)
            server_writer = await served
            check_tls_extras(server_writer, contexts.server, client_side=False, port=port)
            writer.close()
            await writer.wait_closed()

    run(main)


def test_start_tls_upgrades_the_server_side_of_a_plain_stream_too(contexts: Contexts) -> None:
    """STARTTLS: a plain server upgrades its end (server_side) after a plain exchange."""

    async def main() -> None:
        served: asyncio.Future[asyncio.StreamWriter] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            assert await reader.readline() == b"STARTTLS\n"
            writer.write(b"go ahead\n")
            await writer.start_tls(contexts.server)
            served.set_result(writer)
            writer.write(b"secret " + await reader.readline())
            await writer.drain()

        server = await asyncio.start_server(handle, HOST, 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(b"STARTTLS\n")
            assert await reader.readline() == b"go ahead\n"
            await writer.start_tls(contexts.client, server_hostname=HOST)
            writer.write(b"handshake\n")
            assert await reader.readline() == b"secret handshake\n"
            check_tls_extras(await served, contexts.server, client_side=False, port=port)
            check_tls_extras(writer, contexts.client, client_side=True, port=port)
            writer.close()
            await writer.wait_closed()

    run(main)


# --- 2. large transfers -----------------------------------------------------------------


def test_large_transfers_cross_intact_both_ways_at_once_on_two_connections(
    contexts: Contexts,
) -> None:
    """Plain `Protocol`s (streams at the clients, `Recorder`s at the server) read
    through the loop's one shared buffer: two connections, four transports, several
    MiB each way at once, no byte mixed up or overwritten."""
    size = 3 * MIB

    async def main() -> None:
        async with tls_server(contexts.server, Recorder) as (port, accepted):
            clients = [
                await open_tls(port, contexts.client, upgrade=upgrade) for upgrade in (False, True)
            ]
            servers = [await accepted.get() for _ in clients]  # in the order of connecting
            for index, server in enumerate(servers):
                (await server.made).write(payload(index, size))
            received_by_clients = await asyncio.gather(
                *(
                    exchange(reader, writer, payload(10 + index, size), size)
                    for index, (reader, writer) in enumerate(clients)
                ),
                *(server.wait_for_bytes(size) for server in servers),
            )
            for _reader, writer in clients:
                writer.close()
                await writer.wait_closed()
        for index, server in enumerate(servers):
            assert digest(received_by_clients[index]) == digest(payload(index, size))
            assert digest(server.data) == digest(payload(10 + index, size))

    run(main)


@pytest.mark.parametrize("buffer_size", [1000, 256 * 1024])
def test_buffered_protocols_receive_large_transfers_intact_both_ways(
    contexts: Contexts, buffer_size: int
) -> None:
    """`get_buffer`/`buffer_updated` on both ends; with 1000 bytes every TLS record is
    split across reads and the rest of it comes from what OpenSSL holds."""
    size = 4 * MIB
    to_client, to_server = payload(3, size), payload(4, size)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with tls_server(contexts.server, lambda: BufferedRecorder(buffer_size)) as (
            port,
            accepted,
        ):
            client_transport, client = await loop.create_connection(
                lambda: BufferedRecorder(buffer_size),
                HOST,
                port,
                ssl=contexts.client,
                server_hostname=HOST,
            )
            server = await accepted.get()
            (await server.made).write(to_client)
            client_transport.write(to_server)
            await asyncio.gather(server.wait_for_bytes(size), client.wait_for_bytes(size))
            client_transport.close()
            assert await client.lost is None
            assert await server.lost is None
        assert digest(client.data) == digest(to_client)
        assert digest(server.data) == digest(to_server)
        assert server.calls[-2:] == ["eof_received", "connection_lost"]

    run(main)


def test_a_record_larger_than_the_protocols_buffer_is_read_to_its_end(contexts: Contexts) -> None:
    """One record, a 1000-byte buffer, then silence: the socket never becomes readable
    again, so the rest must come from what OpenSSL holds (`pending()`)."""

    async def main() -> None:
        async with tls_server(contexts.server, lambda: BufferedRecorder(1000)) as (
            port,
            accepted,
        ):
            _reader, writer = await open_tls(port, contexts.client)
            server = await accepted.get()
            writer.write(payload(5, RECORD))
            await server.wait_for_bytes(RECORD)
            assert server.data == payload(5, RECORD)
            writer.close()
            await writer.wait_closed()

    run(main)


def test_a_burst_longer_than_one_turns_read_budget_arrives_whole_with_the_peer_then_silent(
    contexts: Contexts,
) -> None:
    """More records than one turn reads (MAX_READS_PER_TURN), in a buffer that holds
    them all, and then nothing more from the peer: a turn that stops for its budget
    asks OpenSSL nothing (it holds no plaintext after a read that did not fill its
    room), so the rest must come through the socket's readiness."""
    records = 3 * MAX_READS_PER_TURN + 1
    sent = payload(11, records * RECORD - 100)
    done = threading.Event()

    def peer(port: int) -> None:
        with tls_peer(port, contexts.client) as sock:
            sock.sendall(sent)
            assert done.wait(PEER_TIMEOUT_S), "the server never had it all"

    async def main() -> None:
        async with tls_server(contexts.server, lambda: BufferedRecorder(2 * len(sent))) as (
            port,
            accepted,
        ):
            sender = asyncio.create_task(asyncio.to_thread(peer, port))
            server = await accepted.get()
            try:
                await server.wait_for_bytes(len(sent))
            finally:
                done.set()
            await sender
            assert digest(server.data) == digest(sent)
            assert await server.lost is None

    run(main)


def test_a_tcp_end_without_close_notify_is_eof_received_then_connection_lost(
    contexts: Contexts,
) -> None:
    """The peer's TCP end with no close_notify (a ragged end): what came before it is
    delivered, then the end, as asyncio's TLS transport reports it."""

    def peer(port: int) -> None:
        with tls_peer(port, contexts.client) as sock:
            sock.sendall(b"cut off")
            raw = socket.socket(fileno=sock.detach())  # no close_notify
            raw.close()

    async def main() -> None:
        async with tls_server(contexts.server, Recorder) as (port, accepted):
            await asyncio.to_thread(peer, port)
            server = await accepted.get()
            await server.lost
        assert server.data == b"cut off"
        assert server.calls[-2:] == ["eof_received", "connection_lost"]

    run(main)


# --- 3. write flow control --------------------------------------------------------------


def slow_reader(port: int, context: ssl.SSLContext, go: threading.Event) -> tuple[bytes, str]:
    """A peer that completes the handshake, reads nothing until `go`, then reads to the
    end and answers the close_notify (if one came)."""
    with tls_peer(port, context, rcvbuf=SMALL_SOCKET_BUFFER) as sock:
        assert go.wait(PEER_TIMEOUT_S), "never told to read"
        data, end = read_to_end(sock)
        if end == "close_notify":
            sock.unwrap()
        return data, end


def write_until_paused(transport: DirectTlsTransport, protocol: Recorder, seed: int) -> bytes:
    """Write 64 KiB pieces until the protocol is paused; what was written."""
    transport.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_SOCKET_BUFFER
    )
    written = bytearray()
    piece = payload(seed, 64 * 1024)
    while not protocol.paused.is_set():
        assert len(written) < 64 * MIB, "the protocol was never paused"
        transport.write(piece)
        written += piece
    return bytes(written)


def test_writes_pause_the_protocol_above_the_high_water_mark_until_drained(
    contexts: Contexts,
) -> None:
    high, low = 256 * 1024, 32 * 1024

    async def main() -> None:
        go = threading.Event()
        async with tls_server(contexts.server, Recorder) as (port, accepted):
            peer = asyncio.create_task(asyncio.to_thread(slow_reader, port, contexts.client, go))
            server = await accepted.get()
            transport = await server.made
            assert transport.get_write_buffer_limits() == (
                DEFAULT_HIGH_WATER // 4,
                DEFAULT_HIGH_WATER,
            )
            with pytest.raises(ValueError, match="must be >= low"):
                transport.set_write_buffer_limits(high=1, low=2)
            transport.set_write_buffer_limits(high=high, low=low)
            assert transport.get_write_buffer_limits() == (low, high)

            written = write_until_paused(transport, server, seed=6)
            assert transport.get_write_buffer_size() > high
            assert server.calls == ["connection_made", "pause_writing"]
            more = payload(7, 100_000)  # still accepted while paused
            transport.write(more)
            await let_the_loop_turn()
            assert not server.resumed.is_set()

            go.set()
            await server.resumed.wait()
            assert transport.get_write_buffer_size() <= low
            transport.close()
            data, end = await peer
            assert await server.lost is None
        assert end == "close_notify"
        assert digest(data) == digest(written + more)
        assert server.calls == [
            "connection_made",
            "pause_writing",
            "resume_writing",
            "connection_lost",
        ]

    run(main)


def test_drain_waits_while_the_peer_does_not_read_then_completes(contexts: Contexts) -> None:
    async def main() -> None:
        go = threading.Event()
        streams: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()
        everything = payload(8, 8 * MIB)

        async def handle(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await streams.put(writer)

        server = await asyncio.start_server(handle, HOST, 0, ssl=contexts.server)
        async with server:
            port = server.sockets[0].getsockname()[1]
            peer = asyncio.create_task(asyncio.to_thread(slow_reader, port, contexts.client, go))
            writer = await streams.get()
            writer.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_SOCKET_BUFFER
            )
            writer.write(everything)
            assert writer.transport.get_write_buffer_size() > DEFAULT_HIGH_WATER
            drained = asyncio.create_task(writer.drain())
            await let_the_loop_turn()
            assert not drained.done()

            go.set()
            await drained
            low, _high = writer.transport.get_write_buffer_limits()
            assert writer.transport.get_write_buffer_size() <= low
            writer.close()
            await writer.wait_closed()
            data, end = await peer
        assert end == "close_notify"
        assert digest(data) == digest(everything)

    run(main)


# --- 4. pausing reads -------------------------------------------------------------------


def test_pause_reading_holds_back_data_even_what_openssl_already_decrypted(
    contexts: Contexts,
) -> None:
    """A 1000-byte buffer and one record: the first read leaves the rest of the record
    inside OpenSSL, and the protocol pauses right then. Nothing may arrive while
    paused, neither that rest nor what the peer goes on sending."""

    async def main() -> None:
        first_pause, second_pause = 1000, RECORD + 1000
        sent = payload(9, 3 * RECORD)
        async with tls_server(
            contexts.server, lambda: BufferedRecorder(1000, pause_at=(first_pause, second_pause))
        ) as (port, accepted):
            _reader, writer = await open_tls(port, contexts.client)
            server = await accepted.get()
            transport = await server.made
            ssl_object = transport.get_extra_info("ssl_object")
            assert transport.is_reading()

            # The rest of the first record is OpenSSL's alone: the socket has nothing.
            writer.write(sent[:RECORD])
            await server.wait_for_bytes(first_pause)
            assert not transport.is_reading()
            assert ssl_object.pending() == RECORD - first_pause
            await let_the_loop_turn()
            assert server.received == first_pause
            transport.resume_reading()
            assert transport.is_reading()
            await server.wait_for_bytes(RECORD)

            # Paused again inside the second record while the third one arrives.
            writer.write(sent[RECORD : 2 * RECORD])
            await server.wait_for_bytes(second_pause)
            assert not transport.is_reading()
            writer.write(sent[2 * RECORD :])
            await writer.drain()
            readable, _, _ = select.select([transport.get_extra_info("socket")], [], [], 5)
            assert readable, "the third record never reached the server's socket"
            await let_the_loop_turn()
            assert server.received == second_pause
            assert ssl_object.pending() == RECORD - 1000

            transport.resume_reading()
            await server.wait_for_bytes(len(sent))
            assert server.data == sent
            writer.close()
            await writer.wait_closed()
            assert not transport.is_reading()

    run(main)


# --- 5. closing -------------------------------------------------------------------------


class WritesThenCloses(Recorder):
    """Writes `data` and closes as soon as the handshake is done, then writes once
    more (dropped: the transport is closing)."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = data

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert isinstance(transport, DirectTlsTransport)
        transport.write(self._data)
        transport.close()
        assert transport.is_closing()
        transport.write(b"written after close")
        transport.close()


def test_close_flushes_what_was_written_then_ends_with_close_notify(contexts: Contexts) -> None:
    everything = payload(10, 4 * MIB)

    def peer(port: int) -> tuple[bytes, str]:
        with tls_peer(port, contexts.client, rcvbuf=SMALL_SOCKET_BUFFER) as sock:
            data, end = read_to_end(sock)
            sock.unwrap()  # our close_notify: the server finishes without its timeout
            return data, end

    async def main() -> None:
        # The shutdown timeout is longer than the test's: only the peer's answer ends it.
        async with tls_server(contexts.server, lambda: WritesThenCloses(everything)) as (
            port,
            accepted,
        ):
            data, end = await asyncio.to_thread(peer, port)
            server = await accepted.get()
            assert await server.lost is None
        assert end == "close_notify"
        assert digest(data) == digest(everything)

    run(main)


def test_writes_made_from_resume_writing_before_close_are_all_sent(contexts: Contexts) -> None:
    """A producer that writes its last piece and closes from `resume_writing` (that
    is, while the transport is still inside its own write callback): the last piece
    goes out before close_notify, not cut off behind a clean end."""
    everything = payload(11, 16 * MIB)
    half = len(everything) // 2

    class Producer(Recorder):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self.transport.write(everything[:half])

        def resume_writing(self) -> None:
            super().resume_writing()
            if self.calls.count("resume_writing") == 1:
                self.transport.write(everything[half:])
                self.transport.close()

    async def main() -> None:
        async with tls_server(contexts.server, Producer) as (port, accepted):
            reader, writer = await open_tls(port, contexts.client)
            data = await reader.read()
            writer.close()
            await writer.wait_closed()
            server = await accepted.get()
            assert await server.lost is None
        assert len(data) == len(everything)
        assert digest(data) == digest(everything)

    run(main)


def test_the_peers_close_notify_is_eof_received_then_connection_lost(
    contexts: Contexts,
) -> None:
    def peer(port: int) -> None:
        with tls_peer(port, contexts.client) as sock:
            sock.sendall(b"last words")
            sock.unwrap()  # close_notify, then waits for the server's

    async def main() -> None:
        async with tls_server(contexts.server, Recorder) as (port, accepted):
            await asyncio.to_thread(peer, port)
            server = await accepted.get()
            assert await server.lost is None
        assert server.calls == ["connection_made", "eof_received", "connection_lost"]
        assert server.received_at_eof == len(b"last words")
        assert server.data == b"last words"

    run(main)


def test_a_closed_stream_drops_later_writes_and_wait_closed_completes(
    contexts: Contexts,
) -> None:
    async def main() -> None:
        heard: asyncio.Queue[bytes] = asyncio.Queue()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await heard.put(await reader.read())  # to the end of the stream
            writer.close()

        server = await asyncio.start_server(handle, HOST, 0, ssl=contexts.server)
        async with server:
            port = server.sockets[0].getsockname()[1]
            _reader, writer = await open_tls(port, contexts.client)
            writer.write(b"before close")
            writer.close()
            assert writer.is_closing()
            writer.write(b"after close")  # dropped, no error
            await writer.wait_closed()
            assert await heard.get() == b"before close"
            assert writer.transport.get_write_buffer_size() == 0

    run(main)


def test_abort_drops_the_write_buffer_and_calls_connection_lost(contexts: Contexts) -> None:
    async def main() -> None:
        go = threading.Event()
        async with tls_server(contexts.server, Recorder) as (port, accepted):
            peer = asyncio.create_task(asyncio.to_thread(slow_reader, port, contexts.client, go))
            server = await accepted.get()
            transport = await server.made
            written = write_until_paused(transport, server, seed=12)
            transport.abort()
            assert transport.is_closing()
            assert transport.get_write_buffer_size() == 0
            transport.write(b"after abort")  # dropped, no error
            assert await server.lost is None
            go.set()
            data, end = await peer
        assert end in ("ragged", "reset")  # no close_notify: the peer knows it lost data
        assert len(data) < len(written)
        assert server.calls == ["connection_made", "pause_writing", "connection_lost"]

    run(main)


def test_a_peer_that_never_answers_close_notify_is_dropped_after_the_shutdown_timeout(
    contexts: Contexts,
) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        release = threading.Event()

        def peer(port: int) -> tuple[bytes, str]:
            with tls_peer(port, contexts.client) as sock:
                ended = read_to_end(sock)
                assert release.wait(PEER_TIMEOUT_S)
                return ended  # and never a close_notify back

        with listening_socket() as listener:
            port = listener.getsockname()[1]
            peer_done = asyncio.create_task(asyncio.to_thread(peer, port))
            conn, _ = await loop.sock_accept(listener)
            server = Recorder()
            transport, _ = await loop.connect_accepted_socket(
                lambda: server, conn, ssl=contexts.server, ssl_shutdown_timeout=SHORT_TIMEOUT_S
            )
            transport.write(b"goodbye")
            closed_at = loop.time()
            transport.close()
            lost = await server.lost  # closed by the timeout: asyncio's own says TimeoutError
            assert lost is None or isinstance(lost, TimeoutError)
            waited = loop.time() - closed_at
            release.set()
            assert await peer_done == (b"goodbye", "close_notify")
        assert waited >= SHORT_TIMEOUT_S * 0.9  # it did wait for the answer

    run(main)


def test_close_is_bounded_by_the_shutdown_timeout_while_the_peer_reads_nothing(
    contexts: Contexts,
) -> None:
    """asyncio bounds flushing and the closing handshake together: a peer that stops
    reading cannot keep a closed transport (and its socket) for ever."""

    async def main() -> None:
        go = threading.Event()
        async with tls_server(contexts.server, Recorder, ssl_shutdown_timeout=SHORT_TIMEOUT_S) as (
            port,
            accepted,
        ):
            peer = asyncio.create_task(asyncio.to_thread(slow_reader, port, contexts.client, go))
            server = await accepted.get()
            transport = await server.made
            written = write_until_paused(transport, server, seed=13)
            written += payload(14, 8 * MIB)  # more than the sockets' buffers can take
            transport.write(written[-8 * MIB :])
            transport.close()
            lost = await server.lost  # closed by the timeout: asyncio's own says TimeoutError
            assert lost is None or isinstance(lost, TimeoutError)
            go.set()
            data, end = await peer
        assert end in ("ragged", "reset")  # not a clean end after what did not arrive
        assert len(data) < len(written)

    run(main)


# --- 6. failed handshakes ---------------------------------------------------------------


async def read_until_closed(sock: socket.socket) -> bytes:
    """What a plain socket receives until the other end closes (a reset is a close:
    a socket closed with bytes it never read ends with one)."""
    loop = asyncio.get_running_loop()
    received = bytearray()
    with contextlib.suppress(ConnectionResetError):
        while chunk := await loop.sock_recv(sock, 4096):
            received += chunk
    return bytes(received)


@contextlib.asynccontextmanager
async def plain_connection() -> AsyncIterator[tuple[socket.socket, socket.socket]]:
    """A plain TCP connection on HOST: the accepted end and the client's, closed on
    exit (one handed to a transport by then is the transport's)."""
    loop = asyncio.get_running_loop()
    with listening_socket() as listener, socket.socket() as client:
        client.setblocking(False)
        await loop.sock_connect(client, listener.getsockname())
        accepted, _ = await loop.sock_accept(listener)
        with accepted:
            yield accepted, client


def test_a_plain_text_client_fails_the_servers_handshake_and_is_closed(
    contexts: Contexts,
) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with plain_connection() as (conn, client):
            await loop.sock_sendall(client, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            with pytest.raises(ssl.SSLError):
                await loop.connect_accepted_socket(Recorder, conn, ssl=contexts.server)
            await read_until_closed(client)

    run(main)


def test_a_failed_handshake_leaves_the_server_serving(contexts: Contexts) -> None:
    async def main() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.readline())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, HOST, 0, ssl=contexts.server)
        async with server:
            port = server.sockets[0].getsockname()[1]
            with socket.socket() as client:
                client.setblocking(False)
                loop = asyncio.get_running_loop()
                await loop.sock_connect(client, (HOST, port))
                await loop.sock_sendall(client, b"plain text\r\n\r\n")
                await read_until_closed(client)
            reader, writer = await open_tls(port, contexts.client)
            writer.write(b"still here\n")
            assert await reader.readline() == b"still here\n"
            writer.close()
            await writer.wait_closed()

    run(main)


def test_a_client_that_sends_nothing_fails_the_handshake_after_its_timeout(
    contexts: Contexts,
) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with plain_connection() as (conn, client):
            started = loop.time()
            with pytest.raises(ConnectionAbortedError):
                await loop.connect_accepted_socket(
                    Recorder,
                    conn,
                    ssl=contexts.server,
                    ssl_handshake_timeout=SHORT_TIMEOUT_S,
                )
            assert loop.time() - started >= SHORT_TIMEOUT_S * 0.9
            assert await read_until_closed(client) == b""

    run(main)


@pytest.mark.parametrize("upgrade", [False, True], ids=["open_connection_ssl", "start_tls"])
def test_a_client_that_does_not_trust_the_server_fails_on_both_ends(
    contexts: Contexts, other_pki: GeneratedPki, upgrade: bool
) -> None:
    distrustful = ssl.create_default_context(cadata=other_pki.ca_pem.decode())

    async def main() -> None:
        loop = asyncio.get_running_loop()
        with listening_socket() as listener:
            port = listener.getsockname()[1]

            async def serve_one() -> None:
                conn, _ = await loop.sock_accept(listener)
                await loop.connect_accepted_socket(Recorder, conn, ssl=contexts.server)

            server_side, client_side = await asyncio.gather(
                serve_one(), open_tls(port, distrustful, upgrade=upgrade), return_exceptions=True
            )
        assert isinstance(client_side, ssl.SSLCertVerificationError), client_side
        # The client's alert (or, had it come first, its reset) ends the server's try.
        assert isinstance(server_side, ssl.SSLError | ConnectionResetError), server_side

    run(main)


def test_close_during_the_handshake_fails_the_waiter_with_connection_reset(
    contexts: Contexts,
) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with plain_connection() as (conn, client):
            protocol = Recorder()
            waiter: asyncio.Future[None] = loop.create_future()
            transport = DirectTlsTransport(
                loop,
                conn,
                protocol,
                contexts.server,
                waiter,
                read_buffer=memoryview(bytearray(4096)),
                server_side=True,
            )
            await let_the_loop_turn()  # the handshake has begun: it waits for a hello
            assert not waiter.done()
            transport.close()
            with pytest.raises(ConnectionResetError):
                await waiter
            assert transport.is_closing()
            assert await read_until_closed(client) == b""
            assert protocol.calls == []  # never connected, so never lost either

    run(main)


def test_cancelling_open_connection_during_the_handshake_closes_the_socket(
    contexts: Contexts,
) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        with listening_socket() as listener:
            port = listener.getsockname()[1]
            connecting = asyncio.create_task(open_tls(port, contexts.client))
            conn, _ = await loop.sock_accept(listener)
            with conn:
                hello = await loop.sock_recv(conn, 4096)
                assert hello[:1] == b"\x16"  # a TLS handshake record: the ClientHello
                connecting.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await connecting
                await read_until_closed(conn)

    run(main)


# --- 7. failing protocol callbacks ------------------------------------------------------


class Boom(Exception):
    pass


class FailsInDataReceived(Recorder):
    def data_received(self, data: bytes) -> None:
        raise Boom("data_received")


class FailsInGetBuffer(BufferedRecorder):
    def __init__(self) -> None:
        super().__init__(4096)

    def get_buffer(self, sizehint: int) -> bytearray:
        raise Boom("get_buffer")


class FailsInBufferUpdated(BufferedRecorder):
    def __init__(self) -> None:
        super().__init__(4096)

    def buffer_updated(self, nbytes: int) -> None:
        raise Boom("buffer_updated")


class GivesReadOnlyBuffer(BufferedRecorder):
    def __init__(self) -> None:
        super().__init__(4096)

    def get_buffer(self, sizehint: int) -> bytes:  # type: ignore[override]
        return bytes(4096)  # OpenSSL cannot decrypt into it


@pytest.mark.parametrize(
    ("failing", "error"),
    [
        (FailsInDataReceived, Boom),
        (FailsInGetBuffer, Boom),
        (FailsInBufferUpdated, Boom),
        # Not only SSL and socket errors end a read: anything it raises does, once,
        # instead of escaping on every readiness callback while the socket stays
        # registered.
        (GivesReadOnlyBuffer, TypeError),
    ],
)
def test_a_protocol_callback_that_raises_closes_the_connection_and_is_reported(
    contexts: Contexts, failing: type[Recorder | BufferedRecorder], error: type[Exception]
) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        reports: list[dict[str, object]] = []
        loop.set_exception_handler(lambda _loop, context: reports.append(context))
        async with tls_server(contexts.server, failing) as (port, accepted):
            reader, writer = await open_tls(port, contexts.client)
            writer.write(b"trigger")
            server = await accepted.get()
            failure = await server.lost
            assert isinstance(failure, error)
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                assert await reader.read() == b""  # the connection ends for the peer too
            writer.close()
            await writer.wait_closed()
        (report,) = reports
        assert report["exception"] is failure
        assert report["transport"] is server.transport
        assert report["protocol"] is server
        assert server.calls == ["connection_made", "connection_lost"]

    run(main)


def test_key_updates_from_openssl_keep_the_stream_going_both_ways(
    contexts: Contexts, pki: GeneratedPki, tmp_path: Path, require_tool: Callable[[str], str]
) -> None:
    """TLS 1.3 KeyUpdate (RFC 8446 4.6.3) arrives in the middle of application data,
    and "K" asks for one back: OpenSSL answers it from inside a read, so a read that
    writes (and the writes after it, under new keys) must work. `openssl s_client`'s
    interactive "k" and "K" send them; every line is echoed before the next is sent."""
    openssl = require_tool("openssl")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(pki.ca_pem)

    async def main() -> list[str]:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while line := await reader.readline():
                writer.write(b"echo:" + line)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, HOST, 0, ssl=contexts.server)
        async with server:
            port = server.sockets[0].getsockname()[1]
            return await asyncio.to_thread(_converse, openssl, port, ca_file)

    seen = run(main)
    assert seen == ["echo:one", "KEYUPDATE", "echo:two", "KEYUPDATE", "echo:three"]


def _converse(openssl: str, port: int, ca_file: Path) -> list[str]:
    """Lines to `openssl s_client`, each after the previous one's answer; what it
    printed of echoes and key updates."""
    client = subprocess.Popen(
        [openssl, "s_client", "-connect", f"{HOST}:{port}", "-tls1_3", "-CAfile", str(ca_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert client.stdin is not None and client.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x.strip()) for x in client.stdout])
    reader.start()
    seen: list[str] = []

    def until(expected: str) -> None:
        while True:
            line = lines.get(timeout=PEER_TIMEOUT_S)
            if line.startswith("echo:") or line == "KEYUPDATE":
                seen.append(line)
            if line == expected:
                return

    try:
        for line, answer in (
            ("one", "echo:one"),
            ("K", "KEYUPDATE"),
            ("two", "echo:two"),
            ("k", "KEYUPDATE"),
            ("three", "echo:three"),
        ):
            client.stdin.write(line + "\n")
            client.stdin.flush()
            until(answer)
    finally:
        client.stdin.close()
        client.wait(PEER_TIMEOUT_S)
        reader.join(PEER_TIMEOUT_S)
        client.stdout.close()
    return seen


# --- 8. switching protocols -------------------------------------------------------------


class Feed(asyncio.BufferedProtocol):
    """Reads in place of a stream's protocol from some point on, as the runtime's
    `shell._DirectFeed` does: into its own buffer, everything else passed on."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._buffer = bytearray(64 * 1024)
        self.data = bytearray()
        self.arrived = asyncio.Event()

    def get_buffer(self, sizehint: int) -> bytearray:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data += memoryview(self._buffer)[:nbytes]
        self.arrived.set()

    def eof_received(self) -> bool | None:
        return self._stream.eof_received()  # type: ignore[no-any-return]

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stream.connection_lost(exc)

    def pause_writing(self) -> None:
        self._stream.pause_writing()

    def resume_writing(self) -> None:
        self._stream.resume_writing()


def test_switching_from_a_stream_to_a_buffered_protocol_mid_stream_keeps_every_byte_in_order(
    contexts: Contexts,
) -> None:
    sent = payload(15, 4 * MIB)
    head = 100_000

    async def main() -> None:
        got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            first = await reader.readexactly(head)
            transport = writer.transport
            feed = Feed(transport.get_protocol())
            transport.set_protocol(feed)
            reader.feed_eof()  # no more bytes reach the reader: what it holds comes first
            leftover = await reader.read()
            while len(first) + len(leftover) + len(feed.data) < len(sent):
                feed.arrived.clear()
                await feed.arrived.wait()
            got.set_result(first + leftover + bytes(feed.data))
            writer.write(b"thanks")  # the stream still writes after the switch
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, HOST, 0, ssl=contexts.server)
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await open_tls(port, contexts.client)
            writer.write(sent)
            await writer.drain()
            received = await got
            assert await reader.read() == b"thanks"
            writer.close()
            await writer.wait_closed()
        assert len(received) == len(sent)
        assert digest(received) == digest(sent)

    run(main)

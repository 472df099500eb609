"""The built-in runtime's loop: every way asyncio makes or upgrades a TLS connection
on a selector loop leads to a `DirectTlsTransport`, and data much larger than any
buffer crosses intact both ways on each; what the loop does not take over (a stream
with unsent bytes) asyncio still upgrades; `ssl=True` means asyncio's default
context. Real TLS on 127.0.0.1, certificates from the test PKI.

Why: `event_loop` hooks private asyncio methods (`_make_ssl_transport`, `start_tls`);
a path that silently fell back to asyncio's `SSLProtocol`, or a hook that lost the
bytes around an upgrade, would show only here."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import AsyncIterator

import pytest

from app.remoting.builtin import event_loop
from app.remoting.builtin.direct_tls import DirectTlsTransport
from tests.app.remoting.tls_loop_support import (
    DIRECT_TLS_ONLY,
    HOST,
    MIB,
    PEER_TIMEOUT_S,
    Contexts,
    digest,
    payload,
    run,
)

pytestmark = DIRECT_TLS_ONLY

SIZE = 4 * MIB  # each way: many times the loop's shared read buffer


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def send_and_receive(streams: Streams, outgoing: bytes) -> bytes:
    """Write `outgoing` while reading as many bytes from the other end."""
    reader, writer = streams

    async def send() -> None:
        writer.write(outgoing)
        await writer.drain()

    _, received = await asyncio.gather(send(), reader.readexactly(len(outgoing)))
    return received


@contextlib.asynccontextmanager
async def tls_pair(contexts: Contexts, path: str) -> AsyncIterator[tuple[Streams, Streams]]:
    """A TLS connection on this loop made the `path` way: (client, server) streams,
    the listener open until the block ends."""
    loop = asyncio.get_running_loop()
    served: asyncio.Queue[Streams] = asyncio.Queue()

    async def keep(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await served.put((reader, writer))

    async def starttls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert await reader.readline() == b"STARTTLS\n"
        writer.write(b"go ahead\n")
        await writer.start_tls(contexts.server)
        await served.put((reader, writer))

    if path == "connect_accepted_socket":
        with socket.create_server((HOST, 0)) as listener:
            listener.setblocking(False)
            connecting = asyncio.ensure_future(
                asyncio.open_connection(
                    HOST, listener.getsockname()[1], ssl=contexts.client, server_hostname=HOST
                )
            )
            conn, _ = await loop.sock_accept(listener)
            reader = asyncio.StreamReader()
            protocol = asyncio.StreamReaderProtocol(reader)
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol, conn, ssl=contexts.server
            )
            yield (
                await connecting,
                (reader, asyncio.StreamWriter(transport, protocol, reader, loop)),
            )
        return

    tls_listener = path != "start_tls_both_sides"
    server = await asyncio.start_server(
        keep if tls_listener else starttls,
        HOST,
        0,
        ssl=contexts.server if tls_listener else None,
    )
    async with server:
        port = server.sockets[0].getsockname()[1]
        if path == "start_server":
            client = await asyncio.open_connection(
                HOST, port, ssl=contexts.client, server_hostname=HOST
            )
        else:
            client = await asyncio.open_connection(HOST, port)
            if path == "start_tls_both_sides":
                client[1].write(b"STARTTLS\n")
                assert await client[0].readline() == b"go ahead\n"
            await client[1].start_tls(contexts.client, server_hostname=HOST)
        yield client, await served.get()


@pytest.mark.parametrize(
    "path",
    ["start_server", "connect_accepted_socket", "start_tls_client", "start_tls_both_sides"],
)
def test_large_data_crosses_intact_both_ways_on_every_tls_path(
    contexts: Contexts, path: str
) -> None:
    async def main() -> None:
        assert isinstance(asyncio.get_running_loop(), event_loop._DirectTlsSelectorLoop)
        async with tls_pair(contexts, path) as (client, server):
            assert isinstance(client[1].transport, DirectTlsTransport)
            assert isinstance(server[1].transport, DirectTlsTransport)
            to_server, to_client = payload(1, SIZE), payload(2, SIZE)
            at_server, at_client = await asyncio.gather(
                send_and_receive(server, to_client), send_and_receive(client, to_server)
            )
            assert digest(at_server) == digest(to_server)
            assert digest(at_client) == digest(to_client)
            client[1].close()
            assert await server[0].read() == b""  # the client's close_notify: end of stream
            server[1].close()
            await asyncio.gather(client[1].wait_closed(), server[1].wait_closed())

    run(main)


def recv_exactly(sock: socket.socket, count: int) -> bytes:
    chunks, missing = [], count
    while missing:
        chunk = sock.recv(min(missing, 1 << 20))
        assert chunk, f"the stream ended {missing} bytes short"
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


class PlainProtocol(asyncio.Protocol):
    """A bare protocol (no flow control of its own) that collects lines."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.news = asyncio.Event()
        self.lost = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.news.set()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost.set_result(exc)

    async def line(self) -> bytes:
        while b"\n" not in self.data:
            self.news.clear()
            await self.news.wait()
        return bytes(self.data)


def test_a_plain_stream_with_unsent_bytes_is_upgraded_by_asyncio_itself(
    contexts: Contexts,
) -> None:
    """The loop takes over only a plain transport with nothing left to send (it goes
    on with a duplicate of the socket); otherwise those bytes must still go out first,
    before the handshake, which asyncio's own upgrade does."""
    plain = payload(3, SIZE)

    def peer(listener: socket.socket, go: threading.Event) -> bytes:
        conn, _ = listener.accept()
        with conn:
            assert go.wait(PEER_TIMEOUT_S)
            conn.settimeout(PEER_TIMEOUT_S)
            received = recv_exactly(conn, len(plain))
            tls = contexts.server.wrap_socket(conn, server_side=True)
        with tls:
            line = tls.recv(100)
            tls.sendall(b"echo " + line)
            assert tls.recv(100) == b""  # close_notify
            tls.unwrap()
            return received

    async def main() -> None:
        loop = asyncio.get_running_loop()
        go = threading.Event()
        with socket.create_server((HOST, 0)) as listener:
            listener.settimeout(PEER_TIMEOUT_S)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            received = asyncio.create_task(asyncio.to_thread(peer, listener, go))
            transport, protocol = await loop.create_connection(
                PlainProtocol, HOST, listener.getsockname()[1]
            )
            # Never paused: asyncio's SSLProtocol fails on the resume_writing() meant for
            # the protocol before it (CPython's own start_tls issue, not the loop's).
            transport.set_write_buffer_limits(high=2 * len(plain))
            transport.write(plain)  # the peer is not reading yet: most of it stays queued
            assert transport.get_write_buffer_size() > 0
            go.set()  # the loop does not run before start_tls has chosen its way
            upgraded = await loop.start_tls(
                transport, protocol, contexts.client, server_hostname=HOST
            )
            assert not isinstance(upgraded, DirectTlsTransport)
            upgraded.write(b"over TLS\n")
            assert await protocol.line() == b"echo over TLS\n"
            upgraded.close()
            await protocol.lost
            assert digest(await received) == digest(plain)

    run(main)


def test_ssl_true_means_asyncios_default_context(contexts: Contexts) -> None:
    """`open_connection(ssl=True)`: a default context that verifies against the
    system's authorities, which do not include the test CA."""

    async def main() -> None:
        async def handle(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        server = await asyncio.start_server(handle, HOST, 0, ssl=contexts.server)
        async with server:
            port = server.sockets[0].getsockname()[1]
            with pytest.raises(ssl.SSLCertVerificationError):
                await asyncio.open_connection(HOST, port, ssl=True)

    run(main)


def test_start_tls_refused_before_any_handshake_leaves_the_plain_stream_as_it_was(
    contexts: Contexts,
) -> None:
    """As with asyncio's upgrade: an upgrade refused outright (here a client context
    that checks host names, given none) raises, and the plain stream still works."""

    async def main() -> None:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while line := await reader.readline():
                writer.write(line)
            writer.close()

        server = await asyncio.start_server(echo, HOST, 0)
        async with server:
            reader, writer = await asyncio.open_connection(HOST, server.sockets[0].getsockname()[1])
            with pytest.raises(ValueError, match="server_hostname"):
                await writer.start_tls(contexts.client)
            writer.write(b"still plain\n")
            assert await reader.readline() == b"still plain\n"
            writer.close()
            await writer.wait_closed()

    run(main)

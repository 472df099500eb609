"""The built-in runtime's event loop: asyncio's selector loop whose TLS connections
are `direct_tls.DirectTlsTransport`s (OpenSSL on the socket) instead of asyncio's
`SSLProtocol` (OpenSSL between two memory BIOs).

Why: docs/benchmarks.md, "Direct TLS transport": the memory-BIO layer was the
busiest code on the open session's receiving thread and a good part of a
listener's CPU per handshake. It also allocated (and zero-filled) a 256 KiB buffer
per accepted connection, most of a listener's memory with a few hundred idle or
slow peers; here connections served by a plain `Protocol` share one read buffer
per loop, and a `BufferedProtocol` (the open session's `shell._DirectFeed`) is
decrypted straight into its own.

asyncio has no public hook for this. A selector loop builds every TLS transport in
`_make_ssl_transport` (accepted connections, `connect_accepted_socket`,
`create_connection(ssl=...)`), unchanged from 3.11 to 3.13, and upgrades a
connected stream in `start_tls` (the client's handshake port, then its transport
port). On a loop that is not a selector loop (Windows' proactor) nothing changes.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from asyncio import constants, selector_events, sslproto
from typing import Any

from app.remoting.builtin.direct_tls import DirectTlsTransport

# Decrypted bytes read per wake-up for a plain Protocol (copied out at once, so one
# buffer serves every connection of the loop): sixteen maximal TLS records.
SHARED_READ_BUFFER_BYTES = 256 * 1024


class _NoProtocol(asyncio.Protocol):
    """Hears the end of a plain transport whose socket went on to TLS."""


class _DirectTlsSelectorLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        super().__init__()
        self._tls_read_view = memoryview(bytearray(SHARED_READ_BUFFER_BYTES))

    def _make_ssl_transport(
        self,
        rawsock: Any,
        protocol: Any,
        sslcontext: Any,
        waiter: Any = None,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
        extra: Any = None,
        server: Any = None,
        ssl_handshake_timeout: Any = constants.SSL_HANDSHAKE_TIMEOUT,
        ssl_shutdown_timeout: Any = constants.SSL_SHUTDOWN_TIMEOUT,
        call_connection_made: bool = True,
    ) -> Any:
        if not sslcontext:  # ssl=True: asyncio's default context, as its SSLProtocol makes
            sslcontext = sslproto._create_transport_context(server_side, server_hostname)
        return DirectTlsTransport(
            self,
            rawsock,
            protocol,
            sslcontext,
            waiter,
            read_buffer=self._tls_read_view,
            server_side=server_side,
            server_hostname=server_hostname or None,
            extra=extra,
            server=server,
            handshake_timeout=ssl_handshake_timeout,
            shutdown_timeout=ssl_shutdown_timeout,
            call_connection_made=call_connection_made,
        )

    async def start_tls(
        self,
        transport: asyncio.BaseTransport,
        protocol: asyncio.BaseProtocol,
        sslcontext: ssl.SSLContext,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
    ) -> asyncio.Transport:
        """Upgrade a connected plain stream: its socket (a duplicate of the descriptor,
        so the plain transport's end closes nothing on the wire) goes on as a
        `DirectTlsTransport` for the same protocol. Anything else, or a stream with
        unsent bytes, is upgraded by asyncio as usual."""
        plain = selector_events._SelectorSocketTransport  # type: ignore[attr-defined]
        if (
            not isinstance(transport, plain)
            or transport.is_closing()
            or transport.get_write_buffer_size()
        ):
            upgraded = await super().start_tls(
                transport,
                protocol,
                sslcontext,
                server_side=server_side,
                server_hostname=server_hostname,
                ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout,
            )
            assert upgraded is not None
            return upgraded
        was_reading = transport.is_reading()
        transport.pause_reading()
        rawsock = transport._sock.dup()
        waiter: asyncio.Future[None] = self.create_future()
        try:
            tls = self._make_ssl_transport(
                rawsock,
                protocol,
                sslcontext,
                waiter,
                server_side=server_side,
                server_hostname=server_hostname,
                ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout,
                call_connection_made=False,
            )
        except BaseException:
            # Refused outright (say, no server_hostname for a context that checks it):
            # as with asyncio's upgrade, the plain stream goes on as it was.
            rawsock.close()
            if was_reading:
                transport.resume_reading()
            raise
        # Only now: the handshake starts on a later turn of the loop.
        transport.set_protocol(_NoProtocol())
        transport.abort()
        try:
            await waiter
        except BaseException:
            tls.abort()
            raise
        return tls  # type: ignore[no-any-return]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A loop for the runtime's thread: the direct-TLS selector loop where asyncio
    would make a selector loop, else asyncio's default."""
    if sys.platform == "win32":
        return asyncio.new_event_loop()
    return _DirectTlsSelectorLoop()

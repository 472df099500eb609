"""The built-in runtime's event loop: asyncio's own, with a smaller receive buffer
for the TLS connections its servers accept.

Why: CPython's `asyncio.sslproto.SSLProtocol` allocates (and zero-fills, so it is
resident) a 256 KiB buffer per TLS connection as soon as the connection is accepted.
A listener holding a few hundred idle or slow connections (probes, clients
waiting on the token question) spends most of its memory on those buffers: 200
connections cost about 58 MB with it and 19 MB with 64 KiB (docs/benchmarks.md).
A TLS record carries at most 16 KiB of plaintext (RFC 8446 5.1), so 64 KiB still
reads several records per wake-up. The one connection that carries the open
transport session goes back to 256 KiB (`_set_app_protocol`, when the transport
driver reads it through a buffered protocol): there a read per 64 KiB cost data
channels measurable throughput.

asyncio has no public hook for this; `_make_ssl_transport` is the one place a
selector loop builds the protocol for an accepted TLS connection (it is unchanged
from 3.11 to 3.13). Client connections (`start_tls`) keep asyncio's default. On a
loop that is not a selector loop (Windows' proactor) nothing changes.
"""

from __future__ import annotations

import asyncio
import sys
from asyncio import constants, selector_events, sslproto
from typing import Any

# Per accepted TLS connection; four maximal TLS records.
ACCEPTED_TLS_BUFFER_BYTES = 64 * 1024
# Once a connection carries the open transport session (one per listener): asyncio's
# default, so a busy link costs as few reads as on the client's end.
OPEN_SESSION_TLS_BUFFER_BYTES = 256 * 1024


class _AcceptedTlsProtocol(sslproto.SSLProtocol):
    max_size = ACCEPTED_TLS_BUFFER_BYTES

    def _set_app_protocol(self, app_protocol: Any) -> None:
        super()._set_app_protocol(app_protocol)
        # A buffered reader is the open transport session's (`shell._DirectFeed`):
        # that one connection reads as much per wake-up as a client connection does.
        if isinstance(app_protocol, asyncio.BufferedProtocol):
            # typeshed calls it a ClassVar; sslproto reads it through the instance.
            self.max_size = OPEN_SESSION_TLS_BUFFER_BYTES  # type: ignore[misc]


class _LeanTlsSelectorLoop(asyncio.SelectorEventLoop):
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
    ) -> Any:
        ssl_protocol = _AcceptedTlsProtocol(
            self,
            protocol,
            sslcontext,
            waiter,
            server_side,
            server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
        )
        selector_events._SelectorSocketTransport(  # type: ignore[attr-defined]
            self, rawsock, ssl_protocol, extra=extra, server=server
        )
        return ssl_protocol._app_transport


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A loop for the runtime's thread: the lean-buffer selector loop where asyncio
    would make a selector loop, else asyncio's default."""
    if sys.platform == "win32":
        return asyncio.new_event_loop()
    return _LeanTlsSelectorLoop()

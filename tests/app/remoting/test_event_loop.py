"""The built-in runtime's loop: accepted TLS connections get the small receive
buffer, and data larger than that buffer still crosses intact both ways (real TLS
on 127.0.0.1, certificates from the test PKI)."""

from __future__ import annotations

import asyncio
import ssl
import sys

import pytest

from app.remoting.builtin import event_loop
from app.security.certstore import server_tls_material
from app.security.testpki import GeneratedPki

PAYLOAD = bytes(range(256)) * 1024  # 256 KiB: four times the buffer


def _contexts(pki: GeneratedPki) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    from app.remoting.builtin import tls

    chain_pem, key_pem = server_tls_material(pki.pfx, pki.passphrase, pki.friendly_name)
    server = tls.server_context(chain_pem, key_pem)
    client = ssl.create_default_context(cadata=pki.ca_pem.decode())
    return server, client


@pytest.mark.skipif(sys.platform == "win32", reason="the proactor loop keeps asyncio's buffer")
def test_accepted_tls_connections_use_the_small_buffer_and_carry_large_data(
    pki: GeneratedPki,
) -> None:
    server_context, client_context = _contexts(pki)
    loop = event_loop.new_event_loop()
    seen: list[object] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(writer.transport._ssl_protocol)  # type: ignore[attr-defined]
        writer.write(await reader.readexactly(len(PAYLOAD)))
        await writer.drain()
        writer.close()

    async def main() -> bytes:
        server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client_context, server_hostname="127.0.0.1"
            )
            writer.write(PAYLOAD)
            await writer.drain()
            answer = await reader.readexactly(len(PAYLOAD))
            writer.close()
            return answer

    try:
        assert loop.run_until_complete(asyncio.wait_for(main(), 30)) == PAYLOAD
    finally:
        loop.close()
    (protocol,) = seen
    assert protocol.max_size == event_loop.ACCEPTED_TLS_BUFFER_BYTES  # type: ignore[attr-defined]
    assert len(protocol._ssl_buffer) <= event_loop.ACCEPTED_TLS_BUFFER_BYTES  # type: ignore[attr-defined]
    assert asyncio.sslproto.SSLProtocol.max_size > event_loop.ACCEPTED_TLS_BUFFER_BYTES

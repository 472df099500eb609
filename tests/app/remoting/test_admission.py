"""The admission gate in front of both listening ports (docs/security.md): per-address
and total connection budgets, the first-byte (slow-loris) timeout, plain text on a TLS
port, the TLS handshake timeout. Real sockets on 127.0.0.x; each refusal closes the
one peer and a well-behaved peer beside it is still served."""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager

import pytest
from cryptography.hazmat.primitives import serialization

from app.remoting.builtin import tls
from app.remoting.builtin.admission import PLAIN_TO_TLS_ANSWER, ConnectionBudget, Gate
from app.remoting.builtin.server import bind_listening_socket
from app.security.testpki import GeneratedPki

WAIT_S = 10.0  # a bound on every wait below; nothing here is timed


def run_async(test: Callable[..., Coroutine[None, None, None]]) -> Callable[..., None]:
    """Run an async test in its own loop (pytest's fixtures still reach it)."""

    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def test_budget_counts_per_address_and_in_total() -> None:
    budget = ConnectionBudget(per_address=2, total=3)
    assert budget.admit("10.0.0.1") == ""
    assert budget.admit("10.0.0.1") == ""
    assert "from this address" in budget.admit("10.0.0.1")
    assert budget.admit("10.0.0.2") == ""
    assert "3 connections" in budget.admit("10.0.0.3")
    budget.release("10.0.0.1")
    assert budget.held("10.0.0.1") == 1
    assert budget.admit("10.0.0.3") == ""
    assert len(budget) == 3
    budget.release("10.0.0.9")  # never admitted: no effect
    assert len(budget) == 3
    with pytest.raises(ValueError, match="per_address"):
        ConnectionBudget(per_address=5, total=2)


class Echo:
    """A handler that answers one line with the same line, then closes."""

    def __init__(self) -> None:
        self.served = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        writer.write(line)
        await writer.drain()
        self.served += 1
        writer.close()


@asynccontextmanager
async def gate(
    context: ssl.SSLContext | None, **kwargs: float | ConnectionBudget
) -> AsyncIterator[tuple[int, list[str], Echo]]:
    notes: list[str] = []
    echo = Echo()
    budget = kwargs.pop("budget", ConnectionBudget())
    assert isinstance(budget, ConnectionBudget)
    the_gate = Gate(budget=budget, context=context, handler=echo, note=notes.append, **kwargs)  # type: ignore[arg-type]
    sock = bind_listening_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    the_gate.start(sock)
    try:
        yield port, notes, echo
    finally:
        the_gate.close()
        for task in list(the_gate.tasks):
            task.cancel()
        await asyncio.gather(*the_gate.tasks, return_exceptions=True)


async def connect(
    port: int, source: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), WAIT_S
    )


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent until it closed (raises if it never closes)."""
    try:
        return await asyncio.wait_for(reader.read(), WAIT_S)
    except ConnectionResetError:
        return b""


async def echo_through(port: int, source: str, context: ssl.SSLContext | None = None) -> bytes:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(
            "127.0.0.1",
            port,
            local_addr=(source, 0),
            ssl=context,
            server_hostname="localhost" if context else None,
        ),
        WAIT_S,
    )
    writer.write(b"hello\n")
    answer = await asyncio.wait_for(reader.readline(), WAIT_S)
    writer.close()
    return answer


def server_context(pki: GeneratedPki) -> ssl.SSLContext:
    key = pki.server.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return tls.server_context(pki.chain_pem, key)


def client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@run_async
async def test_a_silent_connection_is_closed_and_another_peer_is_served() -> None:
    async with gate(None, first_byte_timeout=0.3) as (port, notes, echo):
        silent_reader, _ = await connect(port, "127.0.0.2")
        assert await echo_through(port, "127.0.0.1") == b"hello\n"
        assert await closed_by_server(silent_reader) == b""
    assert any("127.0.0.2: nothing received in 0.3 s" in note for note in notes), notes
    assert echo.served == 1


@run_async
async def test_per_address_budget_closes_the_extra_connection_only() -> None:
    budget = ConnectionBudget(per_address=2, total=10)
    async with gate(None, budget=budget, first_byte_timeout=WAIT_S) as (port, notes, _):
        held = [await connect(port, "127.0.0.3") for _ in range(2)]
        extra_reader, _ = await connect(port, "127.0.0.3")
        assert await closed_by_server(extra_reader) == b""
        # Another address is served while the first holds its two.
        assert await echo_through(port, "127.0.0.4") == b"hello\n"
        # The held ones are still open and served.
        reader, writer = held[0]
        writer.write(b"still here\n")
        assert await asyncio.wait_for(reader.readline(), WAIT_S) == b"still here\n"
        for _, w in held:
            w.close()
    assert any("127.0.0.3 at once: 2 connections from this address" in n for n in notes), notes


@run_async
async def test_total_budget_closes_new_connections_until_one_ends() -> None:
    budget = ConnectionBudget(per_address=2, total=2)
    async with gate(None, budget=budget, first_byte_timeout=WAIT_S) as (port, notes, _):
        first = await connect(port, "127.0.0.5")
        await connect(port, "127.0.0.6")
        extra_reader, _ = await connect(port, "127.0.0.7")
        assert await closed_by_server(extra_reader) == b""
        first[1].write(b"bye\n")
        assert await asyncio.wait_for(first[0].readline(), WAIT_S) == b"bye\n"
        assert await closed_by_server(first[0]) == b""
        # The slot it held is free again (released before the close reached us).
        assert await echo_through(port, "127.0.0.7") == b"hello\n"
    assert any("2 connections are already waiting" in note for note in notes), notes


@run_async
async def test_plain_http_to_the_tls_port_gets_a_plain_400(pki: GeneratedPki) -> None:
    async with gate(server_context(pki)) as (port, notes, _):
        reader, writer = await connect(port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await closed_by_server(reader)
        assert await echo_through(port, "127.0.0.1", client_context()) == b"hello\n"
    assert answer == PLAIN_TO_TLS_ANSWER
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert any("plain text from 127.0.0.1 on the TLS port" in note for note in notes), notes


@run_async
async def test_an_unfinished_tls_handshake_is_closed(pki: GeneratedPki) -> None:
    async with gate(server_context(pki), tls_handshake_timeout=0.3) as (port, notes, _):
        reader, writer = await connect(port, "127.0.0.8")
        writer.write(b"\x16\x03\x01")  # the start of a TLS record, then nothing
        assert await closed_by_server(reader) == b""
        assert await echo_through(port, "127.0.0.1", client_context()) == b"hello\n"
    assert any("TLS handshake from 127.0.0.8 failed" in note for note in notes), notes

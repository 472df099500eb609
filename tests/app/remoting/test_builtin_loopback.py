"""Two built-in runtimes on 127.0.0.1: the happy paths."""

from __future__ import annotations

import json

from app.endpoint.events import Connected, Disconnected, Listening, StateChanged, records_in
from app.security.testpki import GeneratedPki
from app.xr.values import ConnectionState, DisconnectReason
from tests.app.remoting.remoting_support import (
    TOKEN,
    WAIT_S,
    assert_reason,
    callbacks_of,
    chain_der,
    client_session,
    disconnected,
    outcome,
    run,
    server_session,
    start_listening,
)

SUCCESS = "XR_SUCCESS"
SHORT = "XR_ERROR_SIZE_INSUFFICIENT"


def test_secure_loopback_fires_each_callback_once_in_protocol_order(pki: GeneratedPki) -> None:
    long_token = TOKEN * 4  # over the runtime's first 64-byte buffer: two calls

    async def scenario() -> None:
        server = server_session(pki, tokens=(long_token,))
        listening = await start_listening(server)
        client = client_session(listening.port, pki, token=long_token)
        await client.start()
        assert isinstance(await outcome(client), Connected)
        assert isinstance(await outcome(server), Connected)
        assert client.state == server.state == ConnectionState.CONNECTED
        assert client.runtime.get_connection_state()[0] == ConnectionState.CONNECTED

        # The call sequence, including the two-call idiom's first, short calls.
        assert callbacks_of(server) == [
            ("RequestServerCertificate", SHORT),
            ("RequestServerCertificate", SUCCESS),
            ("ValidateAuthenticationToken", SUCCESS),
        ]
        assert callbacks_of(client) == [
            ("ValidateServerCertificate", SUCCESS),
            ("RequestAuthenticationToken", SHORT),
            ("RequestAuthenticationToken", SUCCESS),
        ]
        # "Fired once" = one completed call each, in the order the protocol implies:
        # certificate (server, at listen) -> validation (client, after TLS) -> token
        # (client, after the challenge) -> token validation (server).
        completed = sorted(
            (record.started_at, record.callback)
            for s in (server, client)
            for record in records_in(s.history)
            if record.result_name == SUCCESS
        )
        assert [name for _, name in completed] == [
            "RequestServerCertificate",
            "ValidateServerCertificate",
            "RequestAuthenticationToken",
            "ValidateAuthenticationToken",
        ]
        validation = next(
            record
            for record in records_in(client.history)
            if record.callback == "ValidateServerCertificate"
        )
        assert len(validation.chain) == 3  # leaf, intermediate, root: the whole chain
        assert validation.chain == chain_der(pki)
        assert validation.inputs["hostName"] == "127.0.0.1"
        assert validation.inputs["systemValidationResult"]["trustedRoot"] is True

        mark_c, mark_s = client.event_count, server.event_count
        await client.disconnect()
        # The runtime state is accurate when the call returns.
        assert client.runtime.get_connection_state()[0] == ConnectionState.DISCONNECTED
        assert_reason(await disconnected(client, mark_c), DisconnectReason.DISCONNECT_REQUEST)
        assert_reason(await disconnected(server, mark_s), DisconnectReason.PEER_DISCONNECT_REQUEST)
        assert server.runtime.get_connection_state() == (
            ConnectionState.DISCONNECTED,
            DisconnectReason.PEER_DISCONNECT_REQUEST,
        )
        states = [e.state for e in client.history if isinstance(e, StateChanged)]
        assert states == [
            ConnectionState.CONNECTING,
            ConnectionState.CONNECTED,
            ConnectionState.DISCONNECTED,
        ]
        # Nothing secret in any event.
        for session in (client, server):
            text = json.dumps([e.to_json() for e in session.history]) + repr(session.history)
            assert long_token not in text and pki.passphrase not in text
        await client.aclose()
        await server.aclose()

    run(scenario())


def test_plain_loopback_calls_no_callbacks(pki: GeneratedPki) -> None:
    async def scenario() -> None:
        server = server_session(None, secure=False)
        listening = await start_listening(server)
        assert listening.transport_port and listening.transport_port != listening.port
        client = client_session(listening.port, None, secure=False)
        await client.start()
        assert isinstance(await outcome(client), Connected)
        assert isinstance(await outcome(server), Connected)
        assert callbacks_of(client) == callbacks_of(server) == []
        mark = client.event_count
        await server.disconnect()
        assert_reason(await disconnected(client, mark), DisconnectReason.PEER_DISCONNECT_REQUEST)
        await client.aclose()
        await server.aclose()

    run(scenario())


def test_listener_listens_again_after_a_session(pki: GeneratedPki) -> None:
    async def scenario() -> None:
        server = server_session(pki)
        listening = await start_listening(server)
        for _ in range(2):
            client = client_session(listening.port, pki)
            await client.start()
            assert isinstance(await outcome(client), Connected)
            mark = server.event_count
            await client.aclose()  # disconnects first
            assert_reason(
                await disconnected(server, mark), DisconnectReason.PEER_DISCONNECT_REQUEST
            )
            assert server.state == ConnectionState.DISCONNECTED
            # Listen again (ephemeral ports: the OS picks new ones).
            mark = server.event_count
            await server.start()
            again = await server.wait_for(lambda e: isinstance(e, Listening), WAIT_S, after=mark)
            assert isinstance(again, Listening)
            listening = again
        await server.aclose()

    run(scenario())


def test_close_is_idempotent_and_state_is_disconnected(pki: GeneratedPki) -> None:
    async def scenario() -> None:
        server = server_session(pki)
        await start_listening(server)
        assert server.state == ConnectionState.CONNECTING
        await server.aclose()
        await server.aclose()
        server.runtime.close()
        assert server.runtime.get_connection_state()[0] == ConnectionState.DISCONNECTED
        # Stopping a listener with no client is this end's own request.
        assert any(
            isinstance(e, Disconnected) and e.reason == DisconnectReason.DISCONNECT_REQUEST
            for e in server.history
        )

    run(scenario())

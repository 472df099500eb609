"""The per-address token throttle over real sockets (127.0.0.1): it lives in the
runtime, so it survives the listens that refused tokens end; a blocked address is
answered 429 without ValidateAuthenticationToken, and the listen goes on."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import secrets
import ssl

import pytest

from app.endpoint.events import Disconnected, Listening, Note, records_in
from app.endpoint.session import Session
from app.remoting.builtin.protocol import (
    AUTH_BASE_BLOCK_SECONDS,
    AUTH_MAX_FAILURES,
    HANDSHAKE_PATH,
    RETRY_AFTER_HEADER,
    ROLE_HEADER,
    VERSION_HEADER,
)
from app.security.testpki import GeneratedPki
from app.xr.values import ConnectionState, DisconnectReason
from tests.app.remoting.remoting_support import (
    TOKEN,
    WAIT_S,
    assert_reason,
    client_session,
    disconnected,
    outcome,
    run,
    server_session,
    start_listening,
)

R = DisconnectReason


def _post_token(port: int, pki: GeneratedPki, token: str) -> tuple[int, str | None]:
    """One authorized POST over TLS with the standard library: status, Retry-After."""
    context = ssl.create_default_context(cadata=pki.ca_pem.decode())
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=WAIT_S)
    headers = {VERSION_HEADER: "1", ROLE_HEADER: "remote", "Authorization": f"Bearer {token}"}
    try:
        connection.request("POST", HANDSHAKE_PATH, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader(RETRY_AFTER_HEADER)
    finally:
        connection.close()


async def _connect(port: int, pki: GeneratedPki, token: str) -> tuple[Session, Disconnected]:
    client = client_session(port, pki, token=token)
    await client.start()
    event = await outcome(client)
    assert isinstance(event, Disconnected), event
    await client.aclose()
    return client, event


def _validations(server: Session) -> list[bool]:
    return [
        record.outputs["tokenValidOut"]
        for record in records_in(server.history)
        if record.callback == "ValidateAuthenticationToken"
    ]


def test_wrong_tokens_then_the_right_one_is_answered_429_without_the_callback(
    pki: GeneratedPki, caplog: pytest.LogCaptureFixture
) -> None:
    """AUTH_MAX_FAILURES (5) wrong tokens from 127.0.0.1, each ending its listen, then
    the right one within the block."""
    caplog.set_level(logging.DEBUG)
    wrong = [f"wrong-{n}-{secrets.token_urlsafe(16)}" for n in range(AUTH_MAX_FAILURES)]
    clients: list[Session] = []
    details: list[str] = []

    async def scenario() -> None:
        server = server_session(pki)
        port = (await start_listening(server)).port
        for token in wrong:
            mark = server.event_count
            client, event = await _connect(port, pki, token)
            clients.append(client)
            assert_reason(event, R.AUTHENTICATION_FAILED)
            # Each refusal ends that listen (Microsoft's semantics); listen again, as
            # the CLI does. The throttle is the runtime's, so it carries over.
            assert_reason(await disconnected(server, after=mark), R.AUTHENTICATION_FAILED)
            details.append(server.runtime.last_disconnect_detail)  # type: ignore[attr-defined]
            mark = server.event_count
            await server.start()
            again = await server.wait_for(lambda e: isinstance(e, Listening), WAIT_S, after=mark)
            assert isinstance(again, Listening)
            port = again.port
        assert _validations(server) == [False] * AUTH_MAX_FAILURES
        assert f"127.0.0.1 is blocked for {int(AUTH_BASE_BLOCK_SECONDS)} s" in details[-1]

        # The right token, within the block: 429, and the callback is not called.
        mark = server.event_count
        client, event = await _connect(port, pki, TOKEN)
        clients.append(client)
        assert_reason(event, R.AUTHENTICATION_FAILED)
        told = [e for e in client.history if isinstance(e, Note) and "try again in" in e.message]
        assert len(told) == 1, [e for e in client.history if isinstance(e, Note)]
        wait = int(told[0].message.rsplit("try again in ", 1)[1].removesuffix(" s"))
        assert 0 < wait <= AUTH_BASE_BLOCK_SECONDS
        # ... said before the disconnect, so `connect` prints it just above that line.
        assert client.history.index(told[0]) < client.history.index(event)
        assert "too many failed attempts" in client.runtime.last_disconnect_detail  # type: ignore[attr-defined]
        note = await server.wait_for(
            lambda e: isinstance(e, Note) and "too many refused tokens" in e.message,
            WAIT_S,
            after=mark,
        )
        assert isinstance(note, Note) and "from 127.0.0.1" in note.message
        assert _validations(server) == [False] * AUTH_MAX_FAILURES

        # The listen goes on: no disconnect, still listening, and it answers the next
        # request (429 again, with the time left in Retry-After).
        status, retry = await asyncio.to_thread(_post_token, port, pki, TOKEN)
        assert status == 429 and retry is not None and 0 < int(retry) <= wait
        assert not any(isinstance(e, Disconnected) for e in server.history[mark:])
        assert server.runtime.get_connection_state()[0] == ConnectionState.CONNECTING
        assert _validations(server) == [False] * AUTH_MAX_FAILURES

        # Nothing the throttle said holds a token: events, notes, details, its repr.
        texts = [json.dumps([e.to_json() for e in s.history], default=str) for s in clients]
        texts.append(json.dumps([e.to_json() for e in server.history], default=str))
        texts += [repr(e) for s in (server, *clients) for e in s.history]
        texts += details + [c.runtime.last_disconnect_detail for c in clients]  # type: ignore[attr-defined]
        texts.append(repr(vars(server.runtime)["_token_throttle"]))
        everything = "\n".join(texts)
        assert "too many" in everything and "127.0.0.1" in everything
        for token in (*wrong, TOKEN):
            assert token not in everything
        await server.aclose()

    run(scenario())
    for token in (*wrong, TOKEN):
        assert token not in caplog.text

"""The handshake cores fed bytes: whole, 10 bytes and 1 byte at a time (h11's
`test_against_stdlib_http.py` habit), and every kind of bad peer bytes. No sockets,
no clock: time is the `now` argument. Nothing may raise; every outcome is an event
with the reason the shell reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import h11
import pytest

from app.remoting.builtin.handshake import (
    ChallengeReceived,
    ClientAdmitted,
    ClientHandshake,
    ClientRefused,
    HandshakeAccepted,
    HandshakeFailed,
    HandshakeTimedOut,
    PeerClosed,
    ServerHandshake,
    SessionGrants,
    TokenPresented,
    new_session_id,
)
from app.remoting.builtin.protocol import (
    HANDSHAKE_PATH,
    MAX_BODY_BYTES,
    MAX_HEAD_BYTES,
    PROBE_HEADER,
    ROLE_HEADER,
    SUPPORTED_VERSIONS_HEADER,
    VERSION_HEADER,
)
from app.xr.values import DisconnectReason

R = DisconnectReason
TOKEN = "correct-horse-battery-staple"
SESSION_ID = new_session_id(bytes(range(32)))
SIZES = [1, 10, None]  # None: all at once


def chunks(data: bytes, size: int | None) -> Iterator[bytes]:
    """`data` in pieces; nothing for no data (b"" would mean the peer closed)."""
    if size is None:
        if data:
            yield data
        return
    for start in range(0, len(data), size):
        yield data[start : start + size]


def feed(core: ClientHandshake | ServerHandshake, data: bytes, size: int | None, now=0.0) -> None:
    for piece in chunks(data, size):
        core.receive_data(piece, now)


def drain(core: ClientHandshake | ServerHandshake) -> list[Any]:
    events = []
    while (event := core.next_event()) is not None:
        events.append(event)
    return events


def new_client(role: str = "remote", **kwargs: Any) -> ClientHandshake:
    return ClientHandshake(host="127.0.0.1", port=8265, role=role, now=0.0, timeout=30, **kwargs)  # type: ignore[arg-type]


def new_server(*, secure: bool = True, role: str = "player") -> ServerHandshake:
    return ServerHandshake(secure=secure, realm="lab-7", role=role, now=0.0, timeout=30)  # type: ignore[arg-type]


def exchange(
    size: int | None,
    *,
    secure: bool = True,
    client_role: str = "remote",
    server_role: str = "player",
    token: str = TOKEN,
) -> tuple[list[Any], list[Any]]:
    """Both cores against each other, bytes moved in `size` pieces."""
    client, server = new_client(client_role), new_server(secure=secure, role=server_role)
    client_events: list[Any] = []
    server_events: list[Any] = []
    for _ in range(6):
        feed(server, client.data_to_send(), size)
        while (event := server.next_event()) is not None:
            server_events.append(event)
            if isinstance(event, TokenPresented):
                server.token_verdict(event.token == TOKEN)
            elif isinstance(event, ClientAdmitted):
                server.accept(SESSION_ID, 8266, 10.0)
        feed(client, server.data_to_send(), size)
        while (event := client.next_event()) is not None:
            client_events.append(event)
            if isinstance(event, ChallengeReceived):
                client.send_token(token)
        if client.finished and server.finished:
            break
    assert client.finished and server.finished
    return client_events, server_events


# --- both cores, every read size ------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_secure_exchange_gives_the_same_events_at_every_read_size(size: int | None) -> None:
    client_events, server_events = exchange(size)
    assert client_events == [
        ChallengeReceived("lab-7"),
        HandshakeAccepted(1, "player", 8266, SESSION_ID),
    ]
    assert server_events == [TokenPresented(TOKEN), ClientAdmitted(1, "remote")]
    assert client_events[1].session_id == SESSION_ID


@pytest.mark.parametrize("size", SIZES)
def test_plain_exchange_at_every_read_size(size: int | None) -> None:
    client_events, server_events = exchange(size, secure=False)
    assert client_events == [HandshakeAccepted(1, "player", 8266, SESSION_ID)]
    assert server_events == [ClientAdmitted(1, "remote")]


@pytest.mark.parametrize("size", SIZES)
def test_refusals_give_each_side_its_reason_at_every_read_size(size: int | None) -> None:
    client_events, server_events = exchange(size, token="wrong-token")
    assert [type(e) for e in client_events] == [ChallengeReceived, HandshakeFailed]
    assert client_events[1].reason == R.AUTHENTICATION_FAILED
    assert server_events[-1] == ClientRefused(401, "the token was refused", R.AUTHENTICATION_FAILED)

    client_events, server_events = exchange(size, client_role="player")
    assert client_events[0].reason == R.HANDSHAKE_FAILED
    assert server_events[0].status == 409 and server_events[0].reason == R.HANDSHAKE_FAILED


# --- the client fed bad answers --------------------------------------------------------


def answer(status: int, body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    head = f"HTTP/1.1 {status} Whatever\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def admitted(**changes: Any) -> bytes:
    body: dict[str, Any] = {
        "protocolVersion": 1,
        "role": "player",
        "transportPort": 8266,
        "sessionId": SESSION_ID,
        "expiresIn": 10.0,
    }
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return answer(200, json.dumps(body).encode())


CHALLENGE = ("WWW-Authenticate", 'Bearer realm="lab-7"')
BAD_ANSWERS = {
    "garbage instead of HTTP": (b"SSH-2.0-OpenSSH_9.6\r\n", R.HANDSHAKE_CONNECTION_FAILED),
    "a TLS alert (the server speaks TLS)": (b"\x15\x03\x03\x00\x02\x02\x46", None),
    "oversized head": (
        b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * (MAX_HEAD_BYTES + 10) + b"\r\n\r\n",
        R.HANDSHAKE_FAILED,
    ),
    "oversized body": (answer(200, b"{" + b" " * MAX_BODY_BYTES + b"}"), R.HANDSHAKE_FAILED),
    "bad Content-Length": (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", R.HANDSHAKE_FAILED),
    "duplicate Content-Length": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        R.HANDSHAKE_FAILED,
    ),
    "non-JSON 200 body": (answer(200, b"welcome!"), R.HANDSHAKE_FAILED),
    "JSON 200 body that is not an object": (answer(200, b"[1, 2]"), R.HANDSHAKE_FAILED),
    "missing sessionId": (admitted(sessionId=...), R.HANDSHAKE_FAILED),
    "short sessionId": (admitted(sessionId="abc"), R.HANDSHAKE_FAILED),
    "missing transportPort": (admitted(transportPort=...), R.HANDSHAKE_FAILED),
    "transportPort 0": (admitted(transportPort=0), R.HANDSHAKE_FAILED),
    "transportPort 70000": (admitted(transportPort=70000), R.HANDSHAKE_FAILED),
    "transportPort as text": (admitted(transportPort="8266"), R.HANDSHAKE_FAILED),
    "transportPort true": (admitted(transportPort=True), R.HANDSHAKE_FAILED),
    "unknown role": (admitted(role="admin"), R.HANDSHAKE_FAILED),
    "the client's own role": (admitted(role="remote"), R.HANDSHAKE_FAILED),
    "protocolVersion 2": (admitted(protocolVersion=2), R.REMOTING_VERSION_MISMATCH),
    "protocolVersion true": (admitted(protocolVersion=True), R.REMOTING_VERSION_MISMATCH),
    "missing protocolVersion": (admitted(protocolVersion=...), R.REMOTING_VERSION_MISMATCH),
    "401 without a challenge": (answer(401), R.HANDSHAKE_FAILED),
    "401 Basic challenge": (
        answer(401, headers=(("WWW-Authenticate", 'Basic realm="x"'),)),
        R.HANDSHAKE_FAILED,
    ),
    "duplicate challenge headers": (
        answer(401, headers=(CHALLENGE, CHALLENGE)),
        R.HANDSHAKE_FAILED,
    ),
    "401 invalid_token": (
        answer(401, headers=(("WWW-Authenticate", 'Bearer realm="x", error="invalid_token"'),)),
        R.AUTHENTICATION_FAILED,
    ),
    "400 unsupported version": (
        answer(
            400,
            b'{"error":"unsupported_protocol_version"}',
            ((SUPPORTED_VERSIONS_HEADER, "3,4"),),
        ),
        R.REMOTING_VERSION_MISMATCH,
    ),
    "409 same role": (answer(409, b'{"error":"same_role"}'), R.HANDSHAKE_FAILED),
    "503 busy": (answer(503, b'{"error":"busy"}'), R.HANDSHAKE_FAILED),
    "500 with a non-JSON body": (answer(500, b"<html>"), R.HANDSHAKE_FAILED),
    "closed before answering": (b"", R.HANDSHAKE_CONNECTION_FAILED),
    "closed in the middle of the body": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}",
        R.HANDSHAKE_FAILED,
    ),
    "closed in the middle of the head": (b"HTTP/1.1 200 OK\r\nConte", R.HANDSHAKE_FAILED),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", list(BAD_ANSWERS))
def test_client_turns_every_bad_answer_into_one_failure(case: str, size: int | None) -> None:
    data, reason = BAD_ANSWERS[case]
    client = new_client()
    assert client.data_to_send().startswith(b"POST " + HANDSHAKE_PATH.encode())
    feed(client, data, size)
    client.receive_data(b"", 0.0)  # then the server closes
    client.receive_data(b"more after the close", 0.0)  # and is ignored
    events = drain(client)
    assert len(events) == 1 and isinstance(events[0], HandshakeFailed), events
    assert events[0].reason == (reason or R.HANDSHAKE_CONNECTION_FAILED), events[0].detail
    assert client.finished and client.should_close and client.get_timer() is None


def test_client_version_mismatch_names_both_versions() -> None:
    client = new_client()
    feed(client, BAD_ANSWERS["400 unsupported version"][0], None)
    (event,) = drain(client)
    assert "version 1" in event.detail and "3,4" in event.detail


def test_client_refuses_a_token_that_cannot_travel_in_a_header() -> None:
    client = new_client()
    client.data_to_send()
    feed(client, answer(401, headers=(CHALLENGE,)), 10)
    assert drain(client) == [ChallengeReceived("lab-7")]
    client.send_token("has a space")
    (event,) = drain(client)
    assert event.reason == R.AUTHENTICATION_FAILED and "has a space" not in event.detail
    assert client.data_to_send() == b""  # nothing was sent


def test_client_timeout_by_now_alone() -> None:
    client = new_client()  # now=0, timeout=30
    client.handle_timer(29.9)
    assert drain(client) == [] and client.get_timer() == 30
    client.handle_timer(30.0)
    assert drain(client) == [HandshakeTimedOut()]
    late = new_client()
    feed(late, b"HTTP/1.1 2", 1, now=31.0)  # bytes arriving after the deadline
    assert drain(late) == [HandshakeTimedOut()]


# --- the server fed bad requests -------------------------------------------------------


def request(
    *,
    method: str = "POST",
    path: str = HANDSHAKE_PATH,
    headers: tuple[tuple[str, str], ...] | None = None,
    body: bytes = b"",
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    if headers is None:
        headers = (("Host", "127.0.0.1:8265"), (VERSION_HEADER, "1"), (ROLE_HEADER, "remote"))
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers + extra)]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("Authorization", f"Bearer {token}"),)


def status_of(data: bytes) -> tuple[int, dict[bytes, bytes]]:
    """Parse the server's answer with h11's client: it must be valid HTTP."""
    peer = h11.Connection(h11.CLIENT)
    peer.send(h11.Request(method="POST", target="/", headers=[("Host", "x")]))
    peer.receive_data(data)
    event = peer.next_event()
    assert isinstance(event, h11.Response), (event, data[:200])
    return event.status_code, dict(event.headers)


BAD_REQUESTS = {
    "garbage instead of HTTP": (b"hello there\r\n\r\n", 400, None),
    "oversized head": (request(extra=(("X-Pad", "a" * MAX_HEAD_BYTES),)), 431, None),
    "oversized body": (request(body=b"x" * (MAX_BODY_BYTES + 1)), 413, None),
    "bad Content-Length": (
        b"POST " + HANDSHAKE_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n",
        400,
        None,
    ),
    "wrong method": (request(method="GET"), 405, None),
    "wrong path": (request(path="/admin"), 404, None),
    "no version header": (
        request(headers=(("Host", "x"), (ROLE_HEADER, "remote"))),
        400,
        None,
    ),
    "duplicate version headers": (request(extra=((VERSION_HEADER, "1"),)), 400, None),
    "version not a number": (
        request(headers=(("Host", "x"), (VERSION_HEADER, "one"), (ROLE_HEADER, "remote"))),
        400,
        None,
    ),
    "oversized version number": (
        request(headers=(("Host", "x"), (VERSION_HEADER, "1" * 40), (ROLE_HEADER, "remote"))),
        400,
        None,
    ),
    "unknown role": (
        request(headers=(("Host", "x"), (VERSION_HEADER, "1"), (ROLE_HEADER, "admin"))),
        400,
        None,
    ),
    "unsupported version": (
        request(headers=(("Host", "x"), (VERSION_HEADER, "2"), (ROLE_HEADER, "remote"))),
        400,
        R.REMOTING_VERSION_MISMATCH,
    ),
    "same role": (
        request(headers=(("Host", "x"), (VERSION_HEADER, "1"), (ROLE_HEADER, "player"))),
        409,
        R.HANDSHAKE_FAILED,
    ),
    "same role, marked as a probe": (
        request(
            headers=(("Host", "x"), (VERSION_HEADER, "1"), (ROLE_HEADER, "player")),
            extra=((PROBE_HEADER, "1"),),
        ),
        409,
        None,
    ),
    "Basic credentials": (
        request(extra=(("Authorization", "Basic dXNlcjpwYXNz"),)),
        401,
        R.AUTHENTICATION_FAILED,
    ),
    "an oversized token": (request(extra=bearer("t" * 1024)), 401, R.AUTHENTICATION_FAILED),
    "a wrong token": (request(extra=bearer("wrong")), 401, R.AUTHENTICATION_FAILED),
    "a wrong token, marked as a probe": (
        request(extra=(*bearer("wrong"), (PROBE_HEADER, "doctor"))),
        401,
        None,
    ),
    "no token after the challenge": (request() + request(), 400, None),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_server_answers_every_bad_request_and_says_whether_it_ends_the_listen(
    case: str, size: int | None
) -> None:
    data, status, reason = BAD_REQUESTS[case]
    server = new_server()
    feed(server, data, size)
    events = drain(server)
    if events and isinstance(events[0], TokenPresented):
        assert events[0].token == "wrong"
        server.token_verdict(False)
        events = events[1:] + drain(server)
    assert len(events) == 1 and isinstance(events[0], ClientRefused), events
    assert (events[0].status, events[0].reason) == (status, reason), events[0].detail
    assert server.finished and server.should_close
    out = server.data_to_send()
    if case == "no token after the challenge":
        first, _ = status_of(out)
        assert first == 401
        out = out[out.index(b"HTTP/1.1 400") :]
    answered, headers = status_of(out)
    assert answered == status
    assert headers.get(b"connection") == b"close"
    if status == 405:
        assert headers[b"allow"] == b"POST"
    if reason == R.REMOTING_VERSION_MISMATCH:
        assert headers[SUPPORTED_VERSIONS_HEADER.lower().encode()] == b"1"
    server.receive_data(b"more", 1.0)  # after the refusal: ignored, no exception
    assert drain(server) == []


def test_server_answers_a_tls_client_on_a_plain_port_at_once() -> None:
    server = new_server(secure=False)
    server.receive_data(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 0.0)
    (event,) = drain(server)
    assert isinstance(event, ClientRefused) and (event.status, event.reason) == (400, None)
    assert status_of(server.data_to_send())[0] == 400


@pytest.mark.parametrize("size", SIZES)
def test_server_peer_closed_and_half_requests(size: int | None) -> None:
    server = new_server()
    server.receive_data(b"", 0.0)
    assert drain(server) == [PeerClosed()]
    half = new_server()
    feed(half, request()[:25], size)
    half.receive_data(b"", 0.0)
    (event,) = drain(half)
    assert isinstance(event, PeerClosed | ClientRefused)
    assert getattr(event, "reason", None) is None  # never ends the listen


def test_server_timeout_by_now_alone() -> None:
    server = new_server()
    feed(server, request()[:30], 1, now=29.0)
    assert drain(server) == []
    server.handle_timer(30.0)
    assert drain(server) == [HandshakeTimedOut()]
    assert server.get_timer() is None


def test_server_challenge_keeps_the_connection_open_for_the_token() -> None:
    server = new_server()
    feed(server, request(), 10)
    assert drain(server) == [] and not server.finished
    status, headers = status_of(server.data_to_send())
    assert status == 401 and headers[b"www-authenticate"] == b'Bearer realm="lab-7"'
    assert b"connection" not in headers


# --- one-time session ids ---------------------------------------------------------------


def test_session_ids_are_single_use_and_expire_by_now() -> None:
    grants = SessionGrants()
    other = new_session_id(bytes(32))
    grants.issue(SESSION_ID, now=100.0, valid_for=10.0)
    assert not grants.consume(other, now=101.0)  # wrong id
    assert not grants.consume("", now=101.0)
    assert not grants.consume("é" * 43, now=101.0)  # not even ASCII: no exception
    assert grants.consume(SESSION_ID, now=101.0)
    assert not grants.consume(SESSION_ID, now=101.5)  # reused
    grants.issue(SESSION_ID, now=200.0, valid_for=10.0)
    assert not grants.consume(SESSION_ID, now=210.0)  # expired (now advanced)
    assert grants.expire(210.0) == 1 and len(grants) == 0
    grants.issue(SESSION_ID, now=300.0, valid_for=10.0)
    grants.issue(other, now=300.0, valid_for=10.0)
    assert grants.consume(other, now=301.0)
    assert not grants.consume(SESSION_ID, now=301.0)  # one session per listen

"""Property tests of the sans-I/O cores (hypothesis; profiles in tests/conftest.py):
whatever bytes a peer sends, in whatever pieces, the handshake and frame cores never
raise, always end within the bytes or the timer, answer only well-formed HTTP, and
never admit a peer the protocol must refuse."""

from __future__ import annotations

import itertools
from typing import Any

import h11
from hypothesis import given
from hypothesis import strategies as st

from app.remoting.builtin.frames import (
    DataReceived,
    HelloReceived,
    SessionOpened,
    TransportConnection,
    TransportEnded,
    encode_frame,
)
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
    TokenPresented,
    TokenThrottle,
)
from app.remoting.builtin.protocol import (
    HANDSHAKE_PATH,
    MAX_FRAME_PAYLOAD,
    ROLE_HEADER,
    VERSION_HEADER,
    FrameType,
)

TIMEOUT = 30.0
GOOD_REQUEST = (
    f"POST {HANDSHAKE_PATH} HTTP/1.1\r\nHost: 127.0.0.1:8265\r\n{VERSION_HEADER}: 1\r\n"
    f"{ROLE_HEADER}: remote\r\nContent-Length: 0\r\n\r\n"
).encode()
TOKEN_REQUEST = GOOD_REQUEST.replace(
    b"Content-Length: 0\r\n", b"Authorization: Bearer s3cret-token\r\nContent-Length: 0\r\n"
)
GOOD_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 103\r\n\r\n"
    b'{"expiresIn":10.0,"protocolVersion":1,"role":"player","sessionId":"'
    + b"A" * 43
    + b'","transportPort":8266}'
)[: -0 or None]


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` cut at the given offsets (the pieces a socket might deliver)."""
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


def mutated(base: bytes) -> st.SearchStrategy[bytes]:
    """`base` with bytes flipped, cut, or inserted: inputs near the valid ones, where
    parsers are most likely to go wrong."""
    edits = st.lists(
        st.tuples(st.integers(0, max(0, len(base) - 1)), st.integers(0, 255), st.integers(0, 2)),
        min_size=1,
        max_size=8,
    )

    def apply(changes: list[tuple[int, int, int]]) -> bytes:
        data = bytearray(base)
        for position, value, kind in changes:
            position = min(position, len(data))
            if kind == 0 and position < len(data):
                data[position] = value
            elif kind == 1:
                data.insert(position, value)
            elif position < len(data):
                del data[position]
        return bytes(data)

    return edits.map(apply)


peer_bytes = st.one_of(
    st.binary(max_size=4096),
    mutated(GOOD_REQUEST),
    mutated(TOKEN_REQUEST),
    st.builds(
        lambda a, b: a + b, st.sampled_from([GOOD_REQUEST, TOKEN_REQUEST]), st.binary(max_size=512)
    ),
)
cuts = st.lists(st.integers(0, 5000), max_size=12)


def drain(core: Any) -> list[Any]:
    events = []
    while (event := core.next_event()) is not None:
        events.append(event)
    return events


@given(data=peer_bytes, cut_at=cuts, secure=st.booleans(), close=st.booleans())
def test_server_handshake_survives_any_bytes(
    data: bytes, cut_at: list[int], secure: bool, close: bool
) -> None:
    throttle = TokenThrottle()
    core = ServerHandshake(
        secure=secure,
        realm="lab",
        role="player",
        now=0.0,
        timeout=TIMEOUT,
        peer="192.0.2.1",
        throttle=throttle,
    )
    events: list[Any] = []
    for piece in split(data, cut_at):
        core.receive_data(piece, 1.0)
        for event in drain(core):
            events.append(event)
            if isinstance(event, TokenPresented):
                # The application refuses every token here.
                core.token_verdict(False, "refused")
    if close:
        core.receive_data(b"", 2.0)
    core.handle_timer(TIMEOUT + 1.0)
    events += drain(core)
    # It always ended: on the bytes, on the close, or on the timer.
    assert core.finished
    assert events, "the core ended without saying why"
    assert isinstance(events[-1], (ClientRefused, HandshakeTimedOut, PeerClosed, ClientAdmitted))
    assert all(
        isinstance(
            e, (ClientRefused, HandshakeTimedOut, PeerClosed, ClientAdmitted, TokenPresented)
        )
        for e in events
    )
    if secure:
        # Every token was refused, so nobody was admitted.
        assert not any(isinstance(e, ClientAdmitted) for e in events)
    out = core.data_to_send()
    if out:
        # Whatever it answered is HTTP a client can parse.
        assert out.startswith(b"HTTP/1.1 ")
        client = h11.Connection(h11.CLIENT)
        client.send(
            h11.Request(method="POST", target="/", headers=[("Host", "x"), ("Content-Length", "0")])
        )
        client.send(h11.EndOfMessage())
        client.receive_data(out)
        assert isinstance(client.next_event(), (h11.InformationalResponse, h11.Response))


@given(data=peer_bytes)
def test_server_admits_only_a_request_it_must_admit_in_plain_mode(data: bytes) -> None:
    core = ServerHandshake(secure=False, realm="lab", role="player", now=0.0, timeout=TIMEOUT)
    core.receive_data(data, 1.0)
    admitted = [e for e in drain(core) if isinstance(e, ClientAdmitted)]
    if admitted:
        # Only a POST to the handshake path, with version 1 and the other role.
        request = h11.Connection(h11.SERVER)
        request.receive_data(data)
        event = request.next_event()
        assert isinstance(event, h11.Request)
        assert event.method == b"POST"
        assert event.target.split(b"?")[0] == HANDSHAKE_PATH.encode()
        headers = {name: value for name, value in event.headers}
        assert headers[VERSION_HEADER.lower().encode()] == b"1"
        assert headers[ROLE_HEADER.lower().encode()] == b"remote"
        assert admitted == [ClientAdmitted(1, "remote")]


server_bytes = st.one_of(
    st.binary(max_size=4096),
    mutated(GOOD_ANSWER),
    mutated(
        b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="lab"\r\nContent-Length: 2\r\n\r\n{}'
    ),
)


@given(data=server_bytes, cut_at=cuts, close=st.booleans())
def test_client_handshake_survives_any_answer(data: bytes, cut_at: list[int], close: bool) -> None:
    core = ClientHandshake(host="127.0.0.1", port=8265, role="remote", now=0.0, timeout=TIMEOUT)
    core.data_to_send()
    events: list[Any] = []
    for piece in split(data, cut_at):
        core.receive_data(piece, 1.0)
        for event in drain(core):
            events.append(event)
            if isinstance(event, ChallengeReceived):
                core.send_token("s3cret-token")
    if close:
        core.receive_data(b"", 2.0)
    core.handle_timer(TIMEOUT + 1.0)
    events += drain(core)
    assert core.finished
    assert isinstance(events[-1], (HandshakeAccepted, HandshakeFailed, HandshakeTimedOut))
    for event in events:
        assert "s3cret-token" not in repr(event)
        if isinstance(event, HandshakeAccepted):
            # Accepted only with a well-formed session id and a real port.
            assert len(event.session_id) == 43
            assert 1 <= event.transport_port <= 65535


def hello(session_id: bytes) -> bytes:
    return encode_frame(FrameType.HELLO, b"\x00\x01" + session_id)


transport_bytes = st.one_of(
    st.binary(max_size=4096),
    mutated(hello(b"A" * 43)),
    mutated(hello(b"A" * 43) + encode_frame(FrameType.DATA, b"\x00" * 8 + b"payload")),
    st.builds(
        lambda kind, length, tail: bytes([kind]) + length.to_bytes(4, "big") + tail,
        st.integers(0, 255),
        st.sampled_from([0, 1, 8, 130, MAX_FRAME_PAYLOAD, MAX_FRAME_PAYLOAD + 1, 2**32 - 1]),
        st.binary(max_size=64),
    ),
)


def transport(side: str) -> TransportConnection:
    return TransportConnection(
        side,  # type: ignore[arg-type]
        now=0.0,
        session_open_timeout=10.0,
        heartbeat_interval=2.0,
        heartbeat_timeout=10.0,
        disconnect_wait=3.0,
    )


@given(data=transport_bytes, cut_at=cuts, side=st.sampled_from(["server", "client"]))
def test_frame_core_survives_any_bytes(data: bytes, cut_at: list[int], side: str) -> None:
    core = transport(side)
    events: list[Any] = []
    for piece in split(data, cut_at):
        core.receive_data(piece, 1.0)
        events += drain(core)
    core.handle_timer(100.0)
    events += drain(core)
    assert any(isinstance(e, TransportEnded) for e in events), "the timer must end it"
    ended = [e for e in events if isinstance(e, TransportEnded)]
    assert len(ended) == 1
    assert isinstance(events[-1], TransportEnded)
    # Nobody told the server core to welcome anyone, so no session opened there and
    # no data was delivered; a client core opens only on a WELCOME it never got.
    assert not any(isinstance(e, (SessionOpened, DataReceived)) for e in events)
    if side == "client":
        assert not any(isinstance(e, HelloReceived) for e in events)
    # What it buffers is bounded by one frame, whatever the peer claims.
    out = core.data_to_send()
    assert len(out) <= 2 * (MAX_FRAME_PAYLOAD + 5)

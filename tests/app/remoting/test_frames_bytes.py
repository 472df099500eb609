"""The transport core fed bytes: whole, 10 and 1 byte at a time, and every kind of
bad frame. Time is the `now` argument; nothing sleeps, nothing may raise."""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.remoting.builtin.frames import (
    DataReceived,
    HelloReceived,
    Phase,
    SessionOpened,
    TransportConnection,
    TransportEnded,
    encode_frame,
)
from app.remoting.builtin.handshake import new_session_id
from app.remoting.builtin.protocol import (
    FRAME_HEADER_BYTES,
    MAX_FRAME_PAYLOAD,
    MAX_HELLO_PAYLOAD,
    FrameType,
    RejectCode,
)
from app.xr.values import DisconnectReason

R = DisconnectReason
SESSION_ID = new_session_id(bytes(range(32)))
SIZES = [1, 10, None]


def chunks(data: bytes, size: int | None) -> Iterator[bytes]:
    if size is None:
        if data:
            yield data
        return
    for start in range(0, len(data), size):
        yield data[start : start + size]


def core(side: str, now: float = 0.0) -> TransportConnection:
    return TransportConnection(
        side,  # type: ignore[arg-type]
        now=now,
        session_open_timeout=10.0,
        heartbeat_interval=2.0,
        heartbeat_timeout=10.0,
        disconnect_wait=3.0,
    )


def feed(conn: TransportConnection, data: bytes, size: int | None, now: float = 0.0) -> None:
    for piece in chunks(data, size):
        conn.receive_data(piece, now)


def drain(conn: TransportConnection) -> list[Any]:
    events = []
    while (event := conn.next_event()) is not None:
        events.append(event)
    return events


def opened_pair(size: int | None) -> tuple[TransportConnection, TransportConnection]:
    client, server = core("client"), core("server")
    client.send_hello(SESSION_ID)
    feed(server, client.data_to_send(), size)
    assert drain(server) == [HelloReceived(1, SESSION_ID)]
    server.welcome(0.0)
    assert drain(server) == [SessionOpened()]
    feed(client, server.data_to_send(), size)
    assert drain(client) == [SessionOpened()]
    return client, server


@pytest.mark.parametrize("size", SIZES)
def test_a_session_gives_the_same_events_at_every_read_size(size: int | None) -> None:
    client, server = opened_pair(size)
    assert drain(server) == [] and server.phase == client.phase == Phase.OPEN
    big = bytes(range(256)) * 300
    client.send_data(7, b"hello")
    client.send_data(2**64 - 1, big)
    client.send_data(0, b"")
    client.handle_timer(2.0)  # a heartbeat in between
    feed(server, client.data_to_send(), size, now=2.0)
    assert drain(server) == [
        DataReceived(7, b"hello"),
        DataReceived(2**64 - 1, big),
        DataReceived(0, b""),
    ]
    server.request_disconnect(3.0)
    feed(client, server.data_to_send(), size, now=3.0)
    (ended,) = drain(client)
    assert ended == TransportEnded(R.PEER_DISCONNECT_REQUEST, "the peer asked to disconnect")
    server.receive_data(b"", 3.1)  # the client closes
    assert drain(server)[0].reason == R.DISCONNECT_REQUEST


def test_heartbeats_and_silence_by_now_alone() -> None:
    client, server = opened_pair(None)
    assert client.get_timer() == 2.0  # next heartbeat
    client.handle_timer(2.0)
    assert client.data_to_send() == encode_frame(FrameType.HEARTBEAT)
    feed(server, encode_frame(FrameType.HEARTBEAT), 1, now=9.0)  # resets the silence timer
    server.handle_timer(10.5)
    assert not any(isinstance(e, TransportEnded) for e in drain(server))
    server.handle_timer(19.0)
    (ended,) = [e for e in drain(server) if isinstance(e, TransportEnded)]
    assert ended.reason == R.CONNECTION_LOST and "10 s" in ended.detail


def test_session_open_and_disconnect_timeouts_by_now() -> None:
    waiting = core("client")
    waiting.handle_timer(9.9)
    assert drain(waiting) == []
    waiting.handle_timer(10.0)
    assert drain(waiting)[0].reason == R.SESSION_OPEN_TIMEOUT
    client, _ = opened_pair(None)
    client.request_disconnect(1.0)
    client.handle_timer(4.0)
    assert drain(client)[0].reason == R.PEER_DISCONNECT_TIMEOUT


def frame(kind: int, payload: bytes = b"", length: int | None = None) -> bytes:
    return struct.pack(">BI", kind, len(payload) if length is None else length) + payload


HELLO = frame(FrameType.HELLO, struct.pack(">H", 1) + SESSION_ID.encode())
# (side the bad bytes arrive at, opened first?, bytes, then EOF?, reason)
BAD_FRAMES: dict[str, tuple[str, bool, bytes, bool, DisconnectReason]] = {
    "unknown type before the session": (
        "server",
        False,
        frame(0x7F),
        False,
        R.TRANSPORT_CONNECTION_FAILED,
    ),
    "unknown type in the session": ("client", True, frame(0x7F), False, R.PROTOCOL_ERROR),
    "oversized frame (length alone decides)": (
        "client",
        True,
        struct.pack(">BI", FrameType.DATA, MAX_FRAME_PAYLOAD + 1),
        False,
        R.PROTOCOL_ERROR,
    ),
    "length 0xffffffff": (
        "server",
        False,
        b"\x01\xff\xff\xff\xff",
        False,
        R.TRANSPORT_CONNECTION_FAILED,
    ),
    "oversized HELLO": (
        "server",
        False,
        frame(FrameType.HELLO, b"\x00\x01" + b"a" * MAX_HELLO_PAYLOAD),
        False,
        R.TRANSPORT_CONNECTION_FAILED,
    ),
    "HELLO without a version": (
        "server",
        False,
        frame(FrameType.HELLO, b"\x01"),
        False,
        R.TRANSPORT_CONNECTION_FAILED,
    ),
    "HELLO of an unknown version": (
        "server",
        False,
        frame(FrameType.HELLO, b"\x00\x09" + SESSION_ID.encode()),
        False,
        R.PROTOCOL_VERSION_MISMATCH,
    ),
    "a heartbeat with a payload": (
        "client",
        True,
        frame(FrameType.HEARTBEAT, b"x"),
        False,
        R.PROTOCOL_ERROR,
    ),
    "DATA without a channel id": (
        "client",
        True,
        frame(FrameType.DATA, b"1234"),
        False,
        R.PROTOCOL_ERROR,
    ),
    "a second HELLO in the session": ("server", True, HELLO, False, R.PROTOCOL_ERROR),
    "WELCOME of another version": (
        "client",
        False,
        frame(FrameType.WELCOME, b"\x00\x02"),
        False,
        R.PROTOCOL_VERSION_MISMATCH,
    ),
    "WELCOME with a bad length": (
        "client",
        False,
        frame(FrameType.WELCOME, b"\x00"),
        False,
        R.TRANSPORT_CONNECTION_FAILED,
    ),
    "REJECT unknown session": (
        "client",
        False,
        frame(FrameType.REJECT, bytes([RejectCode.UNKNOWN_SESSION]) + b"used"),
        False,
        R.TRANSPORT_CONNECTION_FAILED,
    ),
    "REJECT with invalid UTF-8": (
        "client",
        False,
        frame(FrameType.REJECT, b"\x03\xff\xfe"),
        False,
        R.TRANSPORT_CONNECTION_FAILED,
    ),
    "empty REJECT": (
        "client",
        False,
        frame(FrameType.REJECT),
        False,
        R.TRANSPORT_CONNECTION_FAILED,
    ),
    "DATA before the session": (
        "server",
        False,
        frame(FrameType.DATA, bytes(8)),
        False,
        R.TRANSPORT_CONNECTION_FAILED,
    ),
    "a truncated HELLO, then EOF": (
        "server",
        False,
        HELLO[:-3],
        True,
        R.TRANSPORT_CONNECTION_FAILED,
    ),
    "a truncated header, then EOF": ("client", True, b"\x20\x00", True, R.CONNECTION_LOST),
    "a truncated DATA frame, then EOF": (
        "client",
        True,
        frame(FrameType.DATA, bytes(100))[:50],
        True,
        R.CONNECTION_LOST,
    ),
    "EOF before the session": ("client", False, b"", True, R.TRANSPORT_CONNECTION_FAILED),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_every_bad_frame_ends_with_its_reason(case: str, size: int | None) -> None:
    side, opened, data, eof, reason = BAD_FRAMES[case]
    if opened:
        client, server = opened_pair(None)
        conn = client if side == "client" else server
    else:
        conn = core(side)
    feed(conn, data, size, now=1.0)
    if eof:
        conn.receive_data(b"", 1.0)
    events = drain(conn)
    assert events and isinstance(events[-1], TransportEnded), events
    assert not any(isinstance(e, DataReceived) for e in events)
    assert events[-1].reason == reason, events[-1].detail
    assert conn.phase == Phase.CLOSED and conn.should_close and conn.get_timer() is None
    if "then EOF" in case and opened:
        assert "unfinished frame" in events[-1].detail
    conn.receive_data(HELLO + b"junk", 2.0)  # after the end: ignored, no exception
    conn.handle_timer(100.0)
    assert drain(conn) == []


def test_an_oversized_length_is_refused_before_its_payload_arrives() -> None:
    client, _ = opened_pair(None)
    client.receive_data(struct.pack(">BI", FrameType.DATA, 16 * 1024 * 1024), 0.0)
    (ended,) = drain(client)
    assert ended.reason == R.PROTOCOL_ERROR and str(MAX_FRAME_PAYLOAD) in ended.detail


def test_frame_header_is_five_bytes_and_encode_refuses_oversized_payloads() -> None:
    assert len(encode_frame(FrameType.HEARTBEAT)) == FRAME_HEADER_BYTES
    with pytest.raises(ValueError, match="at most"):
        encode_frame(FrameType.DATA, bytes(MAX_FRAME_PAYLOAD + 1))
    client, _ = opened_pair(None)
    with pytest.raises(ValueError, match="at most"):
        client.send_data(1, bytes(MAX_FRAME_PAYLOAD))


@settings(max_examples=60, deadline=None)
@given(
    messages=st.lists(
        st.tuples(st.integers(0, 2**64 - 1), st.binary(max_size=3000)), min_size=1, max_size=12
    ),
    cuts=st.lists(st.integers(0, 40_000), max_size=12),
)
def test_messages_cut_anywhere_arrive_whole_and_in_order_from_a_reused_buffer(
    messages: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    """As the transport reads: each read is a view of one buffer that the next read
    overwrites, so the core must keep nothing of it but copies."""
    client, server = opened_pair(None)
    for channel, payload in messages:
        client.send_data(channel, payload)
    data = bytes(client.data_to_send())
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    scratch = bytearray(len(data))
    view = memoryview(scratch)
    for start, end in itertools.pairwise(points):
        if end > start:
            scratch[: end - start] = data[start:end]
            server.receive_data(view[: end - start], 1.0)
            scratch[:] = b"\xff" * len(scratch)  # the next read overwrites it
    assert drain(server) == [DataReceived(channel, payload) for channel, payload in messages]


@settings(max_examples=60, deadline=None)
@given(
    messages=st.lists(
        st.tuples(st.integers(0, 2**64 - 1), st.binary(max_size=3000)), min_size=1, max_size=12
    ),
    cuts=st.lists(st.integers(0, 40_000), max_size=12),
)
def test_a_reader_keeping_unfinished_frames_itself_gets_the_same_messages(
    messages: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    """`receive_frames` (the TLS feed's way): the core takes the whole frames where they
    lie and says how much it used; the reader keeps the rest and presents it again."""
    client, server = opened_pair(None)
    for channel, payload in messages:
        client.send_data(channel, payload)
    data = bytes(client.data_to_send())
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    kept = b""
    for start, end in itertools.pairwise(points):
        pending = bytearray(kept + data[start:end])
        with memoryview(pending) as view:
            used = server.receive_frames(view, 1.0)
        assert not server.has_unfinished_frame()
        kept = bytes(pending[used:])
        pending[:] = b"\xff" * len(pending)  # the next read overwrites it
    assert kept == b""
    assert drain(server) == [DataReceived(channel, payload) for channel, payload in messages]


def test_receive_frames_refuses_an_oversized_header_before_its_payload_arrives() -> None:
    _client, server = opened_pair(None)
    header = struct.pack(">BI", int(FrameType.DATA), MAX_FRAME_PAYLOAD + 1)
    with memoryview(bytearray(header)) as view:
        assert server.receive_frames(view, 1.0) == len(header)
    (ended,) = drain(server)
    assert isinstance(ended, TransportEnded) and ended.reason == R.PROTOCOL_ERROR

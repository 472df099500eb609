"""The handshake limits of protocol.py (docs/security.md), at their edges, in the
sans-I/O server core: each is answered with its own status and ends only that
connection. And the seconds a person reads (Retry-After, "blocked for N s") are exact
whatever float error the clock arithmetic carries."""

from __future__ import annotations

import pytest

from app.remoting.builtin.handshake import (
    ClientRefused,
    TokenPresented,
    TokenThrottle,
    retry_after_seconds,
)
from app.remoting.builtin.protocol import (
    AUTH_BASE_BLOCK_SECONDS,
    AUTH_MAX_FAILURES,
    HANDSHAKE_PATH,
    MAX_BODY_BYTES,
    MAX_HEADER_COUNT,
    MAX_REQUEST_LINE_BYTES,
    MAX_TOKEN_BYTES,
)
from tests.app.remoting.test_handshake_bytes import drain, new_server, status_of
from tests.app.remoting.test_token_throttle import attempt, refused_401, refused_429

BASE = "Host: 127.0.0.1:8265\r\nHoloremote-Protocol-Version: 1\r\nHoloremote-Role: remote\r\n"


def head(target: str = HANDSHAKE_PATH, headers: str = "", body: bytes = b"") -> bytes:
    return (
        f"POST {target} HTTP/1.1\r\n{BASE}{headers}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def refusal(data: bytes) -> tuple[int, ClientRefused]:
    core = new_server()
    core.receive_data(data, 1.0)
    events = drain(core)
    assert core.finished
    assert len(events) == 1 and isinstance(events[0], ClientRefused), events
    # A refusal of a malformed request never ends the listen (no reason).
    assert events[0].reason is None
    return status_of(core.data_to_send())[0], events[0]


def test_request_line_limit() -> None:
    line = len("POST  HTTP/1.1")
    fits = HANDSHAKE_PATH + "?" + "a" * (MAX_REQUEST_LINE_BYTES - line - len(HANDSHAKE_PATH) - 1)
    core = new_server()
    core.receive_data(head(fits), 1.0)
    assert drain(core) == []  # answered with the challenge, still open for the token
    assert status_of(core.data_to_send())[0] == 401
    status, event = refusal(head(fits + "a"))
    assert status == 414 and event.detail == "request line too long"


def test_header_count_limit() -> None:
    base_count = BASE.count("\r\n") + 1  # + Content-Length
    fits = "X-A: b\r\n" * (MAX_HEADER_COUNT - base_count)
    core = new_server()
    core.receive_data(head(headers=fits), 1.0)
    assert drain(core) == []  # answered with the challenge, still open for the token
    assert status_of(core.data_to_send())[0] == 401
    status, event = refusal(head(headers=fits + "X-A: b\r\n"))
    assert status == 431 and event.detail == "too many header fields"


def test_body_limit() -> None:
    status, event = refusal(head(body=b"x" * (MAX_BODY_BYTES + 1)))
    assert status == 413 and event.detail == "request body too large"


def test_token_size_limit() -> None:
    throttle = TokenThrottle()
    events, data = attempt(throttle, "t" * MAX_TOKEN_BYTES, 1.0)
    assert isinstance(events[0], TokenPresented)  # checked by the callback
    events, data = attempt(throttle, "t" * (MAX_TOKEN_BYTES + 1), 2.0)
    refused = refused_401(events, data) if len(events) == 2 else events[0]
    assert isinstance(refused, ClientRefused) and refused.status == 401
    assert f"1..{MAX_TOKEN_BYTES} visible ASCII" in refused.detail


@pytest.mark.parametrize(
    ("wait", "seconds"),
    [
        ((7.7 + 30.0) - 7.7, 30),  # 30.000000000000004: a 30 s block, read at once
        ((3.3 + 30.0) - 3.3, 30),  # 29.999999999999996
        (30.0, 30),
        (29.2, 30),  # a partial second still counts as one
        (0.0004, 1),
        (0.0, 1),
        (600.0000000001, 600),
    ],
)
def test_retry_after_is_the_seconds_a_person_expects(wait: float, seconds: int) -> None:
    assert retry_after_seconds(wait) == seconds


@pytest.mark.parametrize("start", [7.7 - AUTH_MAX_FAILURES, 3.3 - AUTH_MAX_FAILURES, 1e9 + 0.1])
def test_the_block_reads_30_s_and_retry_after_30_whatever_the_clock(start: float) -> None:
    """The clocks that once made the note say "blocked for 31 s" and Retry-After 31."""
    throttle = TokenThrottle()
    for n in range(1, AUTH_MAX_FAILURES + 1):
        events, data = attempt(throttle, f"wrong-{n}", start + n)
    detail = refused_401(events, data).detail
    assert f"is blocked for {AUTH_BASE_BLOCK_SECONDS:.0f} s after" in detail
    blocked_at = start + AUTH_MAX_FAILURES
    assert refused_429(*attempt(throttle, "any", blocked_at)) == AUTH_BASE_BLOCK_SECONDS

"""Refused tokens per peer address, in the sans-I/O server core: time is the `now`
argument, so the back-off is tested by advancing it (no sockets, no sleeping). The
client core reads the 429 the same way. The socket-level test is in
test_builtin_throttle.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.remoting.builtin.handshake import (
    ChallengeReceived,
    ClientAdmitted,
    ClientHandshake,
    ClientRefused,
    HandshakeFailed,
    ServerHandshake,
    TokenPresented,
    TokenThrottle,
    throttle_key,
)
from app.remoting.builtin.protocol import (
    AUTH_BASE_BLOCK_SECONDS,
    AUTH_FAILURE_WINDOW_SECONDS,
    AUTH_MAX_BLOCK_SECONDS,
    AUTH_MAX_FAILURES,
    ERROR_TOO_MANY_FAILURES,
    PROBE_HEADER,
    RETRY_AFTER_HEADER,
)
from app.xr.values import DisconnectReason
from tests.app.remoting.test_handshake_bytes import (
    SESSION_ID,
    SIZES,
    TOKEN,
    answer,
    bearer,
    drain,
    feed,
    request,
    status_of,
)

R = DisconnectReason
PEER = "192.0.2.7"
OTHER = "198.51.100.9"


def server_core(throttle: TokenThrottle, now: float, peer: str = PEER) -> ServerHandshake:
    return ServerHandshake(
        secure=True,
        realm="lab-7",
        role="player",
        now=now,
        timeout=30,
        peer=peer,
        throttle=throttle,
    )


def attempt(
    throttle: TokenThrottle,
    token: str,
    now: float,
    *,
    peer: str = PEER,
    size: int | None = None,
    extra: tuple[tuple[str, str], ...] = (),
) -> tuple[list[Any], bytes]:
    """One connection presenting `token` at `now`; the validator accepts only TOKEN.
    Returns the core's events (TokenPresented included) and the bytes it answered."""
    core = server_core(throttle, now, peer)
    feed(core, request(extra=(*bearer(token), *extra)), size, now=now)
    events = drain(core)
    if events and isinstance(events[-1], TokenPresented):
        core.token_verdict(events[-1].token == TOKEN)
        events += drain(core)
    if events and isinstance(events[-1], ClientAdmitted):
        core.accept(SESSION_ID, 8266, 10.0)
    assert core.finished
    return events, core.data_to_send()


def refused_429(events: list[Any], data: bytes) -> int:
    """Asserts a 429 answer without a token check; its Retry-After, in seconds."""
    assert len(events) == 1 and isinstance(events[0], ClientRefused), events
    assert events[0].status == 429 and events[0].reason is None  # the listen goes on
    status, headers = status_of(data)
    assert status == 429 and headers[b"connection"] == b"close"
    assert json.loads(data.split(b"\r\n\r\n", 1)[1]) == {"error": ERROR_TOO_MANY_FAILURES}
    return int(headers[RETRY_AFTER_HEADER.lower().encode()])


def refused_401(events: list[Any], data: bytes) -> ClientRefused:
    assert [type(e) for e in events] == [TokenPresented, ClientRefused], events
    assert status_of(data)[0] == 401
    refusal = events[1]
    assert isinstance(refusal, ClientRefused)
    return refusal


# --- the core: block, 429, back-off ------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_refused_tokens_block_the_address_and_the_next_token_is_not_checked(
    size: int | None,
) -> None:
    throttle = TokenThrottle()
    for n in range(1, AUTH_MAX_FAILURES + 1):
        refusal = refused_401(*attempt(throttle, f"wrong-{n}", 100.0 + n, size=size))
        assert refusal.reason == R.AUTHENTICATION_FAILED
        assert ("is blocked for" in refusal.detail) == (n == AUTH_MAX_FAILURES)
    blocked_at = 100.0 + AUTH_MAX_FAILURES
    assert f"{PEER} is blocked for 30 s after {AUTH_MAX_FAILURES} refused tokens" in (
        refusal.detail
    )
    # The right token, 10 s later: answered 429 at once, no TokenPresented (the shell
    # never calls ValidateAuthenticationToken), and the listen is not ended.
    events, data = attempt(throttle, TOKEN, blocked_at + 10, size=size)
    assert refused_429(events, data) == AUTH_BASE_BLOCK_SECONDS - 10
    assert f"too many refused tokens from {PEER}" in events[0].detail
    # Another address is served as usual, at the same moment.
    events, _ = attempt(throttle, TOKEN, blocked_at + 10, peer=OTHER, size=size)
    assert [type(e) for e in events] == [TokenPresented, ClientAdmitted]
    # When the block ends, the right token is checked and clears the record.
    events, _ = attempt(throttle, TOKEN, blocked_at + AUTH_BASE_BLOCK_SECONDS, size=size)
    assert [type(e) for e in events] == [TokenPresented, ClientAdmitted]
    assert throttle.failures(PEER, blocked_at + 31) == 0


def test_each_further_refusal_doubles_the_block_up_to_the_maximum() -> None:
    throttle = TokenThrottle()
    now = 1000.0
    for n in range(AUTH_MAX_FAILURES - 1):
        refused_401(*attempt(throttle, f"wrong-{n}", now))
    blocks = []
    for n in range(8):
        refused_401(*attempt(throttle, f"guess-{n}", now))
        block = throttle.blocked_for(PEER, now)
        blocks.append(block)
        # Every moment of the block answers 429 with the time left, rounded up.
        assert refused_429(*attempt(throttle, TOKEN, now + 0.5)) == int(block)
        assert refused_429(*attempt(throttle, TOKEN, now + block - 0.25)) == 1
        now += block  # the block is over: the next token is checked again
    assert blocks == [min(AUTH_BASE_BLOCK_SECONDS * 2**n, AUTH_MAX_BLOCK_SECONDS) for n in range(8)]
    assert blocks[-1] == AUTH_MAX_BLOCK_SECONDS == 600


def test_a_quiet_window_forgets_the_address_and_a_success_clears_it() -> None:
    throttle = TokenThrottle()
    for n in range(AUTH_MAX_FAILURES - 1):
        refused_401(*attempt(throttle, f"wrong-{n}", 10.0))
    # Quiet for longer than the window: the count starts over.
    later = 10.0 + AUTH_FAILURE_WINDOW_SECONDS + 1
    refusal = refused_401(*attempt(throttle, "wrong-again", later))
    assert "blocked" not in refusal.detail and throttle.failures(PEER, later) == 1
    # Within the window, the right token clears the count.
    refused_401(*attempt(throttle, "wrong-once-more", later + 1))
    events, _ = attempt(throttle, TOKEN, later + 2)
    assert isinstance(events[-1], ClientAdmitted)
    for n in range(AUTH_MAX_FAILURES - 1):
        refusal = refused_401(*attempt(throttle, f"wrong-after-{n}", later + 3))
    assert throttle.blocked_for(PEER, later + 3) == 0


def test_a_quiet_window_counts_from_the_end_of_the_block() -> None:
    """A peer that fails right after a long block ends is still a repeat offender."""
    throttle = TokenThrottle()
    now = 0.0
    for n in range(AUTH_MAX_FAILURES + 5):
        refused_401(*attempt(throttle, f"wrong-{n}", now))
        now += throttle.blocked_for(PEER, now)
    assert now > AUTH_FAILURE_WINDOW_SECONDS  # long past a window from the first failure
    refused_401(*attempt(throttle, "wrong-last", now))
    assert throttle.blocked_for(PEER, now) == AUTH_MAX_BLOCK_SECONDS


def test_tokens_count_when_presented_so_parallel_connections_cannot_race_past() -> None:
    """Many connections present tokens before any verdict: the ones past the limit get
    429 at once, however slow ValidateAuthenticationToken is."""
    throttle = TokenThrottle()
    cores = [server_core(throttle, 5.0) for _ in range(AUTH_MAX_FAILURES + 3)]
    presented, refused = [], []
    for n, core in enumerate(cores):
        feed(core, request(extra=bearer(f"parallel-{n}")), None, now=5.0)
        (event,) = drain(core)
        (presented if isinstance(event, TokenPresented) else refused).append(core)
    assert len(presented) == AUTH_MAX_FAILURES and len(refused) == 3
    for core in refused:
        assert status_of(core.data_to_send())[0] == 429
    for core in presented:  # the verdicts arrive later
        core.token_verdict(False)
    assert throttle.blocked_for(PEER, 6.0) > 0


@pytest.mark.parametrize(
    "case",
    ["marked as a probe", "Basic credentials", "an oversized token", "callback failed"],
)
def test_every_refused_credential_counts(case: str) -> None:
    """Including a probe's: the probe header keeps the listen up, so it must not also
    give unlimited guesses."""
    throttle = TokenThrottle()
    for n in range(AUTH_MAX_FAILURES):
        core = server_core(throttle, 1.0)
        if case == "marked as a probe":
            data = request(extra=(*bearer(f"wrong-{n}"), (PROBE_HEADER, "1")))
        elif case == "Basic credentials":
            data = request(extra=(("Authorization", "Basic dXNlcjpwYXNz"),))
        elif case == "an oversized token":
            data = request(extra=bearer("t" * 1024))
        else:
            data = request(extra=bearer(TOKEN))
        feed(core, data, None, now=1.0)
        for event in drain(core):
            if isinstance(event, TokenPresented):
                # "callback failed": the shell's verdict for a callback that did not
                # return XR_SUCCESS, whatever the token was.
                core.token_verdict(False, "ValidateAuthenticationToken failed")
        assert status_of(core.data_to_send())[0] == 401
    assert throttle.blocked_for(PEER, 1.0) == AUTH_BASE_BLOCK_SECONDS
    assert refused_429(*attempt(throttle, TOKEN, 2.0)) == AUTH_BASE_BLOCK_SECONDS - 1


def test_a_blocked_address_still_gets_the_challenge_and_plain_mode_is_untouched() -> None:
    throttle = TokenThrottle()
    for n in range(AUTH_MAX_FAILURES):
        attempt(throttle, f"wrong-{n}", 0.0)
    core = server_core(throttle, 1.0)
    feed(core, request(), None, now=1.0)  # no Authorization: nothing to throttle yet
    assert drain(core) == [] and not core.finished
    status, _ = status_of(core.data_to_send())
    assert status == 401
    feed(core, request(extra=bearer(TOKEN)), None, now=2.0)
    assert refused_429(drain(core), core.data_to_send()) == AUTH_BASE_BLOCK_SECONDS - 2
    plain = ServerHandshake(
        secure=False, realm="", role="player", now=3.0, timeout=30, peer=PEER, throttle=throttle
    )
    feed(plain, request(), None, now=3.0)
    assert drain(plain) == [ClientAdmitted(1, "remote")]


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::ffff:127.0.0.1", "127.0.0.1"),  # a dual-stack socket: the same peer
        ("::1", "::1"),
        ("2001:DB8::0:1", "2001:db8::1"),
        ("", ""),
        ("not an address", "not an address"),
    ],
)
def test_throttle_key_is_the_ip_address(address: str, key: str) -> None:
    assert throttle_key(address) == key


def test_a_mapped_address_and_its_ipv4_form_share_one_record() -> None:
    throttle = TokenThrottle()
    for n in range(AUTH_MAX_FAILURES):
        attempt(throttle, f"wrong-{n}", 0.0, peer="::ffff:192.0.2.7")
    assert refused_429(*attempt(throttle, TOKEN, 1.0, peer="192.0.2.7")) > 0


# --- the client core reads the 429 ---------------------------------------------------------


def client_after_token(answer_bytes: bytes) -> HandshakeFailed:
    client = ClientHandshake(host="127.0.0.1", port=8265, role="remote", now=0.0, timeout=30)
    client.data_to_send()
    feed(client, answer(401, headers=(("WWW-Authenticate", 'Bearer realm="lab-7"'),)), None)
    assert drain(client) == [ChallengeReceived("lab-7")]
    client.send_token(TOKEN)
    feed(client, answer_bytes, None)
    (event,) = drain(client)
    assert isinstance(event, HandshakeFailed) and client.finished
    return event


@pytest.mark.parametrize(
    ("retry_after", "seconds", "says"),
    [
        ("29", 29, "try again in 29 s"),
        (" 600 ", 600, "try again in 600 s"),
        (None, None, "try again later"),
        ("Fri, 07 Nov 2025 08:49:37 GMT", None, "try again later"),  # an HTTP-date
        ("-5", None, "try again later"),
        ("9" * 40, None, "try again later"),
    ],
)
def test_client_maps_429_to_authentication_failed_with_the_wait(
    retry_after: str | None, seconds: int | None, says: str
) -> None:
    headers = ((RETRY_AFTER_HEADER, retry_after),) if retry_after is not None else ()
    event = client_after_token(answer(429, b'{"error":"too_many_failed_attempts"}', headers))
    assert event.reason == R.AUTHENTICATION_FAILED
    assert event.throttled and event.retry_after == seconds
    assert "too many failed attempts" in event.detail and event.detail.endswith(says)
    assert TOKEN not in event.detail


def test_both_cores_the_client_sees_the_server_s_retry_after() -> None:
    throttle = TokenThrottle()
    for n in range(AUTH_MAX_FAILURES):
        attempt(throttle, f"wrong-{n}", 50.0)
    _, data = attempt(throttle, TOKEN, 58.0)
    event = client_after_token(data)
    assert event.retry_after == AUTH_BASE_BLOCK_SECONDS - 8
    assert event.detail.endswith(f"try again in {int(AUTH_BASE_BLOCK_SECONDS) - 8} s")


# --- no token anywhere -----------------------------------------------------------------------


def test_the_throttle_never_shows_a_token() -> None:
    throttle = TokenThrottle()
    tokens = [f"secret-guess-{n}-xyzzy" for n in range(AUTH_MAX_FAILURES + 2)] + [TOKEN]
    seen: list[str] = []
    for n, token in enumerate(tokens):
        events, data = attempt(throttle, token, float(n))
        seen += [repr(e) for e in events] + [str(getattr(e, "detail", "")) for e in events]
        seen.append(data.decode("latin-1"))
        seen.append(client_after_token(data).detail)
    seen += [repr(throttle), repr(vars(throttle)), repr(vars(throttle)["_state"])]
    everything = "\n".join(seen)
    assert "429" in everything and PEER in everything  # the text is really here
    for token in tokens:
        assert token not in everything

"""Refused tokens per peer address: the listener's memory of who guessed wrong.

One `TokenThrottle` is held by the runtime and shared by every handshake it serves,
so it outlives each listen. The rule itself (how many failures, how long a block) is
the pure `FailureThrottle` of `app/security/token_validation.py`; the numbers are the
AUTH_* constants of `protocol.py`.
"""

from __future__ import annotations

import ipaddress
import math

from app.remoting.builtin.protocol import (
    AUTH_BASE_BLOCK_SECONDS,
    AUTH_FAILURE_WINDOW_SECONDS,
    AUTH_MAX_BLOCK_SECONDS,
    AUTH_MAX_FAILURES,
)
from app.security.token_validation import FailureThrottle


def throttle_key(address: str) -> str:
    """The address a peer is throttled by: its IP address as text, an IPv4-mapped IPv6
    address as the IPv4 address (a dual-stack socket must not give one peer two
    records). Anything that is not an IP address is used as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


class TokenThrottle:
    """Tokens presented per peer address, shared by every handshake one runtime serves.

    The runtime holds it, so it outlives each listen (a refused token ends the listen,
    and the application listens again). A mutable holder of the pure
    `FailureThrottle`, with the AUTH_* constants of `protocol.py`; sans-I/O like the
    cores: time is an argument, and every call comes from the loop thread. It holds
    addresses and times, never a token."""

    def __init__(self) -> None:
        self._state = FailureThrottle(
            max_failures=AUTH_MAX_FAILURES,
            window_seconds=AUTH_FAILURE_WINDOW_SECONDS,
            base_block_seconds=AUTH_BASE_BLOCK_SECONDS,
            max_block_seconds=AUTH_MAX_BLOCK_SECONDS,
        )

    def __repr__(self) -> str:
        return f"TokenThrottle({len(self._state.peers)} address(es))"

    def blocked_for(self, peer: str, now: float) -> float:
        """Seconds `peer` must still wait before a token of its is checked (0: none)."""
        return self._state.blocked_for(peer, now)

    def failures(self, peer: str, now: float) -> int:
        return self._state.failures(peer, now)

    def presented(self, peer: str, now: float) -> float:
        """A token from `peer` is about to be checked: it counts as a failure until
        `accepted`. The block now in force, in seconds (0: none)."""
        self._state = self._state.record_failure(peer, now)
        return self._state.blocked_for(peer, now)

    def accepted(self, peer: str) -> None:
        self._state = self._state.record_success(peer)


def retry_after_seconds(wait: float) -> int:
    """A wait as Retry-After delay-seconds (and the seconds a note says): whole
    seconds, rounded up, at least 1.

    `wait` is a difference of float times, so a 30 s block read at once can be
    30.000000000000004 s; rounded up as it is, that says 31. It is rounded to the
    millisecond first (far finer than a second, far coarser than float error), then up:
    a wait a person reads is never shorter than the true one by more than 1 ms."""
    return max(1, math.ceil(round(wait, 3)))

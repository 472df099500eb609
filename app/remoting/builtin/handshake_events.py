"""What the two handshake machines tell their shells: a closed set of typed events.

`ClientEvent` and `ServerEvent` are what `next_event()` returns; the shells dispatch
on the class. The same classes key the transition tables in `handshake_states.py`.
Tokens and session ids are kept out of every repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.remoting.builtin.protocol import Role
from app.xr.values import DisconnectReason


@dataclass(frozen=True)
class ChallengeReceived:
    """Client: the server asks for a Bearer token in `realm`."""

    realm: str


@dataclass(frozen=True)
class HandshakeAccepted:
    """Client: the server admitted us; open the transport with this session id."""

    version: int
    role: Role
    transport_port: int
    session_id: str = field(repr=False)


@dataclass(frozen=True)
class HandshakeFailed:
    """Client: the handshake is over without success; `reason` says how to report it.
    `throttled` when the server refused to check the token at all (429, too many
    failed attempts from this address), with `retry_after`, the seconds it asked this
    address to wait (None when it named no usable number)."""

    reason: DisconnectReason
    detail: str
    throttled: bool = False
    retry_after: int | None = None


@dataclass(frozen=True)
class TokenPresented:
    """Server: the client sent a token; call ValidateAuthenticationToken, then
    `token_verdict()`."""

    token: str = field(repr=False)


@dataclass(frozen=True)
class ClientAdmitted:
    """Server: the client passed every check; call `accept()` (or `refuse_busy()`)."""

    version: int
    role: Role


@dataclass(frozen=True)
class ClientRefused:
    """Server: the client was answered with an error and the connection closes.

    `reason` is set when a peer speaking this protocol was refused for a reason the
    specification names on the server too (a presented token refused:
    AUTHENTICATION_FAILED; the same role: HANDSHAKE_FAILED; no common version:
    REMOTING_VERSION_MISMATCH): that attempt ends the listen, as in Microsoft's
    runtime. It is None for everything else (probes, scanners, a TLS client on a
    plain port, a client that leaves after the challenge, and a token not checked
    because its address is blocked (429), which must not let one address keep a
    listener down): those leave the listener listening."""

    status: int
    detail: str
    reason: DisconnectReason | None = None


@dataclass(frozen=True)
class HandshakeTimedOut:
    """Either side: `deadline` passed before the handshake finished."""


@dataclass(frozen=True)
class PeerClosed:
    """Server: the client closed the connection."""


ClientEvent = ChallengeReceived | HandshakeAccepted | HandshakeFailed | HandshakeTimedOut
ServerEvent = TokenPresented | ClientAdmitted | ClientRefused | HandshakeTimedOut | PeerClosed

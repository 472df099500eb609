"""The legal states of the two handshake machines, each in one table (as h11's _state.py).

Parsing and answering live in `handshake.py`; this module only says which state may
follow which. A machine changes state in one place (`_Machine._move`), which looks the
step up here and raises `HandshakeStateError` for a step the table does not list, so a
shell that calls the machine out of order learns it at once instead of sending bytes
the peer cannot read. A table is keyed by what triggers the step: the class of the
event the machine hands its shell, or, for a step that hands out nothing, one of the
marker classes below (the shell sent a token, the server sent a challenge or its 200).

Client: the first request goes out when the machine is made.

    SENT_REQUEST --ChallengeReceived--> CHALLENGED --TokenSent--> SENT_TOKEN
    SENT_REQUEST, SENT_TOKEN --HandshakeAccepted--> ACCEPTED
    any open state --HandshakeFailed--> FAILED, --HandshakeTimedOut--> TIMED_OUT

Server: a connection may ask twice (without a token, then with one after the 401).

    READING_REQUEST --ChallengeSent--> CHALLENGED --(the next request)--> ...
    READING_REQUEST, CHALLENGED --TokenPresented--> AWAITING_VERDICT
    READING_REQUEST (plain), AWAITING_VERDICT (a valid token) --ClientAdmitted--> ADMITTED
    ADMITTED --SessionGranted--> GRANTED (200 with the session id)
    any open state --ClientRefused--> REFUSED, --HandshakeTimedOut--> TIMED_OUT
    READING_REQUEST, CHALLENGED --PeerClosed--> CLOSED

A state with no row is final: the machine hands out no more events and the shell
closes the connection once `data_to_send()` is flushed.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar

from app.remoting.builtin.handshake_events import (
    ChallengeReceived,
    ClientAdmitted,
    ClientRefused,
    HandshakeAccepted,
    HandshakeFailed,
    HandshakeTimedOut,
    PeerClosed,
    TokenPresented,
)


class HandshakeStateError(RuntimeError):
    """The shell asked a machine for a step its table does not allow in its state
    (h11's LocalProtocolError: *we* misused the protocol, not the peer)."""


# --- steps that hand the shell no event -----------------------------------------------


class TokenSent:
    """Client: the shell answered the challenge with a token (`send_token`)."""


class ChallengeSent:
    """Server: answered 401 with a Bearer challenge; the client may ask again."""


class SessionGranted:
    """Server: `accept()` answered 200 with the one-time session id."""


# --- the client -----------------------------------------------------------------------


class ClientState(enum.Enum):
    SENT_REQUEST = enum.auto()  # the first request is out; reading the answer
    CHALLENGED = enum.auto()  # 401 with a Bearer challenge; the shell fetches the token
    SENT_TOKEN = enum.auto()  # the request with the token is out; reading the answer
    ACCEPTED = enum.auto()
    FAILED = enum.auto()
    TIMED_OUT = enum.auto()


_CLIENT_ENDS: dict[type, ClientState] = {
    HandshakeFailed: ClientState.FAILED,
    HandshakeTimedOut: ClientState.TIMED_OUT,
}

CLIENT_TRANSITIONS: Mapping[ClientState, Mapping[type, ClientState]] = {
    ClientState.SENT_REQUEST: {
        ChallengeReceived: ClientState.CHALLENGED,
        HandshakeAccepted: ClientState.ACCEPTED,
        **_CLIENT_ENDS,
    },
    ClientState.CHALLENGED: {TokenSent: ClientState.SENT_TOKEN, **_CLIENT_ENDS},
    ClientState.SENT_TOKEN: {HandshakeAccepted: ClientState.ACCEPTED, **_CLIENT_ENDS},
    ClientState.ACCEPTED: {},
    ClientState.FAILED: {},
    ClientState.TIMED_OUT: {},
}


# --- the server -----------------------------------------------------------------------


class ServerState(enum.Enum):
    READING_REQUEST = enum.auto()  # nothing answered yet
    CHALLENGED = enum.auto()  # 401 sent; reading the request that brings the token
    AWAITING_VERDICT = enum.auto()  # TokenPresented: the shell asks the callback
    ADMITTED = enum.auto()  # ClientAdmitted: the shell accepts or refuses as busy
    GRANTED = enum.auto()  # 200 with the session id sent
    REFUSED = enum.auto()  # an error answer sent
    TIMED_OUT = enum.auto()
    CLOSED = enum.auto()  # the client closed the connection first


_SERVER_ENDS: dict[type, ServerState] = {
    ClientRefused: ServerState.REFUSED,
    HandshakeTimedOut: ServerState.TIMED_OUT,
}
_READING: dict[type, ServerState] = {
    TokenPresented: ServerState.AWAITING_VERDICT,
    PeerClosed: ServerState.CLOSED,
    **_SERVER_ENDS,
}

SERVER_TRANSITIONS: Mapping[ServerState, Mapping[type, ServerState]] = {
    ServerState.READING_REQUEST: {
        ChallengeSent: ServerState.CHALLENGED,
        ClientAdmitted: ServerState.ADMITTED,  # a plain listener admits without a token
        **_READING,
    },
    ServerState.CHALLENGED: dict(_READING),
    ServerState.AWAITING_VERDICT: {ClientAdmitted: ServerState.ADMITTED, **_SERVER_ENDS},
    ServerState.ADMITTED: {SessionGranted: ServerState.GRANTED, **_SERVER_ENDS},
    ServerState.GRANTED: {},
    ServerState.REFUSED: {},
    ServerState.TIMED_OUT: {},
    ServerState.CLOSED: {},
}

# The server states in which it reads requests from the peer.
SERVER_READING_STATES = frozenset({ServerState.READING_REQUEST, ServerState.CHALLENGED})

State = TypeVar("State", ClientState, ServerState)


def next_state(table: Mapping[State, Mapping[type, State]], state: State, trigger: type) -> State:
    """The state `trigger` leads to from `state`, or HandshakeStateError."""
    try:
        return table[state][trigger]
    except KeyError:
        raise HandshakeStateError(
            f"{trigger.__name__} is not allowed in state {state.name}"
        ) from None


def is_final(table: Mapping[State, Mapping[type, State]], state: State) -> bool:
    return not table[state]

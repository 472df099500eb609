"""The handshake's state tables (`handshake_states.py`): the tables are whole, the
machines walk them as the protocol says, and a shell that calls a machine out of
order is told so (HandshakeStateError) before any byte goes out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import pytest

from app.remoting.builtin.handshake import (
    ChallengeReceived,
    ClientAdmitted,
    ClientHandshake,
    ClientRefused,
    HandshakeAccepted,
    HandshakeStateError,
    HandshakeTimedOut,
    ServerHandshake,
    TokenPresented,
    new_session_id,
)
from app.remoting.builtin.handshake_states import (
    CLIENT_TRANSITIONS,
    SERVER_TRANSITIONS,
    ClientState,
    ServerState,
    is_final,
)
from app.xr.values import DisconnectReason

TOKEN = "correct-horse-battery-staple"
SESSION_ID = new_session_id(bytes(range(32)))


def new_client() -> ClientHandshake:
    return ClientHandshake(host="127.0.0.1", port=8265, role="remote", now=0.0, timeout=30)


def new_server(*, secure: bool = True) -> ServerHandshake:
    return ServerHandshake(secure=secure, realm="lab-7", role="player", now=0.0, timeout=30)


S = TypeVar("S", ClientState, ServerState)


def reachable(table: Mapping[S, Mapping[type, S]], first: S) -> set[S]:
    seen, todo = {first}, [first]
    while todo:
        for target in table[todo.pop()].values():
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


@pytest.mark.parametrize(
    ("table", "first", "states"),
    [
        (CLIENT_TRANSITIONS, ClientState.SENT_REQUEST, ClientState),
        (SERVER_TRANSITIONS, ServerState.READING_REQUEST, ServerState),
    ],
)
def test_every_state_has_a_row_is_reachable_and_can_time_out(table, first, states) -> None:
    assert set(table) == set(states)
    assert reachable(table, first) == set(states)
    for state, row in table.items():
        # Nothing waits forever: every open state ends on the deadline.
        assert is_final(table, state) or row[HandshakeTimedOut].name == "TIMED_OUT"


def test_a_token_handshake_walks_both_tables_in_order() -> None:
    client, server = new_client(), new_server()
    client_states, server_states = [client.our_state], [server.our_state]
    for _ in range(4):
        server.receive_data(client.data_to_send(), 0.0)
        while (event := server.next_event()) is not None:
            if isinstance(event, TokenPresented):
                server_states.append(server.our_state)
                server.token_verdict(event.token == TOKEN)
            elif isinstance(event, ClientAdmitted):
                server_states.append(server.our_state)
                server.accept(SESSION_ID, 8266, 10.0)
        server_states.append(server.our_state)
        client.receive_data(server.data_to_send(), 0.0)
        while (event := client.next_event()) is not None:
            if isinstance(event, ChallengeReceived):
                client_states.append(client.our_state)
                client.send_token(TOKEN)
            client_states.append(client.our_state)
            assert not isinstance(event, HandshakeAccepted) or client.finished
    assert [s.name for s in dict.fromkeys(client_states)] == [
        "SENT_REQUEST",
        "CHALLENGED",
        "SENT_TOKEN",
        "ACCEPTED",
    ]
    assert [s.name for s in dict.fromkeys(server_states)] == [
        "READING_REQUEST",
        "CHALLENGED",
        "AWAITING_VERDICT",
        "ADMITTED",
        "GRANTED",
    ]
    assert client.finished and server.finished and server.should_close


def test_calls_out_of_order_raise_before_any_byte_goes_out() -> None:
    client = new_client()
    client.data_to_send()
    with pytest.raises(HandshakeStateError, match=r"TokenSent.*SENT_REQUEST"):
        client.send_token(TOKEN)  # no challenge yet
    assert client.data_to_send() == b"" and client.our_state is ClientState.SENT_REQUEST

    server = new_server()
    with pytest.raises(HandshakeStateError):
        server.accept(SESSION_ID, 8266, 10.0)  # nobody admitted
    with pytest.raises(HandshakeStateError):
        server.token_verdict(True)  # no token presented
    with pytest.raises(HandshakeStateError):
        server.refuse_busy()
    assert server.data_to_send() == b"" and server.our_state is ServerState.READING_REQUEST


def test_after_the_end_the_shells_late_answers_are_ignored() -> None:
    """The timer may end a machine while its shell awaits a callback: the callback's
    late answer is dropped, not an error and not a second event."""
    server = new_server(secure=False)
    server.receive_data(new_client().data_to_send(), 0.0)
    assert isinstance(server.next_event(), ClientAdmitted)
    server.handle_timer(31.0)
    assert isinstance(server.next_event(), HandshakeTimedOut)
    server.accept(SESSION_ID, 8266, 10.0)
    server.refuse_busy()
    assert server.next_event() is None and server.our_state is ServerState.TIMED_OUT

    client = new_client()
    client.handle_timer(31.0)
    client.send_token(TOKEN)
    client.fail(DisconnectReason.HANDSHAKE_FAILED, "late")
    assert isinstance(client.next_event(), HandshakeTimedOut)
    assert client.next_event() is None and client.our_state is ClientState.TIMED_OUT


def test_a_refusal_is_final_and_the_refused_machine_reads_nothing_more() -> None:
    server = new_server()
    server.receive_data(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 0.0)
    event = server.next_event()
    assert isinstance(event, ClientRefused) and event.status == 404
    assert server.our_state is ServerState.REFUSED and server.get_timer() is None
    server.receive_data(b"POST / HTTP/1.1\r\n", 0.0)
    assert server.next_event() is None

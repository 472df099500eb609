"""xrRemotingDisconnectMSFT right after xrRemotingListenMSFT: the request must not be
lost while the listener has not started yet (it was: the listen went on, and the
disconnect waited out its limit, so `holoremote listen` took seconds to stop when
a signal came just after it listened again)."""

from __future__ import annotations

import threading

from app.remoting.builtin import BuiltinRuntime
from app.remoting.contract import DisconnectedEvent, ListeningEvent, RemotingEvent
from app.xr.structs import XrRemotingDisconnectInfoMSFT, XrRemotingListenInfoMSFT
from app.xr.values import XR_FALSE, ConnectionState, DisconnectReason
from tests.support.builtin_options import quick_options

WAIT_S = 10.0


def listen_info() -> XrRemotingListenInfoMSFT:
    return XrRemotingListenInfoMSFT(
        listenInterface=b"127.0.0.1",
        handshakeListenPort=0,
        transportListenPort=0,
        secureConnection=XR_FALSE,
    )


def events_until_disconnected(runtime: BuiltinRuntime) -> list[RemotingEvent]:
    seen: list[RemotingEvent] = []
    for _ in range(50):  # bounded: a lost request leaves the listener listening
        event = runtime.wait_event(WAIT_S / 50)
        if event is not None:
            seen.append(event)
            if isinstance(event, DisconnectedEvent):
                return seen
    raise AssertionError(f"no Disconnected within {WAIT_S:g} s; events: {seen}")


def test_a_disconnect_queued_before_the_listener_starts_ends_that_listen() -> None:
    runtime = BuiltinRuntime(quick_options())
    try:
        queued = threading.Event()

        def listen_then_disconnect() -> None:
            # On the runtime's own thread both calls return at once, so both reach
            # the loop before the listener's task takes its first step.
            runtime.listen(listen_info())
            runtime.disconnect(XrRemotingDisconnectInfoMSFT())
            queued.set()

        runtime._loop.call_soon_threadsafe(listen_then_disconnect)
        assert queued.wait(WAIT_S)
        seen = events_until_disconnected(runtime)
        end = seen[-1]
        assert isinstance(end, DisconnectedEvent)
        assert end.disconnect_reason == DisconnectReason.DISCONNECT_REQUEST
        # It never listened: no ports were bound for a listen already called off.
        assert not any(isinstance(event, ListeningEvent) for event in seen)
        assert runtime.get_connection_state()[0] == ConnectionState.DISCONNECTED
        assert runtime.listening_transport_port is None
    finally:
        runtime.close()


def test_a_disconnect_from_another_thread_right_after_listen_leaves_it_disconnected() -> None:
    """The caller's view: when xrRemotingDisconnectMSFT returns, the state is
    DISCONNECTED (the runtime waits for the endpoint's end), even when the listener
    had not started yet."""
    runtime = BuiltinRuntime(quick_options(disconnect_wait=5.0))
    try:
        gate = threading.Event()
        # Hold the loop so that the listen and the disconnect are both queued first.
        runtime._loop.call_soon_threadsafe(gate.wait, WAIT_S)
        runtime.listen(listen_info())
        releaser = threading.Timer(0.2, gate.set)
        releaser.start()
        try:
            runtime.disconnect(XrRemotingDisconnectInfoMSFT())
        finally:
            releaser.cancel()
            gate.set()
        assert runtime.get_connection_state()[0] == ConnectionState.DISCONNECTED
        end = events_until_disconnected(runtime)[-1]
        assert isinstance(end, DisconnectedEvent)
        assert end.disconnect_reason == DisconnectReason.DISCONNECT_REQUEST
    finally:
        runtime.close()

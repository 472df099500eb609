"""OpenXRRuntime against runtimes that conform to the specification but behave unlike
the others: extension functions only for an instance that enabled the extension,
XR_EVENT_UNAVAILABLE, events that are not the extension's, instance loss, a lost event
queue, odd values through lastDisconnectReason, XR_ERROR_REMOTING_NOT_DISCONNECTED_MSFT
while connected, and callbacks from threads Python never created. All through the real
Khronos loader, in this process."""

from __future__ import annotations

import asyncio
import ctypes
import os
import threading
from collections.abc import Iterator

import pytest

from app.endpoint.callbacks import SecureConnectionCallbacks
from app.endpoint.events import Connected, Disconnected, Note
from app.remoting.contract import DisconnectedEvent, ListeningEvent, RemotingCallError
from app.remoting.openxr import runtime as module
from app.remoting.openxr.runtime import INSTANCE_LOSS_REASON, OpenXRRuntime
from app.xr.structs import (
    XrRemotingAuthenticationTokenValidationMSFT,
    XrRemotingListenInfoMSFT,
    XrRemotingRemoteContextPropertiesMSFT,
)
from app.xr.values import (
    XR_FALSE,
    XR_TRUE,
    ConnectionState,
    DisconnectReason,
    Result,
    StructureType,
)
from tests.app.xr.conftest import installed
from tests.app.xr.e2e_support import (
    TIMEOUT,
    Secrets,
    builtin,
    connect_pair,
    make_secrets,
    openxr,
    records,
    run_clean_connection,
)
from tests.support.openxr_runtime import core
from tests.support.openxr_runtime.build import BuiltRuntime


@pytest.fixture(scope="module")
def shared() -> Secrets:
    return make_secrets()


def open_variant(built: BuiltRuntime) -> OpenXRRuntime:
    os.environ["XR_RUNTIME_JSON"] = str(built.manifest)
    return OpenXRRuntime.open()


@pytest.fixture
def full(xr_runtimes: dict[str, BuiltRuntime]) -> Iterator[OpenXRRuntime]:
    runtime = open_variant(xr_runtimes["full"])
    try:
        yield runtime
    finally:
        runtime.close()


def listen_plain(runtime: OpenXRRuntime) -> None:
    runtime.listen(
        XrRemotingListenInfoMSFT(
            listenInterface=b"127.0.0.1",
            handshakeListenPort=0,
            transportListenPort=0,
            secureConnection=XR_FALSE,
        )
    )


# --- extension functions, empty queue, other events -----------------------------------


def test_extension_functions_exist_only_for_an_instance_that_enabled_it(
    xr_runtimes: dict[str, BuiltRuntime],
) -> None:
    os.environ["XR_RUNTIME_JSON"] = str(xr_runtimes["full"].manifest)
    loader = module._get_loader()
    result, plain = module._create_instance([])
    assert result == 0 and plain
    try:
        pointer = ctypes.c_void_p(0)
        result = loader.get_instance_proc_addr(
            plain, b"xrRemotingConnectMSFT", ctypes.byref(pointer)
        )
        assert result == Result.ERROR_FUNCTION_UNSUPPORTED
        assert not pointer.value
    finally:
        loader.destroy_instance(plain)
    # OpenXRRuntime looks them up on its instance made with the extension enabled.
    runtime = OpenXRRuntime.open()
    try:
        assert runtime.get_connection_state() == (
            ConnectionState.DISCONNECTED,
            DisconnectReason.NONE,
        )
    finally:
        runtime.close()


def test_an_empty_queue_is_event_unavailable_not_an_error(full: OpenXRRuntime) -> None:
    buffer = module.xr.EventDataBuffer()
    raw = module._get_loader().poll_event(full._instance, ctypes.byref(buffer))
    assert raw == Result.EVENT_UNAVAILABLE
    assert full.poll_event() is None


def test_other_events_are_skipped_boundedly(
    xr_runtimes: dict[str, BuiltRuntime], full: OpenXRRuntime
) -> None:
    runtime = installed(xr_runtimes["full"])
    lots = [
        core.XrEventDataSessionStateChanged(
            type=core.XR_TYPE_EVENT_DATA_SESSION_STATE_CHANGED, session=1, state=1, time=index
        )
        for index in range(module.MAX_SKIPPED_EVENTS_PER_POLL + 6)
    ]
    listening = module.XrRemotingEventDataListeningMSFT(listeningPort=4242)
    runtime.inject_events(full._instance, [*lots, listening])
    # One call skips at most MAX_SKIPPED_EVENTS_PER_POLL, then returns (the pump calls
    # again); the next gets past the rest to the remoting event.
    assert full.poll_event() is None
    assert full.poll_event() == ListeningEvent(4242)
    assert full.poll_event() is None


def test_a_runtime_that_mixes_in_other_events_connects_cleanly(
    xr_runtimes: dict[str, BuiltRuntime], shared: Secrets
) -> None:
    built = xr_runtimes["foreign-events"]
    _server, client = asyncio.run(
        run_clean_connection(shared, builtin("player")(), openxr(built)())
    )
    kinds = installed(built).trace.events
    assert core.XR_TYPE_EVENT_DATA_SESSION_STATE_CHANGED in kinds
    assert core.XR_TYPE_EVENT_DATA_INTERACTION_PROFILE_CHANGED in kinds
    assert 1_000_999_001 in kinds
    assert [
        type(e).__name__ for e in client.history if isinstance(e, Connected | Disconnected)
    ] == [
        "Connected",
        "Disconnected",
    ]


# --- instance loss -----------------------------------------------------------------------


def test_instance_loss_event_ends_the_connection_and_destroys_the_instance(
    xr_runtimes: dict[str, BuiltRuntime], shared: Secrets
) -> None:
    async def scenario() -> tuple[Disconnected, list[str], OpenXRRuntime]:
        runtime = openxr(xr_runtimes["instance-loss"])()
        assert isinstance(runtime, OpenXRRuntime)
        server, client = await connect_pair(shared, builtin("player")(), runtime)
        try:
            await client.wait_for(lambda e: isinstance(e, Connected), TIMEOUT)
            ended = await client.wait_for(lambda e: isinstance(e, Disconnected), TIMEOUT)
            assert isinstance(ended, Disconnected)
            # The peer sees the connection go (the runtime stopped with its instance).
            await server.wait_for(lambda e: isinstance(e, Disconnected), TIMEOUT)
            notes = [e.message for e in client.history if isinstance(e, Note)]
            return ended, notes, runtime
        finally:
            await client.aclose()
            await server.aclose()

    ended, notes, runtime = asyncio.run(scenario())
    assert ended.reason == INSTANCE_LOSS_REASON == DisconnectReason.INTERNAL_ERROR
    assert any("lost the instance (XrEventDataInstanceLossPending)" in n for n in notes)
    # The instance was destroyed at once: the loader takes a new one in this process.
    again = open_variant(xr_runtimes["full"])
    again.close()
    with pytest.raises(RemotingCallError) as caught:
        runtime.get_connection_state()
    assert caught.value.result == Result.ERROR_INSTANCE_LOST
    assert "lost the instance" in str(caught.value)


def test_instance_lost_result_from_a_call_ends_a_listen(
    xr_runtimes: dict[str, BuiltRuntime], full: OpenXRRuntime
) -> None:
    listen_plain(full)  # accepted: the runtime now owes a disconnected event
    installed(xr_runtimes["full"]).lose_instance(full._instance)
    # No event: xrPollEvent itself returns XR_ERROR_INSTANCE_LOST.
    assert full.poll_event() == DisconnectedEvent(INSTANCE_LOSS_REASON)
    assert full.poll_event() is None  # once only
    with pytest.raises(RemotingCallError) as caught:
        listen_plain(full)
    assert caught.value.result == Result.ERROR_INSTANCE_LOST
    assert "Start holoremote again" in (caught.value.fix or "")
    assert any("XR_ERROR_INSTANCE_LOST" in note for note in full.drain_notes())
    full.close()  # the instance is gone already: nothing left to destroy


# --- lost events, lastDisconnectReason ---------------------------------------------------


def test_a_lost_disconnected_event_is_recovered_from_the_connection_state(
    xr_runtimes: dict[str, BuiltRuntime], shared: Secrets
) -> None:
    built = xr_runtimes["events-lost"]
    # run_clean_connection checks the client's reason: DISCONNECT_REQUEST, which only
    # lastDisconnectReason could tell (the event itself was lost).
    asyncio.run(run_clean_connection(shared, builtin("player")(), openxr(built)()))
    assert core.XR_TYPE_EVENT_DATA_EVENTS_LOST in installed(built).trace.events
    assert int(StructureType.REMOTING_EVENT_DATA_DISCONNECTED_MSFT) not in (
        installed(built).trace.events
    )


def test_last_disconnect_reason_outside_the_enum_reads_as_unknown(
    xr_runtimes: dict[str, BuiltRuntime],
) -> None:
    built = xr_runtimes["odd-state"]
    runtime = open_variant(built)
    try:
        assert runtime.get_connection_state() == (
            ConnectionState.DISCONNECTED,
            DisconnectReason.UNKNOWN,
        )
        state_pointer, reason_pointer = installed(built).trace.connection_state_pointers[-1]
        assert state_pointer and reason_pointer and state_pointer != reason_pointer
    finally:
        runtime.close()


# --- XR_ERROR_REMOTING_NOT_DISCONNECTED_MSFT ------------------------------------------


def test_changing_callbacks_while_connected_is_refused_clearly(
    xr_runtimes: dict[str, BuiltRuntime], shared: Secrets
) -> None:
    async def scenario() -> None:
        runtime = openxr(xr_runtimes["full"])()
        assert isinstance(runtime, OpenXRRuntime)
        server, client = await connect_pair(shared, builtin("player")(), runtime)
        other = SecureConnectionCallbacks(token_provider=lambda: "x")
        try:
            await client.wait_for(lambda e: isinstance(e, Connected), TIMEOUT)
            in_use = runtime._kept["client"]
            with pytest.raises(RemotingCallError) as caught:
                runtime.set_secure_connection_client_callbacks(
                    other.client_callbacks(perform_system_validation=True)
                )
            assert caught.value.result == Result.ERROR_REMOTING_NOT_DISCONNECTED_MSFT
            assert "is still connected" in caught.value.message
            assert "Disconnect first" in (caught.value.fix or "")
            assert runtime._kept["client"] is in_use
            with pytest.raises(RemotingCallError) as caught:
                runtime.set_context_properties(XrRemotingRemoteContextPropertiesMSFT())
            assert caught.value.result == Result.ERROR_REMOTING_NOT_DISCONNECTED_MSFT
            # The connection is unharmed and ends cleanly.
            mark = client.event_count
            await client.disconnect()
            ended = await client.wait_for(
                lambda e: isinstance(e, Disconnected), TIMEOUT, after=mark
            )
            assert isinstance(ended, Disconnected)
            assert ended.reason == DisconnectReason.DISCONNECT_REQUEST
        finally:
            other.close()
            await client.aclose()
            await server.aclose()

    asyncio.run(scenario())


# --- callbacks on threads the runtime created in C ---------------------------------------


@pytest.mark.parametrize(("client", "server"), [("twin", None), (None, "twin-player")])
def test_callbacks_from_c_threads(
    xr_runtimes: dict[str, BuiltRuntime],
    shared: Secrets,
    client: str | None,
    server: str | None,
) -> None:
    seen: list[tuple[int, threading.Thread]] = []

    def token() -> str:
        seen.append((threading.get_native_id(), threading.current_thread()))
        return shared.token

    client_runtime = openxr(xr_runtimes[client])() if client else builtin("remote")()
    server_runtime = openxr(xr_runtimes[server])() if server else builtin("player")()
    server_session, client_session = asyncio.run(
        run_clean_connection(shared, server_runtime, client_runtime, token_provider=token)
    )
    built = xr_runtimes[client or server or ""]
    threads = installed(built).trace.callback_threads
    # Threads Python started itself. A foreign thread that called into `threading`
    # (our token provider does) stays listed as a _DummyThread under its pthread id
    # for good, and a later C thread may reuse that id: such entries are not threads
    # Python made, and only a later Python thread reusing the id used to hide them.
    python_threads = {
        t.native_id for t in threading.enumerate() if not isinstance(t, threading._DummyThread)
    }
    if client:
        # Our token provider ran on one of the runtime's C threads, which Python sees as
        # a foreign ("dummy") thread: ctypes made a fresh thread state for it.
        assert seen and all(native in threads for native, _thread in seen)
        assert all(isinstance(thread, threading._DummyThread) for _native, thread in seen)
    assert threads and not python_threads & set(threads)
    ok = [
        r.callback
        for r in records(server_session) + records(client_session)
        if r.result_name == "XR_SUCCESS"
    ]
    assert sorted(set(ok)) == sorted(
        {
            "RequestServerCertificate",
            "ValidateServerCertificate",
            "RequestAuthenticationToken",
            "ValidateAuthenticationToken",
        }
    )


# --- the watcher on the server's ValidateAuthenticationToken -----------------------------


def test_the_token_watcher_fails_closed_for_an_unknown_context() -> None:
    token = ctypes.create_string_buffer(b"whatever")
    request = XrRemotingAuthenticationTokenValidationMSFT(
        context=0x7777_0001,
        token=ctypes.cast(token, ctypes.POINTER(ctypes.c_char)),
        tokenValidOut=XR_TRUE,
    )
    result = module._watch_token_validation(ctypes.byref(request))
    assert result == Result.ERROR_RUNTIME_FAILURE
    assert request.tokenValidOut == XR_FALSE
    assert module._watch_token_validation(None) == Result.ERROR_RUNTIME_FAILURE


def test_a_runtime_that_ends_the_listen_itself_is_left_alone(
    xr_runtimes: dict[str, BuiltRuntime], full: OpenXRRuntime
) -> None:
    """After a refusal whose grace has passed, a runtime already DISCONNECTED gets no
    disconnect call and its own reason stands."""
    runtime = installed(xr_runtimes["full"])
    full._active = True
    full._refused_at = 0.0  # long ago
    calls = len(runtime.trace.calls)
    assert full.poll_event() is None
    assert "xrRemotingDisconnectMSFT" not in runtime.trace.calls[calls:]
    runtime.inject_events(
        full._instance,
        [
            module.XrRemotingEventDataDisconnectedMSFT(
                disconnectReason=int(DisconnectReason.HANDSHAKE_FAILED)
            )
        ],
    )
    assert full.poll_event() == DisconnectedEvent(DisconnectReason.HANDSHAKE_FAILED)

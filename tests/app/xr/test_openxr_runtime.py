"""OpenXRRuntime against the test runtime, through pyopenxr's real Khronos loader."""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Iterator

import pytest
import xr

from app.remoting.contract import (
    ConnectedEvent,
    DisconnectedEvent,
    ListeningEvent,
    RemotingCallError,
)
from app.remoting.openxr import runtime as module
from app.remoting.openxr.runtime import OpenXRRuntime
from app.xr.structs import (
    EXTENSION_FUNCTIONS,
    XrRemotingEventDataDisconnectedMSFT,
    XrRemotingEventDataListeningMSFT,
    XrRemotingSecureConnectionClientCallbacksMSFT,
    XrRemotingSecureConnectionServerCallbacksMSFT,
)
from app.xr.values import DisconnectReason, Result, StructureType
from tests.app.xr.conftest import installed
from tests.support.openxr_runtime.build import BuiltRuntime


@pytest.fixture
def opened(xr_runtimes: dict[str, BuiltRuntime]) -> Iterator[OpenXRRuntime]:
    os.environ["XR_RUNTIME_JSON"] = str(xr_runtimes["full"].manifest)
    runtime = OpenXRRuntime.open()
    try:
        yield runtime
    finally:
        runtime.close()


def test_open_names_the_runtime_and_looks_up_all_seven_functions(
    xr_runtimes: dict[str, BuiltRuntime], opened: OpenXRRuntime
) -> None:
    built = xr_runtimes["full"]
    assert opened.runtime_name == "holoremote test runtime"
    assert opened.display_name == "OpenXR: holoremote test runtime"
    assert opened.runtime_version == "0.1.0"
    assert opened.manifest_path == str(built.manifest)
    lookups = installed(built).trace.proc_addr_lookups
    for name in EXTENSION_FUNCTIONS:
        assert name in lookups
    # The shim negotiated with the real loader: interface 1, API major version 1.
    shim = ctypes.CDLL(str(built.library))
    shim.holoremote_test_runtime_negotiated_api_version.restype = ctypes.c_uint64
    assert shim.holoremote_test_runtime_negotiated_api_version() >> 48 == 1


def test_close_is_idempotent_and_later_calls_fail_cleanly(opened: OpenXRRuntime) -> None:
    opened.close()
    opened.close()
    with pytest.raises(RemotingCallError) as caught:
        opened.poll_event()
    assert caught.value.result == Result.ERROR_HANDLE_INVALID
    assert "already destroyed" in str(caught.value)


def test_failure_results_raise_remoting_call_error(opened: OpenXRRuntime) -> None:
    # No callback pointers: the runtime refuses with XR_ERROR_VALIDATION_FAILURE.
    with pytest.raises(RemotingCallError) as caught:
        opened.set_secure_connection_client_callbacks(
            XrRemotingSecureConnectionClientCallbacksMSFT()
        )
    assert caught.value.function == "xrRemotingSetSecureConnectionClientCallbacksMSFT"
    assert caught.value.result == Result.ERROR_VALIDATION_FAILURE
    wrong_type = XrRemotingSecureConnectionServerCallbacksMSFT(type=1, authenticationRealm=b"r")
    with pytest.raises(RemotingCallError, match="XR_ERROR_VALIDATION_FAILURE"):
        opened.set_secure_connection_server_callbacks(wrong_type)


def test_calls_are_serialised_across_threads(opened: OpenXRRuntime) -> None:
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            for _ in range(50):
                with pytest.raises(RemotingCallError):
                    opened.set_secure_connection_client_callbacks(
                        XrRemotingSecureConnectionClientCallbacksMSFT()
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not errors
    assert not any(thread.is_alive() for thread in threads)


# --- the event buffer, decoded by raw type (pyopenxr's enum does not know these) -----


def buffer_with(struct: ctypes.Structure) -> xr.EventDataBuffer:
    buffer = xr.EventDataBuffer()
    ctypes.memmove(ctypes.addressof(buffer), ctypes.addressof(struct), ctypes.sizeof(struct))
    return buffer


def test_remoting_events_are_read_from_the_raw_type() -> None:
    listening = buffer_with(XrRemotingEventDataListeningMSFT(listeningPort=8265))
    # What the values note warns about: recent pyopenxr raises ValueError here (its
    # enum does not know these types); the declared minimum, 1.1.4501, does not.
    # Either way the event is read from the raw type.
    with contextlib.suppress(ValueError):
        _ = listening.type
    assert module._remoting_event(listening) == ListeningEvent(8265)
    connected = xr.EventDataBuffer()
    ctypes.c_int32.from_address(ctypes.addressof(connected)).value = int(
        StructureType.REMOTING_EVENT_DATA_CONNECTED_MSFT
    )
    assert module._remoting_event(connected) == ConnectedEvent()
    reason = DisconnectReason.AUTHENTICATION_FAILED
    disconnected = buffer_with(XrRemotingEventDataDisconnectedMSFT(disconnectReason=int(reason)))
    assert module._remoting_event(disconnected) == DisconnectedEvent(reason)


def test_other_events_are_skipped_and_unknown_reasons_read_as_unknown() -> None:
    other = xr.EventDataBuffer()
    ctypes.c_int32.from_address(ctypes.addressof(other)).value = int(
        xr.StructureType.EVENT_DATA_INSTANCE_LOSS_PENDING
    )
    assert module._remoting_event(other) is None
    odd = buffer_with(XrRemotingEventDataDisconnectedMSFT(disconnectReason=999))
    assert module._remoting_event(odd) == DisconnectedEvent(DisconnectReason.UNKNOWN)

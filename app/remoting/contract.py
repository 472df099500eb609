"""The runtime contract: one interface, one method per extension function.

Both runtimes implement it: the OpenXR one (`app/remoting/openxr/runtime.py`, pyopenxr and
the Khronos loader) and the built-in one (`app/remoting/builtin/`). Methods take the
extension's ctypes structs, exactly as the C functions do, so the session code that
fills them is the same whichever runtime runs, and a struct that is wrong for one is
wrong for both. Failures raise `RemotingCallError` carrying the `XrResult`.

Methods may block (the OpenXR runtime's calls do); the session calls them off the
event loop.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from app.errors import HoloremoteError
from app.xr.structs import (
    XrRemotingConnectInfoMSFT,
    XrRemotingDisconnectInfoMSFT,
    XrRemotingListenInfoMSFT,
    XrRemotingRemoteContextPropertiesMSFT,
    XrRemotingSecureConnectionClientCallbacksMSFT,
    XrRemotingSecureConnectionServerCallbacksMSFT,
)
from app.xr.values import ConnectionState, DisconnectReason, Result, result_name


class RemotingCallError(HoloremoteError):
    """An extension function returned a failure `XrResult`."""

    def __init__(self, function: str, result: int, detail: str = "", *, fix: str | None = None):
        message = f"{function} failed with {result_name(result)}"
        if detail:
            message += f": {detail}"
        super().__init__(message, fix=fix)
        self.function = function
        self.result = result


# --- events returned by poll_event (XrRemotingEventData*MSFT as plain values) -------


@dataclass(frozen=True)
class ListeningEvent:
    """XrRemotingEventDataListeningMSFT."""

    listening_port: int


@dataclass(frozen=True)
class ConnectedEvent:
    """XrRemotingEventDataConnectedMSFT."""


@dataclass(frozen=True)
class DisconnectedEvent:
    """XrRemotingEventDataDisconnectedMSFT."""

    disconnect_reason: DisconnectReason


RemotingEvent = ListeningEvent | ConnectedEvent | DisconnectedEvent


class RemotingRuntime(abc.ABC):
    """A runtime that offers XR_MSFT_holographic_remoting.

    One runtime object stands for one (XrInstance, XrSystemId) pair.
    """

    #: Short name shown to the user ("built-in", "OpenXR: <runtime name>").
    display_name: str = "runtime"

    @abc.abstractmethod
    def set_context_properties(self, properties: XrRemotingRemoteContextPropertiesMSFT) -> None:
        """xrRemotingSetContextPropertiesMSFT."""

    @abc.abstractmethod
    def set_secure_connection_client_callbacks(
        self, callbacks: XrRemotingSecureConnectionClientCallbacksMSFT
    ) -> None:
        """xrRemotingSetSecureConnectionClientCallbacksMSFT."""

    @abc.abstractmethod
    def set_secure_connection_server_callbacks(
        self, callbacks: XrRemotingSecureConnectionServerCallbacksMSFT
    ) -> None:
        """xrRemotingSetSecureConnectionServerCallbacksMSFT."""

    @abc.abstractmethod
    def connect(self, connect_info: XrRemotingConnectInfoMSFT) -> None:
        """xrRemotingConnectMSFT: starts connecting; progress comes as events."""

    @abc.abstractmethod
    def listen(self, listen_info: XrRemotingListenInfoMSFT) -> None:
        """xrRemotingListenMSFT: starts listening; progress comes as events."""

    @abc.abstractmethod
    def disconnect(self, disconnect_info: XrRemotingDisconnectInfoMSFT) -> None:
        """xrRemotingDisconnectMSFT: closes the connection and stops listening."""

    @abc.abstractmethod
    def get_connection_state(self) -> tuple[ConnectionState, DisconnectReason]:
        """xrRemotingGetConnectionStateMSFT: (state, last disconnect reason)."""

    @abc.abstractmethod
    def poll_event(self) -> RemotingEvent | None:
        """xrPollEvent, filtered to the remoting events; None when the queue is empty."""

    @abc.abstractmethod
    def close(self) -> None:
        """Tear down (xrDestroyInstance for OpenXR). Safe to call twice."""


def check(function: str, result: int, detail: str = "") -> None:
    """Raise `RemotingCallError` unless `result` is a success code."""
    if result < 0:
        raise RemotingCallError(function, result, detail)


__all__ = [
    "ConnectedEvent",
    "DisconnectedEvent",
    "ListeningEvent",
    "RemotingCallError",
    "RemotingEvent",
    "RemotingRuntime",
    "Result",
    "check",
]

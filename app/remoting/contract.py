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
import ctypes
from dataclasses import dataclass
from typing import Any

from app.errors import HoloremoteError
from app.xr.channel_structs import (
    XrRemotingDataChannelCreateInfoMSFT,
    XrRemotingDataChannelSendDataInfoMSFT,
)
from app.xr.structs import (
    XrRemotingConnectInfoMSFT,
    XrRemotingDisconnectInfoMSFT,
    XrRemotingListenInfoMSFT,
    XrRemotingRemoteContextPropertiesMSFT,
    XrRemotingSecureConnectionClientCallbacksMSFT,
    XrRemotingSecureConnectionServerCallbacksMSFT,
)
from app.xr.values import (
    ConnectionState,
    DataChannelClosedReason,
    DataChannelResult,
    DataChannelStatus,
    DisconnectReason,
    Result,
    result_name,
)


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
class HandshakeStage:
    """One finished stage of a connection attempt, reported by a runtime that knows
    its own handshake (the built-in one: TCP, TLS, certificate, challenge, token,
    authorized request, transport). OpenXR has no such event, so an OpenXR runtime
    reports none. `side` says who spent the time: "client" or "server" (their own
    work, or waiting for the other), "network" (connects and TLS). Never a secret."""

    stage: str
    side: str
    started_at: float  # wall clock, time.time()
    duration_s: float
    failed: bool = False
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "stage",
            "stage": self.stage,
            "side": self.side,
            "startedAt": self.started_at,
            "durationMs": round(self.duration_s * 1000, 3),
            "failed": self.failed,
            **({"detail": self.detail} if self.detail else {}),
        }


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


class RetrieveCapacityError(RemotingCallError):
    """xrRetrieveRemotingDataMSFT with a buffer too small for the packet: `required` is
    what dataBytesCountOutput said (the second call's capacity)."""

    def __init__(
        self,
        required: int,
        capacity: int,
        result: int = Result.ERROR_VALIDATION_FAILURE,
    ) -> None:
        super().__init__(
            "xrRetrieveRemotingDataMSFT",
            result,
            f"the packet is {required} bytes, the buffer holds {capacity}",
            fix="call again with dataBytesCapacityInput of at least dataBytesCountOutput",
        )
        self.required = required


class DataChannelError(HoloremoteError):
    """A data-channel function failed with one of the `XR_ERROR_REMOTING_DATA_CHANNEL_*`
    codes. Named, not numbered: their numbers are in no source this app has (see
    `app.xr.values.DataChannelResult`)."""

    def __init__(
        self, function: str, code: DataChannelResult, detail: str = "", *, fix: str | None = None
    ) -> None:
        message = f"{function} failed with {code.spec_name}"
        if detail:
            message += f": {detail}"
        super().__init__(message, fix=fix)
        self.function = function
        self.code = code


@dataclass(frozen=True)
class DataChannelState:
    """XrRemotingDataChannelStateMSFT: unsent bytes and the channel's status."""

    send_queue_size: int
    status: DataChannelStatus


@dataclass(frozen=True)
class DataChannelCreatedEvent:
    """XrEventDataRemotingDataChannelCreatedMSFT: the peer created a channel."""

    channel_id: int
    channel: int


@dataclass(frozen=True)
class DataChannelOpenedEvent:
    """XrEventDataRemotingDataChannelOpenedMSFT: a channel this end created is open."""

    channel: int


@dataclass(frozen=True)
class DataChannelDataReceivedEvent:
    """XrEventDataRemotingDataChannelDataReceivedMSFT: retrieve it by `packet_id`."""

    channel: int
    size: int
    packet_id: int


@dataclass(frozen=True)
class DataChannelClosedEvent:
    """XrEventDataRemotingDataChannelClosedMSFT; the handle stays valid until destroyed."""

    channel: int
    closed_reason: DataChannelClosedReason


DataChannelEvent = (
    DataChannelCreatedEvent
    | DataChannelOpenedEvent
    | DataChannelDataReceivedEvent
    | DataChannelClosedEvent
)
RemotingEvent = ListeningEvent | ConnectedEvent | DisconnectedEvent | DataChannelEvent


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

    # --- data channels (a runtime without them answers FUNCTION_UNSUPPORTED) -----------

    def _unsupported(self, function: str) -> RemotingCallError:
        return RemotingCallError(
            function, Result.ERROR_FUNCTION_UNSUPPORTED, f"{self.display_name} has no data channels"
        )

    def create_data_channel(self, create_info: XrRemotingDataChannelCreateInfoMSFT) -> int:
        """xrCreateRemotingDataChannelMSFT: the new channel's handle (OPEN_PENDING)."""
        raise self._unsupported("xrCreateRemotingDataChannelMSFT")

    def destroy_data_channel(self, channel: int) -> None:
        """xrDestroyRemotingDataChannelMSFT: the handle is invalid afterwards."""
        raise self._unsupported("xrDestroyRemotingDataChannelMSFT")

    def get_data_channel_state(self, channel: int) -> DataChannelState:
        """xrGetRemotingDataChannelStateMSFT."""
        raise self._unsupported("xrGetRemotingDataChannelStateMSFT")

    def send_remoting_data(
        self, channel: int, send_info: XrRemotingDataChannelSendDataInfoMSFT
    ) -> None:
        """xrSendRemotingDataMSFT: queues the bytes `send_info` points at (copied)."""
        raise self._unsupported("xrSendRemotingDataMSFT")

    def retrieve_remoting_data(
        self,
        channel: int,
        packet_id: int,
        capacity: int,
        buffer: ctypes.Array[ctypes.c_uint8] | None,
    ) -> int:
        """xrRetrieveRemotingDataMSFT, the two-call idiom: with capacity 0 (buffer may be
        None) the packet's size; otherwise the bytes written into `buffer`. A capacity
        below the size raises with the size needed (`required`)."""
        raise self._unsupported("xrRetrieveRemotingDataMSFT")

    @abc.abstractmethod
    def close(self) -> None:
        """Tear down (xrDestroyInstance for OpenXR). Safe to call twice."""


def check_retrieve_buffer(capacity: int, buffer: ctypes.Array[ctypes.c_uint8] | None) -> None:
    """xrRetrieveRemotingDataMSFT's valid usage: a capacity needs a buffer that holds it."""
    if capacity and (buffer is None or ctypes.sizeof(buffer) < capacity):
        raise RemotingCallError(
            "xrRetrieveRemotingDataMSFT",
            Result.ERROR_VALIDATION_FAILURE,
            "dataBytess must hold dataBytesCapacityInput bytes",
        )


def check(function: str, result: int, detail: str = "") -> None:
    """Raise `RemotingCallError` unless `result` is a success code."""
    if result < 0:
        raise RemotingCallError(function, result, detail)


__all__ = [
    "ConnectedEvent",
    "DataChannelClosedEvent",
    "DataChannelCreatedEvent",
    "DataChannelDataReceivedEvent",
    "DataChannelError",
    "DataChannelEvent",
    "DataChannelOpenedEvent",
    "DataChannelState",
    "DisconnectedEvent",
    "HandshakeStage",
    "ListeningEvent",
    "RemotingCallError",
    "RemotingEvent",
    "RemotingRuntime",
    "Result",
    "RetrieveCapacityError",
    "check",
    "check_retrieve_buffer",
]

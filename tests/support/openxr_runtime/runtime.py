"""The Python body of the test OpenXR runtime (the C face is shim.c).

To the Khronos loader this is an ordinary runtime: the loader negotiates with the
shim, then reaches every function through the `xrGetInstanceProcAddr` installed
here. It implements the core functions the app and the loader use and the seven
functions of XR_MSFT_holographic_remoting, which it delegates to an engine that
implements the runtime contract (the built-in runtime, `BuiltinRuntime`), so the
whole chain runs:

    app -> pyopenxr's loader -> shim -> this module -> built-in engine
        -> this module's callback relays -> the app's callbacks, through the
           function pointers the app registered.

The relays are what make it a runtime in its own right rather than a pass-through:
the app's callback structs are copied when set (the specification only promises
them for the duration of the call), and every callback is invoked the way the
specification allows at its tightest: a 1-byte first buffer (the app must answer
XR_ERROR_SIZE_INSUFFICIENT with the size it needs and be called again), the chain as
DER, and, in one variant, no system validation result. In the "twin" variants every
app callback runs on a thread the C shim creates with pthreads.

Like a conforming runtime, it hands out the extension's functions only to an instance
that enabled the extension, answers xrPollEvent with XR_EVENT_UNAVAILABLE when the
queue is empty, and refuses new callbacks while connected
(XR_ERROR_REMOTING_NOT_DISCONNECTED_MSFT). Some variants add what a different runtime
may do: events of other kinds in the queue, instance loss, a lost event queue.

Every function that C calls catches everything and returns an error XrResult:
ctypes would otherwise return 0, XR_SUCCESS. Every ctypes callback object lives in
module globals for the life of the process.
"""

from __future__ import annotations

import collections
import ctypes
import itertools
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.remoting.contract import (
    ConnectedEvent,
    DataChannelClosedEvent,
    DataChannelCreatedEvent,
    DataChannelDataReceivedEvent,
    DataChannelError,
    DataChannelOpenedEvent,
    DisconnectedEvent,
    ListeningEvent,
    RemotingCallError,
    RemotingRuntime,
    RetrieveCapacityError,
)
from app.xr import channel_structs as cs
from app.xr import invoke, limits
from app.xr import structs as s
from app.xr.callback_types import ServerCertificateMaterial
from app.xr.validation_result_struct import read_verdict, write_verdict
from app.xr.values import (
    XR_FALSE,
    XR_TRUE,
    ConnectionState,
    DataChannelResult,
    DisconnectReason,
    Result,
    StructureType,
)
from tests.support.builtin_options import quick_options

from . import core
from .variants import EXTENSION_NAME, EXTENSION_VERSION, Variant

log = logging.getLogger("holoremote.test_runtime")

SUCCESS = 0
DATA_CHANNEL_EVENT_TYPES = (
    DataChannelCreatedEvent,
    DataChannelOpenedEvent,
    DataChannelDataReceivedEvent,
    DataChannelClosedEvent,
)
RUNTIME_FAILURE = core.XR_ERROR_RUNTIME_FAILURE
VALIDATION_FAILURE = core.XR_ERROR_VALIDATION_FAILURE
SIZE_INSUFFICIENT = core.XR_ERROR_SIZE_INSUFFICIENT
CALLBACK_ERROR = int(Result.ERROR_REMOTING_CALLBACK_ERROR_MSFT)
RUNTIME_VERSION = core.make_version(0, 1, 0)
SYSTEM_ID = 0x5E57_0001
NEWEST_API_MINOR = 1

BackendFactory = Callable[[Variant], RemotingRuntime]


def default_backend(variant: Variant) -> RemotingRuntime:
    """The built-in engine, with no trust source of its own (system validation uses
    the OS store, as Microsoft's runtime does) and the variant's role."""
    from app.remoting.builtin import BuiltinOptions, BuiltinRuntime

    if variant.engine_timeouts == "test":
        options = quick_options(role=variant.engine_role)
    else:
        options = BuiltinOptions(role=variant.engine_role)  # type: ignore[arg-type]
    return BuiltinRuntime(options)


def _guarded(name: str, function: Callable[..., int]) -> Callable[..., int]:
    """Nothing may escape into C: an exception becomes XR_ERROR_RUNTIME_FAILURE."""

    def guard(*args: Any) -> int:
        try:
            return int(function(*args))
        except RemotingCallError as exc:
            return exc.result
        except BaseException:
            log.error("test runtime: %s raised\n%s", name, traceback.format_exc())
            return RUNTIME_FAILURE

    guard.__name__ = name
    return guard


# The XR_ERROR_REMOTING_DATA_CHANNEL_* numbers are in no source this project has; this
# test runtime answers with numbers of its own (NOT Microsoft's), which the app must
# treat as the unknown failures they are to it. Tests read them from here.
CHANNEL_RESULTS: dict[DataChannelResult, int] = {
    code: -1_000_065_900 - index for index, code in enumerate(DataChannelResult)
}


def _channel_guarded(function: Callable[..., int]) -> Callable[..., int]:
    """A named data-channel failure of the engine becomes this runtime's number."""

    def guard(*args: Any) -> int:
        try:
            return int(function(*args))
        except DataChannelError as exc:
            return CHANNEL_RESULTS[exc.code]

    return guard


def _read_c_string(address: int | None, limit: int) -> bytes | None:
    """A NUL-terminated string of at most `limit` bytes (terminator included)."""
    if not address:
        return None
    pointer = ctypes.cast(address, ctypes.POINTER(ctypes.c_char))
    raw = bytearray()
    for index in range(limit):
        byte = pointer[index]
        if byte == b"\0":
            return bytes(raw)
        raw += byte
    return None


def _pointer_field(struct: ctypes.Structure, name: str) -> int | None:
    """The raw pointer value of a pointer field (no strlen, no copy)."""
    offset = getattr(type(struct), name).offset
    return ctypes.c_void_p.from_address(ctypes.addressof(struct) + offset).value


# --- per-instance state ---------------------------------------------------------------


@dataclass
class _PendingCertificate:
    """RequestServerCertificate material kept between the engine's two calls (when
    its first buffers were too small), so the app is asked once per request."""

    material: ServerCertificateMaterial


@dataclass
class _Instance:
    handle: int
    api_version: int
    backend_factory: Callable[[], RemotingRuntime]
    app_client: s.XrRemotingSecureConnectionClientCallbacksMSFT | None = None
    app_server: s.XrRemotingSecureConnectionServerCallbacksMSFT | None = None
    realm: Any = None
    engine_structs: list[Any] = field(default_factory=list)
    pending_certificate: _PendingCertificate | None = None
    pending_token: bytes | None = None
    extension_enabled: bool = False
    lost: bool = False
    #: silent_token_refusal: the engine ended the listen, the app is not told.
    pretend_listening: bool = False
    events: collections.deque[bytes] = field(default_factory=collections.deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _backend: RemotingRuntime | None = None

    @property
    def backend(self) -> RemotingRuntime:
        """The engine, made on first use (an instance made only to read the runtime's
        name never needs one)."""
        with self.lock:
            if self._backend is None:
                self._backend = self.backend_factory()
            return self._backend

    def close_backend(self) -> None:
        with self.lock:
            backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()


@dataclass
class CallTrace:
    """What the runtime was asked, for tests to assert on (names only, no data)."""

    proc_addr_lookups: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    callback_capacities: list[tuple[str, int]] = field(default_factory=list)
    system_result_passed: list[bool] = field(default_factory=list)
    #: Kernel thread ids of the C threads the twin variants ran app callbacks on.
    callback_threads: list[int] = field(default_factory=list)
    #: The structure type of every event xrPollEvent handed out.
    events: list[int] = field(default_factory=list)
    #: (state pointer, reason pointer) of each xrRemotingGetConnectionStateMSFT call.
    connection_state_pointers: list[tuple[int, int]] = field(default_factory=list)


class TestRuntime:
    """One per loaded copy of the shim."""

    __test__ = False  # not a pytest test class

    def __init__(self, variant: Variant, backend_factory: BackendFactory = default_backend):
        self.variant = variant
        self.backend_factory = backend_factory
        self.trace = CallTrace()
        self._instances: dict[int, _Instance] = {}
        self._lock = threading.Lock()
        self._handles = itertools.count(0x7E57_0000_0001)
        self._functions: dict[str, Any] = {}
        self._channels: dict[int, tuple[_Instance, int]] = {}
        self._channel_handles = itertools.count(0xC4A7_0000_0001)
        self._call_on_new_thread: Any = None
        self._build_functions()

    def attach_library(self, library: Any) -> None:
        """The loaded shim, for the C threads of the twin variants."""
        function = library.holoremote_test_runtime_call_on_new_thread
        function.restype = ctypes.c_int32
        function.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64)]
        self._call_on_new_thread = function

    # --- function table ------------------------------------------------------------

    def _build_functions(self) -> None:
        c = ctypes
        table: dict[str, tuple[Any, Callable[..., int]]] = {
            "xrEnumerateInstanceExtensionProperties": (
                c.CFUNCTYPE(
                    c.c_int32,
                    c.c_void_p,
                    c.c_uint32,
                    c.POINTER(c.c_uint32),
                    c.POINTER(core.XrExtensionProperties),
                ),
                self._enumerate_extensions,
            ),
            "xrCreateInstance": (
                c.CFUNCTYPE(c.c_int32, c.POINTER(core.XrInstanceCreateInfo), c.POINTER(c.c_void_p)),
                self._create_instance,
            ),
            "xrDestroyInstance": (c.CFUNCTYPE(c.c_int32, c.c_void_p), self._destroy_instance),
            "xrGetInstanceProperties": (
                c.CFUNCTYPE(c.c_int32, c.c_void_p, c.POINTER(core.XrInstanceProperties)),
                self._get_instance_properties,
            ),
            "xrGetSystem": (
                c.CFUNCTYPE(
                    c.c_int32, c.c_void_p, c.POINTER(core.XrSystemGetInfo), c.POINTER(c.c_uint64)
                ),
                self._get_system,
            ),
            "xrPollEvent": (c.CFUNCTYPE(c.c_int32, c.c_void_p, c.c_void_p), self._poll_event),
            "xrResultToString": (
                c.CFUNCTYPE(c.c_int32, c.c_void_p, c.c_int32, c.c_void_p),
                self._result_to_string,
            ),
            "xrStructureTypeToString": (
                c.CFUNCTYPE(c.c_int32, c.c_void_p, c.c_int32, c.c_void_p),
                self._structure_type_to_string,
            ),
        }
        remoting = {
            "xrRemotingSetContextPropertiesMSFT": self._set_context_properties,
            "xrRemotingConnectMSFT": self._connect,
            "xrRemotingListenMSFT": self._listen,
            "xrRemotingDisconnectMSFT": self._disconnect,
            "xrRemotingGetConnectionStateMSFT": self._get_connection_state,
            "xrRemotingSetSecureConnectionClientCallbacksMSFT": self._set_client_callbacks,
            "xrRemotingSetSecureConnectionServerCallbacksMSFT": self._set_server_callbacks,
        }
        for name, implementation in remoting.items():
            table[name] = (s.EXTENSION_FUNCTIONS[name], implementation)
        channels = {
            "xrCreateRemotingDataChannelMSFT": self._create_channel,
            "xrDestroyRemotingDataChannelMSFT": self._destroy_channel,
            "xrGetRemotingDataChannelStateMSFT": self._channel_state,
            "xrSendRemotingDataMSFT": self._send_data,
            "xrRetrieveRemotingDataMSFT": self._retrieve_data,
        }
        for name, implementation in channels.items():
            table[name] = (cs.DATA_CHANNEL_FUNCTIONS[name], _channel_guarded(implementation))
        for name, (prototype, implementation) in table.items():
            self._functions[name] = prototype(_guarded(name, implementation))
        self.get_instance_proc_addr = ctypes.CFUNCTYPE(
            c.c_int32, c.c_void_p, c.c_char_p, c.POINTER(c.c_void_p)
        )(_guarded("xrGetInstanceProcAddr", self._get_instance_proc_addr))

    # Functions that may be looked up with XR_NULL_HANDLE (spec, xrGetInstanceProcAddr).
    _PRE_INSTANCE = frozenset(
        {
            "xrEnumerateInstanceExtensionProperties",
            "xrEnumerateApiLayerProperties",
            "xrCreateInstance",
        }
    )

    def _get_instance_proc_addr(self, instance: int | None, name: bytes | None, out: Any) -> int:
        if not out:
            return VALIDATION_FAILURE
        out[0] = None
        if name is None:
            return VALIDATION_FAILURE
        text = name.decode("ascii", "replace")
        self.trace.proc_addr_lookups.append(text)
        state = self._instance(instance)
        if not instance:
            if text not in self._PRE_INSTANCE:
                return core.XR_ERROR_HANDLE_INVALID
        elif state is None:
            return core.XR_ERROR_HANDLE_INVALID
        if text.startswith("xrRemoting") or text in cs.DATA_CHANNEL_FUNCTIONS:
            # Extension functions exist only for an instance that enabled the extension
            # (xrGetInstanceProcAddr: XR_ERROR_FUNCTION_UNSUPPORTED otherwise).
            enabled = state is not None and state.extension_enabled
            if not enabled or text in self.variant.missing_functions:
                return core.XR_ERROR_FUNCTION_UNSUPPORTED
        function = self._functions.get(text)
        if function is None:
            return core.XR_ERROR_FUNCTION_UNSUPPORTED
        out[0] = ctypes.cast(function, ctypes.c_void_p).value
        return SUCCESS

    # --- core functions -------------------------------------------------------------

    def _offered(self) -> list[tuple[bytes, int]]:
        if self.variant.offer_extension:
            return [(EXTENSION_NAME.encode(), EXTENSION_VERSION)]
        return []

    def _enumerate_extensions(
        self, layer: int | None, capacity: int, count_out: Any, properties: Any
    ) -> int:
        self.trace.calls.append("xrEnumerateInstanceExtensionProperties")
        if layer:
            return core.XR_ERROR_API_LAYER_NOT_PRESENT
        if not count_out:
            return VALIDATION_FAILURE
        offered = self._offered()
        count_out[0] = len(offered)
        if capacity == 0:
            return SUCCESS
        if capacity < len(offered):
            return SIZE_INSUFFICIENT
        if not properties:
            return VALIDATION_FAILURE
        for index, (name, version) in enumerate(offered):
            item = properties[index]
            if item.type != core.XR_TYPE_EXTENSION_PROPERTIES:
                return VALIDATION_FAILURE
            item.extensionName = name
            item.extensionVersion = version
        return SUCCESS

    def _create_instance(self, info_pointer: Any, out: Any) -> int:
        self.trace.calls.append("xrCreateInstance")
        if not info_pointer or not out:
            return VALIDATION_FAILURE
        info = info_pointer.contents
        if info.type != core.XR_TYPE_INSTANCE_CREATE_INFO:
            return VALIDATION_FAILURE
        api = info.applicationInfo.apiVersion
        if core.version_major(api) != 1 or core.version_minor(api) > NEWEST_API_MINOR:
            return core.XR_ERROR_API_VERSION_UNSUPPORTED
        offered = {name for name, _version in self._offered()}
        enabled = set()
        for index in range(info.enabledExtensionCount):
            requested = info.enabledExtensionNames[index]
            if requested not in offered:
                log.info("test runtime: extension %r is not offered", requested)
                return core.XR_ERROR_EXTENSION_NOT_PRESENT
            enabled.add(requested)
        with self._lock:
            handle = next(self._handles)
            self._instances[handle] = _Instance(
                handle,
                api,
                lambda: self.backend_factory(self.variant),
                extension_enabled=EXTENSION_NAME.encode() in enabled,
            )
        out[0] = handle
        return SUCCESS

    def _instance(self, handle: int | None) -> _Instance | None:
        if not handle:
            return None
        with self._lock:
            return self._instances.get(handle)

    def _require(self, handle: int | None, system_id: int | None = None) -> _Instance:
        state = self._instance(handle)
        if state is None:
            raise RemotingCallError("test runtime", core.XR_ERROR_HANDLE_INVALID)
        if state.lost:
            raise RemotingCallError("test runtime", core.XR_ERROR_INSTANCE_LOST)
        if system_id is not None and system_id != SYSTEM_ID:
            raise RemotingCallError("test runtime", core.XR_ERROR_SYSTEM_INVALID)
        return state

    def _destroy_instance(self, handle: int | None) -> int:
        self.trace.calls.append("xrDestroyInstance")
        with self._lock:
            state = self._instances.pop(handle or 0, None)
        if state is None:
            return core.XR_ERROR_HANDLE_INVALID
        state.close_backend()
        with state.lock:
            state.app_client = state.app_server = None
            state.pending_certificate = None
            state.pending_token = None
        return SUCCESS

    def _get_instance_properties(self, handle: int | None, properties: Any) -> int:
        self._require(handle)
        if not properties:
            return VALIDATION_FAILURE
        item = properties.contents
        if item.type != core.XR_TYPE_INSTANCE_PROPERTIES:
            return VALIDATION_FAILURE
        item.runtimeVersion = RUNTIME_VERSION
        item.runtimeName = self.variant.runtime_name.encode()[: core.XR_MAX_RUNTIME_NAME_SIZE - 1]
        return SUCCESS

    def _get_system(self, handle: int | None, info_pointer: Any, out: Any) -> int:
        self._require(handle)
        if not info_pointer or not out:
            return VALIDATION_FAILURE
        info = info_pointer.contents
        if info.type != core.XR_TYPE_SYSTEM_GET_INFO:
            return VALIDATION_FAILURE
        if info.formFactor != core.XR_FORM_FACTOR_HEAD_MOUNTED_DISPLAY:
            return core.XR_ERROR_FORM_FACTOR_UNSUPPORTED
        out[0] = SYSTEM_ID
        return SUCCESS

    def _poll_event(self, handle: int | None, buffer: int | None) -> int:
        state = self._require(handle)
        if not buffer:
            return VALIDATION_FAILURE
        if ctypes.c_int32.from_address(buffer).value != core.XR_TYPE_EVENT_DATA_BUFFER:
            return VALIDATION_FAILURE
        if not state.events:
            event = state.backend.poll_event()
            if event is None:
                return core.XR_EVENT_UNAVAILABLE
            state.events.extend(self._as_event_structs(state, event))
            if not state.events:
                return core.XR_EVENT_UNAVAILABLE
        data = state.events.popleft()
        ctypes.memmove(buffer, data, len(data))
        self.trace.events.append(ctypes.c_int32.from_buffer_copy(data).value)
        if ctypes.c_int32.from_buffer_copy(data).value == (
            core.XR_TYPE_EVENT_DATA_INSTANCE_LOSS_PENDING
        ):
            # From now on the instance is lost: every call but xrDestroyInstance fails,
            # and the engine stops (the peer sees the connection go).
            state.lost = True
            state.events.clear()
            state.close_backend()
        return SUCCESS

    # --- for tests: what a runtime may do at any moment ------------------------------

    def inject_events(self, handle: int, structs: list[ctypes.Structure]) -> None:
        """Queue raw events ahead of the engine's, as another part of a runtime would."""
        state = self._require(handle)
        state.events.extend(bytes(item) for item in structs)

    def lose_instance(self, handle: int) -> None:
        """Lose the instance without an event: every later call but xrDestroyInstance
        returns XR_ERROR_INSTANCE_LOST."""
        state = self._require(handle)
        state.lost = True
        state.events.clear()
        state.close_backend()

    def _as_event_structs(self, state: _Instance, event: Any) -> list[bytes]:
        """The XrEventData* structs one engine event becomes, as the variant says."""
        struct: ctypes.Structure
        if isinstance(event, ListeningEvent):
            struct = s.XrRemotingEventDataListeningMSFT(listeningPort=event.listening_port)
        elif isinstance(event, ConnectedEvent):
            struct = s.XrRemotingEventDataConnectedMSFT()
        elif isinstance(event, DisconnectedEvent):
            struct = s.XrRemotingEventDataDisconnectedMSFT(
                disconnectReason=int(event.disconnect_reason)
            )
            if (
                self.variant.silent_token_refusal
                and event.disconnect_reason == DisconnectReason.AUTHENTICATION_FAILED
            ):
                state.pretend_listening = True
                return []
            if self.variant.events_lost_for_disconnect:
                struct = core.XrEventDataEventsLost(
                    type=core.XR_TYPE_EVENT_DATA_EVENTS_LOST, lostEventCount=1
                )
        elif isinstance(event, DATA_CHANNEL_EVENT_TYPES):
            return [bytes(self._channel_event_struct(state, event))]
        else:  # pragma: no cover - the contract has no other events
            raise TypeError(event)
        structs: list[ctypes.Structure] = []
        if self.variant.foreign_events:
            structs += [
                core.XrEventDataSessionStateChanged(
                    type=core.XR_TYPE_EVENT_DATA_SESSION_STATE_CHANGED,
                    session=0x5E55_1011,
                    state=core.XR_SESSION_STATE_IDLE,
                    time=1,
                ),
                core.XrEventDataInteractionProfileChanged(
                    type=core.XR_TYPE_EVENT_DATA_INTERACTION_PROFILE_CHANGED, session=0x5E55_1011
                ),
                # An event of an extension the app has never heard of.
                core.XrEventDataBaseHeader(type=1_000_999_001),
            ]
        structs.append(struct)
        if isinstance(event, ConnectedEvent) and self.variant.lose_instance_after_connected:
            structs.append(
                core.XrEventDataInstanceLossPending(
                    type=core.XR_TYPE_EVENT_DATA_INSTANCE_LOSS_PENDING, lossTime=1
                )
            )
        return [bytes(item) for item in structs]

    @staticmethod
    def _write_name(buffer: int | None, text: str, size: int) -> int:
        if not buffer:
            return VALIDATION_FAILURE
        data = text.encode()[: size - 1] + b"\0"
        ctypes.memmove(buffer, data, len(data))
        return SUCCESS

    def _result_to_string(self, handle: int | None, value: int, buffer: int | None) -> int:
        self._require(handle)
        try:
            text = Result(value).spec_name
        except ValueError:
            kind = "SUCCESS" if value >= 0 else "FAILURE"
            text = f"XR_UNKNOWN_{kind}_{value}"
        return self._write_name(buffer, text, core.XR_MAX_RESULT_STRING_SIZE)

    def _structure_type_to_string(self, handle: int | None, value: int, buffer: int | None) -> int:
        self._require(handle)
        try:
            text = StructureType(value).spec_name
        except ValueError:
            text = f"XR_UNKNOWN_STRUCTURE_TYPE_{value}"
        return self._write_name(buffer, text, core.XR_MAX_STRUCTURE_NAME_SIZE)

    # --- the five data-channel functions ----------------------------------------------
    #
    # Handle-first functions reach the runtime without an instance, so the handles the
    # application sees are this runtime's own (unique across instances), each mapped to
    # its instance and the engine's handle.

    def _runtime_channel(self, state: _Instance, engine_handle: int) -> int:
        with self._lock:
            for handle, (owner, inner) in self._channels.items():
                if owner is state and inner == engine_handle:
                    return handle
            handle = next(self._channel_handles)
            self._channels[handle] = (state, engine_handle)
            return handle

    def _channel(self, handle: int | None) -> tuple[_Instance, int]:
        with self._lock:
            found = self._channels.get(handle or 0)
        if found is None:
            raise RemotingCallError("test runtime", core.XR_ERROR_HANDLE_INVALID, "no channel")
        state, inner = found
        if state.lost:
            raise RemotingCallError("test runtime", core.XR_ERROR_INSTANCE_LOST, "lost")
        return state, inner

    def _channel_event_struct(self, state: _Instance, event: Any) -> ctypes.Structure:
        if isinstance(event, DataChannelCreatedEvent):
            return cs.XrEventDataRemotingDataChannelCreatedMSFT(
                channelId=event.channel_id, channel=self._runtime_channel(state, event.channel)
            )
        handle = self._runtime_channel(state, event.channel)
        if isinstance(event, DataChannelOpenedEvent):
            return cs.XrEventDataRemotingDataChannelOpenedMSFT(channel=handle)
        if isinstance(event, DataChannelDataReceivedEvent):
            return cs.XrEventDataRemotingDataChannelDataReceivedMSFT(
                channel=handle, size=event.size, packetId=event.packet_id
            )
        return cs.XrEventDataRemotingDataChannelClosedMSFT(
            channel=handle, closedReason=int(event.closed_reason)
        )

    def _create_channel(self, handle: Any, system_id: Any, pointer: Any, out: Any) -> int:
        state = self._require(handle, system_id)
        info = self._checked(pointer, StructureType.REMOTING_DATA_CHANNEL_CREATE_INFO_MSFT)
        if not out:
            return VALIDATION_FAILURE
        self.trace.calls.append("xrCreateRemotingDataChannelMSFT")
        inner = state.backend.create_data_channel(
            cs.XrRemotingDataChannelCreateInfoMSFT.from_buffer_copy(info)
        )
        out[0] = self._runtime_channel(state, inner)
        return SUCCESS

    def _destroy_channel(self, handle: Any) -> int:
        state, inner = self._channel(handle)
        self.trace.calls.append("xrDestroyRemotingDataChannelMSFT")
        state.backend.destroy_data_channel(inner)
        with self._lock:
            self._channels.pop(handle, None)
        return SUCCESS

    def _channel_state(self, handle: Any, pointer: Any) -> int:
        state, inner = self._channel(handle)
        out = self._checked(pointer, StructureType.REMOTING_DATA_CHANNEL_STATE_MSFT)
        answer = state.backend.get_data_channel_state(inner)
        out.sendQueueSize = answer.send_queue_size
        out.connectionStatus = int(answer.status)
        return SUCCESS

    def _send_data(self, handle: Any, pointer: Any) -> int:
        state, inner = self._channel(handle)
        info = self._checked(pointer, StructureType.REMOTING_DATA_CHANNEL_SEND_DATA_INFO_MSFT)
        state.backend.send_remoting_data(inner, info)
        return SUCCESS

    def _retrieve_data(
        self, handle: Any, packet_id: int, capacity: int, count_out: Any, data: Any
    ) -> int:
        state, inner = self._channel(handle)
        if not count_out:
            return VALIDATION_FAILURE
        self.trace.callback_capacities.append(("xrRetrieveRemotingDataMSFT", int(capacity)))
        buffer = None
        if capacity:
            if not data:
                return VALIDATION_FAILURE
            buffer = (ctypes.c_uint8 * capacity).from_address(
                ctypes.cast(data, ctypes.c_void_p).value or 0
            )
        try:
            count_out[0] = state.backend.retrieve_remoting_data(inner, packet_id, capacity, buffer)
        except RetrieveCapacityError as exc:
            count_out[0] = exc.required
            return exc.result
        return SUCCESS

    # --- the seven extension functions ---------------------------------------------

    @staticmethod
    def _checked(pointer: Any, expected: StructureType) -> Any:
        if not pointer:
            raise RemotingCallError("test runtime", VALIDATION_FAILURE, "null struct pointer")
        struct = pointer.contents
        if struct.type != int(expected):
            raise RemotingCallError("test runtime", VALIDATION_FAILURE, "wrong structure type")
        return struct

    def _set_context_properties(self, handle: Any, system_id: Any, pointer: Any) -> int:
        state = self._require(handle, system_id)
        properties = self._checked(pointer, StructureType.REMOTING_REMOTE_CONTEXT_PROPERTIES_MSFT)
        self._require_disconnected(state)
        state.backend.set_context_properties(
            s.XrRemotingRemoteContextPropertiesMSFT.from_buffer_copy(properties)
        )
        return SUCCESS

    def _connect(self, handle: Any, system_id: Any, pointer: Any) -> int:
        state = self._require(handle, system_id)
        info = self._checked(pointer, StructureType.REMOTING_CONNECT_INFO_MSFT)
        self._require_disconnected(state)
        host = _read_c_string(_pointer_field(info, "remoteHostName"), limits.MAX_HOST_NAME_BYTES)
        if host is None:
            return VALIDATION_FAILURE
        self.trace.calls.append("xrRemotingConnectMSFT")
        state.backend.connect(
            s.XrRemotingConnectInfoMSFT(
                remoteHostName=host,
                remotePort=info.remotePort,
                secureConnection=info.secureConnection,
            )
        )
        return SUCCESS

    def _listen(self, handle: Any, system_id: Any, pointer: Any) -> int:
        state = self._require(handle, system_id)
        info = self._checked(pointer, StructureType.REMOTING_LISTEN_INFO_MSFT)
        self._require_disconnected(state)
        interface = _read_c_string(
            _pointer_field(info, "listenInterface"), limits.MAX_HOST_NAME_BYTES
        )
        if interface is None:
            return VALIDATION_FAILURE
        self.trace.calls.append("xrRemotingListenMSFT")
        state.backend.listen(
            s.XrRemotingListenInfoMSFT(
                listenInterface=interface,
                handshakeListenPort=info.handshakeListenPort,
                transportListenPort=info.transportListenPort,
                secureConnection=info.secureConnection,
            )
        )
        return SUCCESS

    def _disconnect(self, handle: Any, system_id: Any, pointer: Any) -> int:
        state = self._require(handle, system_id)
        self._checked(pointer, StructureType.REMOTING_DISCONNECT_INFO_MSFT)
        self.trace.calls.append("xrRemotingDisconnectMSFT")
        state.backend.disconnect(s.XrRemotingDisconnectInfoMSFT())
        if state.pretend_listening:
            state.pretend_listening = False
            ended = s.XrRemotingEventDataDisconnectedMSFT(
                disconnectReason=int(DisconnectReason.DISCONNECT_REQUEST)
            )
            state.events.append(bytes(ended))
        return SUCCESS

    def _get_connection_state(
        self, handle: Any, system_id: Any, state_out: Any, reason_out: Any
    ) -> int:
        state = self._require(handle, system_id)
        if not state_out or not reason_out:
            return VALIDATION_FAILURE
        pointers = (
            ctypes.cast(state_out, ctypes.c_void_p).value or 0,
            ctypes.cast(reason_out, ctypes.c_void_p).value or 0,
        )
        self.trace.connection_state_pointers.append(pointers)
        if pointers[0] == pointers[1]:
            return VALIDATION_FAILURE  # one int32 cannot hold both
        connection, reason = state.backend.get_connection_state()
        if state.pretend_listening:
            connection, reason = ConnectionState.CONNECTING, DisconnectReason.NONE
        state_out[0] = int(connection)
        reason_out[0] = 0x7FFF_FFFF if self.variant.odd_connection_state else int(reason)
        return SUCCESS

    def _set_client_callbacks(self, handle: Any, system_id: Any, pointer: Any) -> int:
        state = self._require(handle, system_id)
        app = self._checked(pointer, StructureType.REMOTING_SECURE_CONNECTION_CLIENT_CALLBACKS_MSFT)
        if not app.requestAuthenticationTokenCallback or not app.validateServerCertificateCallback:
            return VALIDATION_FAILURE
        self._require_disconnected(state)
        saved = s.XrRemotingSecureConnectionClientCallbacksMSFT.from_buffer_copy(app)
        saved.next = None
        engine = s.XrRemotingSecureConnectionClientCallbacksMSFT(
            context=state.handle,
            requestAuthenticationTokenCallback=_relay_request_token,
            validateServerCertificateCallback=_relay_validate_certificate,
            performSystemValidation=app.performSystemValidation,
        )
        with state.lock:
            state.app_client = saved
            state.engine_structs.append(engine)
        state.backend.set_secure_connection_client_callbacks(engine)
        return SUCCESS

    def _set_server_callbacks(self, handle: Any, system_id: Any, pointer: Any) -> int:
        state = self._require(handle, system_id)
        app = self._checked(pointer, StructureType.REMOTING_SECURE_CONNECTION_SERVER_CALLBACKS_MSFT)
        if not app.requestServerCertificateCallback or not app.validateAuthenticationTokenCallback:
            return VALIDATION_FAILURE
        realm = _read_c_string(_pointer_field(app, "authenticationRealm"), limits.MAX_STRING_BUFFER)
        if realm is None:
            return VALIDATION_FAILURE
        self._require_disconnected(state)
        saved = s.XrRemotingSecureConnectionServerCallbacksMSFT.from_buffer_copy(app)
        saved.next = None
        saved.authenticationRealm = realm  # our copy; ctypes keeps the bytes alive
        engine = s.XrRemotingSecureConnectionServerCallbacksMSFT(
            context=state.handle,
            requestServerCertificateCallback=_relay_request_certificate,
            validateAuthenticationTokenCallback=_relay_validate_token,
            authenticationRealm=realm,
        )
        with state.lock:
            state.app_server = saved
            state.realm = realm
            state.engine_structs.append(engine)
        state.backend.set_secure_connection_server_callbacks(engine)
        return SUCCESS

    @staticmethod
    def _require_disconnected(state: _Instance) -> None:
        connection, _reason = state.backend.get_connection_state()
        if connection != ConnectionState.DISCONNECTED or state.pretend_listening:
            raise RemotingCallError(
                "test runtime", int(Result.ERROR_REMOTING_NOT_DISCONNECTED_MSFT)
            )

    # --- relays: the engine calls these; they call the app's callbacks -------------

    _CALLBACK_FIELDS = {
        "requestAuthenticationTokenCallback": s.PFN_xrRemotingRequestAuthenticationTokenCallbackMSFT,
        "validateServerCertificateCallback": s.PFN_xrRemotingValidateServerCertificateCallbackMSFT,
        "requestServerCertificateCallback": s.PFN_xrRemotingRequestServerCertificateCallbackMSFT,
        "validateAuthenticationTokenCallback": (
            s.PFN_xrRemotingValidateAuthenticationTokenCallbackMSFT
        ),
    }

    def _via_runtime_threads(self, app: Any) -> Any:
        """The app's callbacks struct, or (twin variants) a copy whose function pointers
        run the app's function on a new C thread, the caller waiting for it."""
        if not self.variant.callbacks_on_c_thread:
            return app
        if self._call_on_new_thread is None:
            raise RuntimeError("the shim library is not attached")
        copy = type(app).from_buffer_copy(app)
        for name, _kind in type(app)._fields_:
            prototype = self._CALLBACK_FIELDS.get(name)
            if prototype is not None:
                target = ctypes.cast(getattr(app, name), ctypes.c_void_p).value
                setattr(copy, name, self._hop(prototype, target))
        return copy

    def _hop(self, prototype: Any, target: int | None) -> Any:
        call = self._call_on_new_thread
        threads = self.trace.callback_threads

        def hop(pointer: Any) -> int:
            try:
                native = ctypes.c_uint64(0)
                address = ctypes.cast(pointer, ctypes.c_void_p)
                result = int(call(target, address, ctypes.byref(native)))
                threads.append(native.value)
                return result
            except BaseException:
                log.error("test runtime: calling on a C thread failed\n%s", traceback.format_exc())
                return RUNTIME_FAILURE

        return prototype(hop)

    def relay_request_token(self, request: s.XrRemotingAuthenticationTokenRequestMSFT) -> int:
        state = self._require(request.context)
        with state.lock:
            app = state.app_client
            token = state.pending_token
            state.pending_token = None
        if app is None:
            return CALLBACK_ERROR
        if token is None:
            capacity = self.variant.initial_capacity
            self.trace.callback_capacities.append(("RequestAuthenticationToken", capacity))
            outcome = invoke.request_authentication_token(
                self._via_runtime_threads(app), initial_capacity=capacity
            )
            if not outcome.ok or outcome.value is None:
                return _failure(outcome.result)
            token = outcome.value.encode()
        needed = len(token) + 1
        request.tokenSizeOut = needed
        if request.tokenCapacityIn < needed:
            with state.lock:
                state.pending_token = token
            return SIZE_INSUFFICIENT
        ctypes.memmove(request.tokenBuffer, token + b"\0", needed)
        return SUCCESS

    def relay_validate_certificate(
        self, request: s.XrRemotingServerCertificateValidationMSFT
    ) -> int:
        state = self._require(request.context)
        with state.lock:
            app = state.app_client
        if app is None:
            return CALLBACK_ERROR
        host = _read_c_string(_pointer_field(request, "hostName"), limits.MAX_HOST_NAME_BYTES)
        chain = tuple(
            ctypes.string_at(request.certificates[index].data, request.certificates[index].size)
            for index in range(request.numCertificates)
        )
        system = (
            read_verdict(request.systemValidationResult.contents)
            if request.systemValidationResult and self.variant.pass_system_result
            else None
        )
        self.trace.system_result_passed.append(system is not None)
        outcome = invoke.validate_server_certificate(
            self._via_runtime_threads(app),
            host_name=(host or b"").decode("utf-8", "replace"),
            chain=chain,
            force_revocation_check=bool(request.forceRevocationCheck),
            system_result=system,
        )
        if outcome.value is not None:
            write_verdict(request.validationResultOut, outcome.value)
        return _failure(outcome.result) if outcome.result != SUCCESS else SUCCESS

    def relay_validate_token(self, request: s.XrRemotingAuthenticationTokenValidationMSFT) -> int:
        state = self._require(request.context)
        with state.lock:
            app = state.app_server
        request.tokenValidOut = XR_FALSE
        if app is None:
            return CALLBACK_ERROR
        token = _read_c_string(_pointer_field(request, "token"), limits.MAX_STRING_BUFFER)
        if token is None:
            return SUCCESS  # no readable token is not a valid token
        outcome = invoke.validate_authentication_token(
            self._via_runtime_threads(app), token.decode("utf-8", "replace")
        )
        if outcome.result != SUCCESS:
            return _failure(outcome.result)
        request.tokenValidOut = XR_TRUE if outcome.value else XR_FALSE
        return SUCCESS

    def relay_request_certificate(self, request: s.XrRemotingServerCertificateRequestMSFT) -> int:
        state = self._require(request.context)
        with state.lock:
            app = state.app_server
            pending = state.pending_certificate
            state.pending_certificate = None
        if app is None:
            return CALLBACK_ERROR
        if pending is None:
            capacity = self.variant.initial_capacity
            self.trace.callback_capacities.append(("RequestServerCertificate", capacity))
            outcome = invoke.request_server_certificate(
                self._via_runtime_threads(app),
                initial_store_capacity=capacity,
                initial_string_capacity=capacity,
            )
            if not outcome.ok or outcome.value is None:
                return _failure(outcome.result)
            pending = _PendingCertificate(outcome.value)
        material = pending.material
        store = material.cert_store
        passphrase = material.key_passphrase.encode() + b"\0"
        subject = material.subject_name.encode() + b"\0"
        request.certStoreSizeOut = len(store)
        request.keyPassphraseSizeOut = len(passphrase)
        request.subjectNameSizeOut = len(subject)
        if (
            request.certStoreCapacityIn < len(store)
            or request.keyPassphraseCapacityIn < len(passphrase)
            or request.subjectNameCapacityIn < len(subject)
        ):
            with state.lock:
                state.pending_certificate = pending
            return SIZE_INSUFFICIENT
        ctypes.memmove(request.certStoreBuffer, store, len(store))
        ctypes.memmove(request.keyPassphraseBuffer, passphrase, len(passphrase))
        ctypes.memmove(request.subjectNameBuffer, subject, len(subject))
        return SUCCESS


def _failure(result: int) -> int:
    """A failed app callback, as this runtime reports it to the engine. SIZE_INSUFFICIENT
    from the app (asking beyond the limits) must not read as 'give *me* more room'."""
    if result in (SUCCESS, SIZE_INSUFFICIENT):
        return CALLBACK_ERROR
    return result


# --- static relay trampolines (context = instance handle) ------------------------------

_runtimes_lock = threading.Lock()
_runtimes: list[TestRuntime] = []  # every runtime ever installed in this process


def _owner(context: int | None) -> TestRuntime | None:
    with _runtimes_lock:
        for runtime in _runtimes:
            if runtime._instance(context) is not None:
                return runtime
    return None


def _relay(method: str) -> Callable[[Any], int]:
    def relay(pointer: Any) -> int:
        try:
            if not pointer:
                return RUNTIME_FAILURE
            request = pointer.contents
            runtime = _owner(request.context)
            if runtime is None:
                return RUNTIME_FAILURE
            return int(getattr(runtime, method)(request))
        except BaseException:
            log.error("test runtime: %s raised\n%s", method, traceback.format_exc())
            return RUNTIME_FAILURE

    return relay


_relay_request_token = s.PFN_xrRemotingRequestAuthenticationTokenCallbackMSFT(
    _relay("relay_request_token")
)
_relay_validate_certificate = s.PFN_xrRemotingValidateServerCertificateCallbackMSFT(
    _relay("relay_validate_certificate")
)
_relay_validate_token = s.PFN_xrRemotingValidateAuthenticationTokenCallbackMSFT(
    _relay("relay_validate_token")
)
_relay_request_certificate = s.PFN_xrRemotingRequestServerCertificateCallbackMSFT(
    _relay("relay_request_certificate")
)


# --- installing into a loaded shim ------------------------------------------------------

_libraries: dict[str, Any] = {}  # path -> CDLL, kept for the life of the process


def load_shim(library_path: str) -> Any:
    """The shim, loaded by absolute path with RTLD_GLOBAL, so that the loader's later
    dlopen of the same path returns this very copy."""
    path = str(Path(library_path).resolve())
    with _runtimes_lock:
        if path not in _libraries:
            _libraries[path] = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        return _libraries[path]


def install(
    library_path: str, variant: Variant, backend_factory: BackendFactory = default_backend
) -> TestRuntime:
    """Create the Python side for the shim at `library_path` and hand it its
    xrGetInstanceProcAddr. Call before the loader first uses that runtime."""
    library = load_shim(library_path)
    runtime = TestRuntime(variant, backend_factory)
    setter = library.holoremote_test_runtime_set_proc_addr
    setter.restype = None
    setter.argtypes = [ctypes.c_void_p]
    runtime.attach_library(library)
    with _runtimes_lock:
        _runtimes.append(runtime)
    setter(ctypes.cast(runtime.get_instance_proc_addr, ctypes.c_void_p).value)
    return runtime


def bootstrap(library_path: str) -> TestRuntime:
    """Called by the shim (through bootstrap.py) in a process nobody prepared: read
    the variant from config.json beside the library and install."""
    variant = Variant.from_file(Path(library_path).parent / "config.json")
    return install(library_path, variant)

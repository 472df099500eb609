"""The runtime contract over a real OpenXR runtime, through pyopenxr's Khronos loader.

This is what runs against Microsoft's Holographic Remoting OpenXR runtime
(`RemotingXR.json`): the seed page's sequence, from Python. `OpenXRRuntime.open()`

1. enumerates the instance extensions and checks `XR_MSFT_holographic_remoting` is
   offered (if not, it names the runtime: its `runtimeName`, from an instance made
   without the extension, else the manifest);
2. creates the `XrInstance` with the extension enabled (API 1.0, which every 1.x
   runtime accepts) and gets the `XrSystemId` for the head-mounted form factor
   (remoting runtimes report one even with no device attached);
3. looks the seven extension functions up with `xrGetInstanceProcAddr` and casts
   each to its ctypes type from `app.xr.structs.EXTENSION_FUNCTIONS`.

Core calls go to the loader through prototypes declared here with a plain `int32`
result (pyopenxr's own prototypes turn the result into its `Result` enum, which
raises on codes it does not know, such as the extension's); pyopenxr supplies the
core structs. `poll_event` reads the raw `int32` type at offset 0 of
`xr.EventDataBuffer` (pyopenxr's `StructureType` does not know the remoting types)
and casts the buffer to the matching event struct.

What a different but conforming runtime may do, and what happens then:

- It hands out the extension's functions only for an instance that enabled the
  extension: they are looked up after `xrCreateInstance` with it enabled, never with
  `XR_NULL_HANDLE` or an instance made without it.
- `xrPollEvent` answers `XR_EVENT_UNAVAILABLE` (4) when the queue is empty: that is
  "no event", never an error.
- Events that are not the extension's (session state changes, interaction profile
  changes, events of extensions we do not know) are skipped, at most
  `MAX_SKIPPED_EVENTS_PER_POLL` per call.
- `XrEventDataEventsLost`: the runtime's queue overflowed, so a connected or
  disconnected event may be gone. The connection state is asked with
  `xrRemotingGetConnectionStateMSFT` and the missing event made up from it (the
  disconnect reason from `lastDisconnectReason`; a reason outside the enum, or NONE
  for a connection that did end, reads as UNKNOWN).
- Instance loss (`XrEventDataInstanceLossPending`, or `XR_ERROR_INSTANCE_LOST` from any
  call): the instance is destroyed at once, as the specification asks, and a
  connection or listener in progress ends with `Disconnected(INTERNAL_ERROR)`:
  `INSTANCE_LOSS_REASON`. Not CONNECTION_LOST: its advice (check the peer and the
  network) would send the user the wrong way; the runtime itself went away (crash,
  update), which is what INTERNAL_ERROR's "retry; report it if it repeats" fits, and a
  listener treats INTERNAL_ERROR as fatal instead of listening again on a dead
  instance. A note says what happened. Every later call fails with
  `XR_ERROR_INSTANCE_LOST` and says so.
- A refused token on a listener. The specification names AUTHENTICATION_FAILED a
  client's reason; a runtime may well refuse the client and go on listening without
  any event on the server side, while the built-in runtime ends the listen with
  `Disconnected(AUTHENTICATION_FAILED)` (so `listen --once` exits 3 with that
  reason). To give the same outcome whichever runtime runs, the server's
  ValidateAuthenticationToken reaches the app's callback through a watcher here
  (`_watch_token_validation`, which only forwards and looks at the verdict; why it is
  not one of `app.xr`'s trampolines is said beside it). Once
  `REFUSAL_GRACE_S` has passed after a refusal (time for the runtime to send its
  answer to the client, which ending the listen at once could cut off, turning the
  client's AUTHENTICATION_FAILED into a broken handshake), `poll_event` asks the
  runtime for its state: if it is still listening (no client connected), it is told
  to disconnect, and the disconnected event that follows carries
  AUTHENTICATION_FAILED. A runtime that ends the listen itself is left alone (its own
  event says why).
- `XR_ERROR_REMOTING_NOT_DISCONNECTED_MSFT` (setting callbacks or context properties
  while connected): the call fails with a message saying to disconnect first; the
  callbacks in use stay in use (and stay referenced).

Threads: the session calls these methods from worker threads. OpenXR promises
nothing about calling the extension's functions concurrently, and
`xrDestroyInstance` needs the instance externally synchronised, so every call into
the runtime is serialised with one lock. The lock is never needed by the
callbacks (they go through `app.xr.trampolines`, which takes no lock of ours), so a
runtime that calls a callback while one of our calls is in progress cannot deadlock
on it.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
import time
from typing import Any

import xr

from app.remoting.contract import (
    ConnectedEvent,
    DataChannelClosedEvent,
    DataChannelCreatedEvent,
    DataChannelDataReceivedEvent,
    DataChannelOpenedEvent,
    DataChannelState,
    DisconnectedEvent,
    ListeningEvent,
    RemotingCallError,
    RemotingEvent,
    RemotingRuntime,
    RetrieveCapacityError,
    check_retrieve_buffer,
)
from app.remoting.openxr import manifest as manifests
from app.remoting.openxr.errors import (
    EXTENSION,
    ExtensionFunctionMissingError,
    ExtensionNotOfferedError,
    NoOpenXRRuntimeError,
    OpenXRCallError,
)
from app.xr import trampolines
from app.xr.channel_structs import (
    DATA_CHANNEL_EVENTS,
    DATA_CHANNEL_FUNCTIONS,
    XrEventDataRemotingDataChannelClosedMSFT,
    XrEventDataRemotingDataChannelCreatedMSFT,
    XrEventDataRemotingDataChannelDataReceivedMSFT,
    XrEventDataRemotingDataChannelOpenedMSFT,
    XrRemotingDataChannelCreateInfoMSFT,
    XrRemotingDataChannelMSFT,
    XrRemotingDataChannelSendDataInfoMSFT,
    XrRemotingDataChannelStateMSFT,
)
from app.xr.structs import (
    EXTENSION_FUNCTIONS,
    PFN_xrRemotingValidateAuthenticationTokenCallbackMSFT,
    XrEnum,
    XrRemotingConnectInfoMSFT,
    XrRemotingDisconnectInfoMSFT,
    XrRemotingEventDataDisconnectedMSFT,
    XrRemotingEventDataListeningMSFT,
    XrRemotingListenInfoMSFT,
    XrRemotingRemoteContextPropertiesMSFT,
    XrRemotingSecureConnectionClientCallbacksMSFT,
    XrRemotingSecureConnectionServerCallbacksMSFT,
)
from app.xr.values import (
    XR_FALSE,
    XR_TRUE,
    ConnectionState,
    DataChannelClosedReason,
    DataChannelStatus,
    DisconnectReason,
    Result,
    StructureType,
    result_name,
)

log = logging.getLogger(__name__)

APPLICATION_NAME = "holoremote"
#: The reason a connection in progress ends with when the runtime loses the instance
#: (see the module documentation for why).
INSTANCE_LOSS_REASON = DisconnectReason.INTERNAL_ERROR
#: After the app refused a client's token, how long a runtime that goes on listening
#: gets to answer that client before holoremote ends the listen (see above).
REFUSAL_GRACE_S = 1.0
_TYPE_EVENT_DATA_INSTANCE_LOSS_PENDING = 17  # XR_TYPE_EVENT_DATA_INSTANCE_LOSS_PENDING
_TYPE_EVENT_DATA_EVENTS_LOST = 49  # XR_TYPE_EVENT_DATA_EVENTS_LOST
_NOT_DISCONNECTED = int(Result.ERROR_REMOTING_NOT_DISCONNECTED_MSFT)
_INSTANCE_LOST = int(Result.ERROR_INSTANCE_LOST)
# Events other than the remoting ones (instance loss, interaction profile changes…)
# are skipped; this bounds how many one poll_event call may skip before it returns.
MAX_SKIPPED_EVENTS_PER_POLL = 64
_RUNTIME_LOAD_FAILURES = frozenset(
    {
        int(Result.ERROR_RUNTIME_UNAVAILABLE),
        int(Result.ERROR_RUNTIME_FAILURE),
        int(Result.ERROR_INITIALIZATION_FAILED),
        int(Result.ERROR_INSTANCE_LOST),
    }
)
_REMOTING_EVENTS = {
    int(StructureType.REMOTING_EVENT_DATA_LISTENING_MSFT),
    int(StructureType.REMOTING_EVENT_DATA_CONNECTED_MSFT),
    int(StructureType.REMOTING_EVENT_DATA_DISCONNECTED_MSFT),
    *DATA_CHANNEL_EVENTS,
}


class _Loader:
    """The core functions of the loader pyopenxr ships, with raw int32 results.

    `CDLL[name]` makes a fresh function object, so pyopenxr's own prototypes on the
    same symbols are left as they are.
    """

    def __init__(self) -> None:
        lib = xr.library.openxr_loader_library
        handle = ctypes.c_void_p
        self.enumerate_extensions = self._declare(
            lib,
            "xrEnumerateInstanceExtensionProperties",
            [ctypes.c_char_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32), ctypes.c_void_p],
        )
        self.create_instance = self._declare(
            lib, "xrCreateInstance", [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
        )
        self.destroy_instance = self._declare(lib, "xrDestroyInstance", [handle])
        self.get_instance_properties = self._declare(
            lib, "xrGetInstanceProperties", [handle, ctypes.c_void_p]
        )
        self.get_system = self._declare(
            lib, "xrGetSystem", [handle, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64)]
        )
        self.get_instance_proc_addr = self._declare(
            lib,
            "xrGetInstanceProcAddr",
            [handle, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)],
        )
        self.poll_event = self._declare(lib, "xrPollEvent", [handle, ctypes.c_void_p])

    @staticmethod
    def _declare(lib: Any, name: str, argtypes: list[Any]) -> Any:
        function = lib[name]
        function.restype = ctypes.c_int32
        function.argtypes = argtypes
        return function


_loader: _Loader | None = None
_loader_lock = threading.Lock()


def _get_loader() -> _Loader:
    global _loader
    with _loader_lock:
        if _loader is None:
            _loader = _Loader()
        return _loader


def _text(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _manifest_source() -> str:
    """The manifest the loader is using, for messages (never raises)."""
    active = manifests.find_active_runtime()
    if active is None:
        return "the system's active runtime"
    return str(active.path)


def enumerate_extensions() -> list[tuple[str, int]]:
    """xrEnumerateInstanceExtensionProperties (runtime and loader), as (name, version)."""
    loader = _get_loader()
    count = ctypes.c_uint32(0)
    result = loader.enumerate_extensions(None, 0, ctypes.byref(count), None)
    if result < 0:
        _raise_load_failure("xrEnumerateInstanceExtensionProperties", result)
    # The count may grow between the calls (a runtime updated in between); retry once.
    for _attempt in range(2):
        # A ctypes array does not run the element constructor: set each `type`, which
        # the loader checks (VUID-XrExtensionProperties-type-type).
        size = max(count.value, 1)
        array = (xr.ExtensionProperties * size)(*(xr.ExtensionProperties() for _ in range(size)))
        result = loader.enumerate_extensions(None, count.value, ctypes.byref(count), array)
        if result == int(Result.ERROR_SIZE_INSUFFICIENT):
            continue
        if result < 0:
            _raise_load_failure("xrEnumerateInstanceExtensionProperties", result)
        return [
            (_text(array[index].extension_name), int(array[index].extension_version))
            for index in range(count.value)
        ]
    _raise_load_failure("xrEnumerateInstanceExtensionProperties", result)
    raise AssertionError("unreachable")  # pragma: no cover


def _raise_load_failure(function: str, result: int) -> None:
    active = manifests.find_active_runtime()
    if active is None:
        raise NoOpenXRRuntimeError(manifests.describe_search(), result=result)
    if result in _RUNTIME_LOAD_FAILURES:
        detail = f"the loader could not load the runtime named by {active.path} ({active.source})"
        try:
            library = manifests.load_manifest(active.path).resolved_library
            detail += f", library {library}"
        except manifests.RuntimeManifestError as exc:
            detail += f": {exc.message}"
        raise NoOpenXRRuntimeError(
            f"{detail}; {function} returned {result_name(result)}", result=result
        )
    raise OpenXRCallError(
        function,
        result,
        str(active.path),
        "Check that the runtime named by the manifest is installed and working, "
        "or use --runtime builtin.",
    )


def _instance_create_info(extensions: list[str]) -> Any:
    application = xr.ApplicationInfo(
        application_name=APPLICATION_NAME,
        application_version=1,
        engine_name=APPLICATION_NAME,
        engine_version=1,
        api_version=xr.XR_API_VERSION_1_0,
    )
    return xr.InstanceCreateInfo(
        application_info=application, enabled_extension_names=extensions or None
    )


def _create_instance(extensions: list[str]) -> tuple[int, int]:
    """(XrResult, handle) of xrCreateInstance."""
    info = _instance_create_info(extensions)
    handle = ctypes.c_void_p(0)
    result = _get_loader().create_instance(ctypes.byref(info), ctypes.byref(handle))
    return int(result), int(handle.value or 0)


def _runtime_properties(handle: int) -> tuple[str, str] | None:
    """(runtimeName, runtimeVersion) from xrGetInstanceProperties, or None."""
    properties = xr.InstanceProperties()
    result = _get_loader().get_instance_properties(handle, ctypes.byref(properties))
    if result < 0:
        return None
    version = int(properties._runtime_version)
    text = f"{version >> 48}.{(version >> 32) & 0xFFFF}.{version & 0xFFFFFFFF}"
    return _text(properties.runtime_name) or "(unnamed runtime)", text


def _name_without_extension() -> str | None:
    """Make an instance without any extension just to read the runtime's name."""
    result, handle = _create_instance([])
    if result < 0 or not handle:
        return None
    try:
        properties = _runtime_properties(handle)
        return properties[0] if properties else None
    finally:
        _get_loader().destroy_instance(handle)


class OpenXRRuntime(RemotingRuntime):
    """One XrInstance + XrSystemId of the active OpenXR runtime, with the extension."""

    def __init__(
        self,
        *,
        instance: int,
        system_id: int,
        runtime_name: str,
        runtime_version: str,
        manifest_path: str,
        functions: dict[str, Any],
    ) -> None:
        self._instance = instance
        self._system_id = system_id
        self.runtime_name = runtime_name
        self.runtime_version = runtime_version
        self.manifest_path = manifest_path
        self._functions = functions
        self.display_name = f"OpenXR: {runtime_name}"
        self._lock = threading.Lock()
        self._closed = False
        # Why the runtime lost the instance (None: not lost). Guarded by _lock.
        self._lost: str | None = None
        # A connect or listen was accepted and its disconnected event not yet seen;
        # and whether its connected event was. Guarded by _lock.
        self._active = False
        self._connected_seen = False
        self._notes: list[str] = []
        # Set by the token watcher (on a runtime thread, so not under _lock) when the
        # app refused a client's token; the reason the next disconnect is reported with.
        self._refusal_lock = threading.Lock()
        self._refused_at: float | None = None  # time.monotonic() of the last refusal
        self._ending_reason: DisconnectReason | None = None
        self._watched_context: int | None = None
        # The callbacks structs the runtime holds, by kind: the runtime may keep the
        # struct's pointers (the realm) although the specification only promises them
        # for the call. Replaced only when the runtime accepted a new one.
        self._kept: dict[str, Any] = {}

    # --- construction ------------------------------------------------------------------

    @classmethod
    def open(cls) -> OpenXRRuntime:
        """Load the active runtime through the loader; raise a named error if it cannot
        do Holographic Remoting."""
        source = _manifest_source()
        extensions = enumerate_extensions()
        names = [name for name, _version in extensions]
        if EXTENSION not in names:
            runtime = _name_without_extension() or source
            raise ExtensionNotOfferedError(runtime, source, names)

        result, instance = _create_instance([EXTENSION])
        if result == int(Result.ERROR_LIMIT_REACHED):
            raise OpenXRCallError(
                "xrCreateInstance",
                result,
                source,
                "The Khronos loader allows one XrInstance per process and another session "
                "in this process holds it: close that session first, or run this end in "
                "its own process or on --runtime builtin.",
            )
        if result < 0 or not instance:
            raise OpenXRCallError(
                "xrCreateInstance",
                result,
                source,
                f"The runtime offers {EXTENSION} but refused an instance with it; check "
                "the runtime's log, or use --runtime builtin.",
            )
        loader = _get_loader()
        try:
            properties = _runtime_properties(instance)
            name, version = properties if properties else (source, "unknown")
            get_info = xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY)
            system_id = ctypes.c_uint64(0)
            result = loader.get_system(instance, ctypes.byref(get_info), ctypes.byref(system_id))
            if result < 0:
                raise OpenXRCallError(
                    "xrGetSystem",
                    result,
                    name,
                    "A Holographic Remoting runtime reports a head-mounted system even "
                    "with no device attached; check that the manifest names the "
                    "remoting runtime, not a device runtime.",
                )
            functions = {
                function: cls._lookup(loader, instance, name, function, prototype)
                for function, prototype in EXTENSION_FUNCTIONS.items()
            }
            # Data channels are optional: a runtime without them still connects, and
            # their calls answer XR_ERROR_FUNCTION_UNSUPPORTED.
            for function, prototype in DATA_CHANNEL_FUNCTIONS.items():
                with contextlib.suppress(ExtensionFunctionMissingError):
                    functions[function] = cls._lookup(loader, instance, name, function, prototype)
        except BaseException:
            loader.destroy_instance(instance)
            raise
        log.info("openxr runtime opened: %s %s from %s", name, version, source)
        return cls(
            instance=instance,
            system_id=int(system_id.value),
            runtime_name=name,
            runtime_version=version,
            manifest_path=source,
            functions=functions,
        )

    @staticmethod
    def _lookup(loader: _Loader, instance: int, runtime: str, function: str, prototype: Any) -> Any:
        pointer = ctypes.c_void_p(0)
        result = loader.get_instance_proc_addr(
            instance, function.encode("ascii"), ctypes.byref(pointer)
        )
        if result < 0 or not pointer.value:
            raise ExtensionFunctionMissingError(
                runtime, function, result if result < 0 else int(Result.ERROR_FUNCTION_UNSUPPORTED)
            )
        return prototype(pointer.value)

    # --- calls ---------------------------------------------------------------------------

    def _call(self, function: str, *args: Any, starts: bool = False) -> None:
        """Call an extension function; `starts`: a connect or listen, after which the
        runtime owes us a disconnected event."""
        with self._lock:
            self._check_open(function)
            result = int(self._functions[function](self._instance, self._system_id, *args))
            if result == _INSTANCE_LOST:
                self._instance_lost_locked(f"{function} returned XR_ERROR_INSTANCE_LOST")
            elif result >= 0 and starts:
                self._active = True
                self._connected_seen = False
                self._ending_reason = None
                with self._refusal_lock:
                    self._refused_at = None
        if result == _NOT_DISCONNECTED:
            raise RemotingCallError(
                function,
                result,
                f"OpenXR runtime '{self.runtime_name}' is still connected, connecting or "
                "listening, and refuses this until it is disconnected",
                fix="Disconnect first and wait for the disconnected event; the callbacks "
                "and settings in use stay in force until then.",
            )
        if result == _INSTANCE_LOST:
            raise self._lost_error(function)
        if result < 0:
            raise RemotingCallError(function, result, f"OpenXR runtime '{self.runtime_name}'")

    def _check_open(self, function: str) -> None:
        if self._lost is not None:
            raise self._lost_error(function)
        if self._closed:
            raise RemotingCallError(
                function,
                int(Result.ERROR_HANDLE_INVALID),
                "the OpenXR instance was already destroyed (runtime closed)",
            )

    def _lost_error(self, function: str) -> RemotingCallError:
        return RemotingCallError(
            function,
            _INSTANCE_LOST,
            f"OpenXR runtime '{self.runtime_name}' lost the instance ({self._lost})",
            fix="Start holoremote again once the runtime is back (it may have been updated "
            "or stopped), or use --runtime builtin.",
        )

    def _instance_lost_locked(self, why: str) -> None:
        """The runtime lost the instance: destroy it now (the specification's advice),
        remember why, and leave a note. Idempotent; call with _lock held."""
        if self._lost is not None:
            return
        self._lost = why
        instance, self._instance = self._instance, 0
        log.warning("OpenXR runtime '%s' lost the instance: %s", self.runtime_name, why)
        self._notes.append(
            f"OpenXR runtime '{self.runtime_name}' lost the instance ({why}); "
            "holoremote destroyed it. A connection or listener in progress ended; start "
            "again once the runtime is back."
        )
        if instance:
            result = _get_loader().destroy_instance(instance)
            if result < 0:
                log.warning("xrDestroyInstance after instance loss: %s", result_name(result))

    def drain_notes(self) -> list[str]:
        """What the session should tell the user besides events (instance loss)."""
        with self._lock:
            notes, self._notes = self._notes, []
        return notes

    def _set_callbacks(self, kind: str, function: str, callbacks: Any) -> None:
        self._call(function, ctypes.byref(callbacks))
        with self._lock:
            self._kept[kind] = callbacks

    def set_context_properties(self, properties: XrRemotingRemoteContextPropertiesMSFT) -> None:
        self._call("xrRemotingSetContextPropertiesMSFT", ctypes.byref(properties))

    def set_secure_connection_client_callbacks(
        self, callbacks: XrRemotingSecureConnectionClientCallbacksMSFT
    ) -> None:
        self._set_callbacks("client", "xrRemotingSetSecureConnectionClientCallbacksMSFT", callbacks)

    def set_secure_connection_server_callbacks(
        self, callbacks: XrRemotingSecureConnectionServerCallbacksMSFT
    ) -> None:
        """The runtime gets the app's struct with one change: ValidateAuthenticationToken
        goes through `_watch_token_validation` (see the module documentation)."""
        function = "xrRemotingSetSecureConnectionServerCallbacksMSFT"
        app_validate = callbacks.validateAuthenticationTokenCallback
        context = int(callbacks.context or 0)
        if not app_validate or not context:
            self._set_callbacks("server", function, callbacks)
            return
        watched = XrRemotingSecureConnectionServerCallbacksMSFT.from_buffer_copy(callbacks)
        watched.validateAuthenticationTokenCallback = _watch_token_validation
        with _watch_lock:
            previous = _watchers.get(context)
            _watchers[context] = (self, app_validate)
        try:
            self._set_callbacks("server", function, watched)
        except BaseException:
            with _watch_lock:
                if previous is None:
                    _watchers.pop(context, None)
                else:
                    _watchers[context] = previous
            raise
        with self._lock:
            # The app struct too: `watched` shares its realm pointer.
            self._kept["server-app"] = callbacks
            old, self._watched_context = self._watched_context, context
        if old is not None and old != context:
            with _watch_lock:
                _watchers.pop(old, None)

    def _refused_a_token(self) -> None:
        """Called by the watcher, on a runtime thread: never takes _lock."""
        with self._refusal_lock:
            self._refused_at = time.monotonic()

    def _refusal_due(self) -> bool:
        """A refusal whose grace has passed (taken: True once per refusal)."""
        with self._refusal_lock:
            refused_at = self._refused_at
            if refused_at is None or time.monotonic() - refused_at < REFUSAL_GRACE_S:
                return False
            self._refused_at = None
            return True

    def connect(self, connect_info: XrRemotingConnectInfoMSFT) -> None:
        self._call("xrRemotingConnectMSFT", ctypes.byref(connect_info), starts=True)

    def listen(self, listen_info: XrRemotingListenInfoMSFT) -> None:
        self._call("xrRemotingListenMSFT", ctypes.byref(listen_info), starts=True)

    def disconnect(self, disconnect_info: XrRemotingDisconnectInfoMSFT) -> None:
        self._call("xrRemotingDisconnectMSFT", ctypes.byref(disconnect_info))

    def get_connection_state(self) -> tuple[ConnectionState, DisconnectReason]:
        # Two separate int32s, both pre-set: a runtime may write only the state (the
        # last reason is meaningful once disconnected).
        state = XrEnum(int(ConnectionState.DISCONNECTED))
        reason = XrEnum(int(DisconnectReason.NONE))
        self._call("xrRemotingGetConnectionStateMSFT", ctypes.byref(state), ctypes.byref(reason))
        return _connection_state(state.value), _disconnect_reason(reason.value)

    # --- data channels -------------------------------------------------------------------

    def _channel_call(self, function: str, *args: Any) -> int:
        """Call a data-channel function (handle-first, no instance); its result."""
        with self._lock:
            self._check_open(function)
            target = self._functions.get(function)
            if target is None:
                raise RemotingCallError(
                    function,
                    int(Result.ERROR_FUNCTION_UNSUPPORTED),
                    f"OpenXR runtime '{self.runtime_name}' does not offer it",
                )
            result = int(target(*args))
            if result == _INSTANCE_LOST:
                self._instance_lost_locked(f"{function} returned XR_ERROR_INSTANCE_LOST")
        if result == _INSTANCE_LOST:
            raise self._lost_error(function)
        return result

    def _channel_check(self, function: str, result: int) -> None:
        if result < 0:
            # The XR_ERROR_REMOTING_DATA_CHANNEL_* numbers are in no source this app has:
            # an unknown negative result is reported as the number it is.
            raise RemotingCallError(function, result, f"OpenXR runtime '{self.runtime_name}'")

    def create_data_channel(self, create_info: XrRemotingDataChannelCreateInfoMSFT) -> int:
        function = "xrCreateRemotingDataChannelMSFT"
        handle = XrRemotingDataChannelMSFT(0)
        result = self._channel_call(
            function,
            self._instance,
            self._system_id,
            ctypes.byref(create_info),
            ctypes.byref(handle),
        )
        self._channel_check(function, result)
        return int(handle.value)

    def destroy_data_channel(self, channel: int) -> None:
        function = "xrDestroyRemotingDataChannelMSFT"
        self._channel_check(function, self._channel_call(function, channel))

    def get_data_channel_state(self, channel: int) -> DataChannelState:
        function = "xrGetRemotingDataChannelStateMSFT"
        state = XrRemotingDataChannelStateMSFT()
        self._channel_check(function, self._channel_call(function, channel, ctypes.byref(state)))
        try:
            status = DataChannelStatus(state.connectionStatus)
        except ValueError:
            raise RemotingCallError(
                function,
                int(Result.ERROR_RUNTIME_FAILURE),
                f"the runtime reported an unknown channel status {state.connectionStatus}",
            ) from None
        return DataChannelState(send_queue_size=int(state.sendQueueSize), status=status)

    def send_remoting_data(
        self, channel: int, send_info: XrRemotingDataChannelSendDataInfoMSFT
    ) -> None:
        function = "xrSendRemotingDataMSFT"
        self._channel_check(
            function, self._channel_call(function, channel, ctypes.byref(send_info))
        )

    def retrieve_remoting_data(
        self,
        channel: int,
        packet_id: int,
        capacity: int,
        buffer: ctypes.Array[ctypes.c_uint8] | None,
    ) -> int:
        function = "xrRetrieveRemotingDataMSFT"
        check_retrieve_buffer(capacity, buffer)
        count = ctypes.c_uint32(0)
        data = (
            ctypes.cast(buffer, ctypes.POINTER(ctypes.c_uint8))
            if buffer is not None
            else ctypes.POINTER(ctypes.c_uint8)()
        )
        result = self._channel_call(
            function, channel, packet_id, capacity, ctypes.byref(count), data
        )
        needed = int(count.value)
        too_small = (int(Result.ERROR_VALIDATION_FAILURE), int(Result.ERROR_SIZE_INSUFFICIENT))
        if result in too_small and capacity and needed > capacity:
            raise RetrieveCapacityError(needed, capacity, result)
        self._channel_check(function, result)
        return needed

    def poll_event(self) -> RemotingEvent | None:
        """The next remoting event; None when there is none (XR_EVENT_UNAVAILABLE, or
        only other events so far). See the module documentation for lost events and
        instance loss."""
        loader = _get_loader()
        for _skipped in range(MAX_SKIPPED_EVENTS_PER_POLL):
            buffer = xr.EventDataBuffer()
            with self._lock:
                if self._lost is not None:
                    return self._loss_event_locked()
                self._check_open("xrPollEvent")
                if self._refusal_due():
                    self._end_listen_after_refusal_locked()
                result = int(loader.poll_event(self._instance, ctypes.byref(buffer)))
                if result == _INSTANCE_LOST:
                    self._instance_lost_locked("xrPollEvent returned XR_ERROR_INSTANCE_LOST")
                    return self._loss_event_locked()
                if result == int(Result.EVENT_UNAVAILABLE):
                    return None
                if result < 0:
                    raise RemotingCallError(
                        "xrPollEvent", result, f"OpenXR runtime '{self.runtime_name}'"
                    )
                kind = ctypes.c_int32.from_address(ctypes.addressof(buffer)).value
                if kind == _TYPE_EVENT_DATA_INSTANCE_LOSS_PENDING:
                    self._instance_lost_locked("XrEventDataInstanceLossPending")
                    return self._loss_event_locked()
                if kind == _TYPE_EVENT_DATA_EVENTS_LOST:
                    event = self._recover_lost_events_locked()
                else:
                    event = _remoting_event(buffer)
                if event is not None:
                    return self._track_locked(event)
        return None

    def _loss_event_locked(self) -> RemotingEvent | None:
        """After instance loss: one Disconnected for a connection in progress, then none."""
        if not self._active:
            return None
        self._active = False
        return DisconnectedEvent(disconnect_reason=INSTANCE_LOSS_REASON)

    def _track_locked(self, event: RemotingEvent) -> RemotingEvent:
        if isinstance(event, ConnectedEvent):
            self._connected_seen = True
        elif isinstance(event, DisconnectedEvent):
            self._active = False
            ending, self._ending_reason = self._ending_reason, None
            if ending is not None:
                return DisconnectedEvent(disconnect_reason=ending)
        return event

    def _end_listen_after_refusal_locked(self) -> None:
        """A client's token was refused: end a listen the runtime kept going."""
        if not self._active or self._connected_seen or self._ending_reason is not None:
            return
        state = XrEnum(int(ConnectionState.DISCONNECTED))
        reason = XrEnum(int(DisconnectReason.NONE))
        result = int(
            self._functions["xrRemotingGetConnectionStateMSFT"](
                self._instance, self._system_id, ctypes.byref(state), ctypes.byref(reason)
            )
        )
        if result < 0 or state.value != int(ConnectionState.CONNECTING):
            return  # the runtime ended the listen itself, or connected: its events tell
        info = XrRemotingDisconnectInfoMSFT()
        result = int(
            self._functions["xrRemotingDisconnectMSFT"](
                self._instance, self._system_id, ctypes.byref(info)
            )
        )
        if result < 0:
            log.warning("xrRemotingDisconnectMSFT after a refused token: %s", result_name(result))
            return
        log.info("a refused token ends the listen, as on the built-in runtime")
        self._ending_reason = DisconnectReason.AUTHENTICATION_FAILED

    def _recover_lost_events_locked(self) -> RemotingEvent | None:
        """XrEventDataEventsLost: make up the connected or disconnected event that may
        have been lost, from xrRemotingGetConnectionStateMSFT."""
        log.warning("OpenXR runtime '%s' lost events; asking for the state", self.runtime_name)
        if not self._active:
            return None
        state = XrEnum(int(ConnectionState.DISCONNECTED))
        reason = XrEnum(int(DisconnectReason.NONE))
        result = int(
            self._functions["xrRemotingGetConnectionStateMSFT"](
                self._instance, self._system_id, ctypes.byref(state), ctypes.byref(reason)
            )
        )
        if result < 0:
            log.warning("xrRemotingGetConnectionStateMSFT: %s", result_name(result))
            return None
        if state.value == int(ConnectionState.CONNECTED) and not self._connected_seen:
            return ConnectedEvent()
        if state.value == int(ConnectionState.DISCONNECTED):
            ended = _disconnect_reason(reason.value)
            if ended == DisconnectReason.NONE:
                ended = DisconnectReason.UNKNOWN  # it did end; the runtime says not why
            return DisconnectedEvent(disconnect_reason=ended)
        return None

    # --- teardown ------------------------------------------------------------------------

    def close(self) -> None:
        """Disconnect if still connected or listening, then xrDestroyInstance. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            instance, self._instance = self._instance, 0
            if self._watched_context is not None:
                with _watch_lock:
                    _watchers.pop(self._watched_context, None)
            if not instance:  # lost: already destroyed
                self._kept.clear()
                return
            try:
                state = XrEnum(0)
                reason = XrEnum(0)
                get_state = self._functions["xrRemotingGetConnectionStateMSFT"]
                if get_state(
                    instance, self._system_id, ctypes.byref(state), ctypes.byref(reason)
                ) >= 0 and (state.value != int(ConnectionState.DISCONNECTED)):
                    info = XrRemotingDisconnectInfoMSFT()
                    self._functions["xrRemotingDisconnectMSFT"](
                        instance, self._system_id, ctypes.byref(info)
                    )
            finally:
                result = _get_loader().destroy_instance(instance)
                self._kept.clear()
        if result < 0:
            log.warning("xrDestroyInstance returned %s", result_name(result))

    def __enter__(self) -> OpenXRRuntime:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# --- the watcher on the server's ValidateAuthenticationToken ----------------------------
#
# Why this is a second C-callable function with its own map, beside `app.xr`'s
# trampolines and their context registry, rather than going through them:
#
# - The adapter sits where Microsoft's runtime sits: it receives the application's
#   XrRemotingSecureConnectionServerCallbacksMSFT, function pointers and an opaque
#   `context`, as the contract (`RemotingRuntime.set_secure_connection_server_callbacks`)
#   passes them, not a `CallbackHandler`. A runtime may not assume the pointers are
#   `app.xr.trampolines` or look the context up in their registry: the context is the
#   application's value, and the built-in runtime, which checks the same contract,
#   treats it as opaque too. Reaching into that registry would make the runtime depend
#   on how one application fills the struct.
# - The verdict must be seen on the thread the runtime calls, in the struct the runtime
#   will read, after the application's function wrote it; only a function with the
#   PFN type, placed in the struct the runtime gets, sits there. A ctypes function
#   pointer carries no data of its own, and the struct's `context` belongs to the
#   application (it is forwarded unchanged), so the adapter is found from that context
#   in `_watchers`: a map from the application's context to this adapter, not a second
#   registry of handlers.
# - It decides nothing: it forwards the same pointer to the application's function and
#   only reads `tokenValidOut` afterwards, failing closed with the trampolines' rule
#   (refusing output first, XR_ERROR_RUNTIME_FAILURE on anything unexpected) and their
#   result codes.

_watch_lock = threading.Lock()
# app context -> (the runtime adapter, the app's ValidateAuthenticationToken function)
_watchers: dict[int, tuple[OpenXRRuntime, Any]] = {}
_SUCCESS = trampolines.SUCCESS
_RUNTIME_FAILURE = trampolines.RUNTIME_FAILURE


@PFN_xrRemotingValidateAuthenticationTokenCallbackMSFT  # type: ignore[untyped-decorator]
def _watch_token_validation(pointer: Any) -> int:
    """Forward to the app's ValidateAuthenticationToken (same struct, same thread) and
    tell the adapter when the token was refused. Fails closed like the app's own
    trampolines: nothing is accepted unless the app's callback accepted it."""
    try:
        if not pointer:
            return _RUNTIME_FAILURE
        request = pointer.contents
        request.tokenValidOut = XR_FALSE
        with _watch_lock:
            entry = _watchers.get(int(request.context or 0))
        if entry is None:
            return _RUNTIME_FAILURE
        adapter, app_validate = entry
    except BaseException:  # noqa: BLE001 - nothing may escape into C
        return _RUNTIME_FAILURE
    try:
        result = int(app_validate(pointer))
    except BaseException:  # noqa: BLE001 - the call did not happen: refuse
        request.tokenValidOut = XR_FALSE
        result = _RUNTIME_FAILURE
    try:
        if result != _SUCCESS or request.tokenValidOut != XR_TRUE:
            adapter._refused_a_token()
    except BaseException:  # noqa: BLE001 - bookkeeping only; the app's verdict stands
        log.warning("token watcher: recording a refusal failed")
    return result


def _connection_state(value: int) -> ConnectionState:
    try:
        return ConnectionState(value)
    except ValueError:
        log.warning("runtime reported an unknown connection state %d", value)
        return ConnectionState.DISCONNECTED


def _disconnect_reason(value: int) -> DisconnectReason:
    try:
        return DisconnectReason(value)
    except ValueError:
        log.warning("runtime reported an unknown disconnect reason %d", value)
        return DisconnectReason.UNKNOWN


def _remoting_event(buffer: Any) -> RemotingEvent | None:
    """The remoting event in an XrEventDataBuffer, or None for any other event."""
    address = ctypes.addressof(buffer)
    kind = ctypes.c_int32.from_address(address).value
    if kind not in _REMOTING_EVENTS:
        log.debug("skipping OpenXR event of type %d", kind)
        return None
    if kind == int(StructureType.REMOTING_EVENT_DATA_LISTENING_MSFT):
        listening = XrRemotingEventDataListeningMSFT.from_address(address)
        return ListeningEvent(listening_port=int(listening.listeningPort))
    if kind == int(StructureType.REMOTING_EVENT_DATA_CONNECTED_MSFT):
        return ConnectedEvent()
    if kind in DATA_CHANNEL_EVENTS:
        return _data_channel_event(kind, address)
    disconnected = XrRemotingEventDataDisconnectedMSFT.from_address(address)
    return DisconnectedEvent(disconnect_reason=_disconnect_reason(disconnected.disconnectReason))


def _data_channel_event(kind: int, address: int) -> RemotingEvent | None:
    """One of the four data-channel events, read by its raw structure type."""
    if kind == int(StructureType.EVENT_DATA_REMOTING_DATA_CHANNEL_CREATED_MSFT):
        created = XrEventDataRemotingDataChannelCreatedMSFT.from_address(address)
        return DataChannelCreatedEvent(int(created.channelId), int(created.channel))
    if kind == int(StructureType.EVENT_DATA_REMOTING_DATA_CHANNEL_OPENED_MSFT):
        opened = XrEventDataRemotingDataChannelOpenedMSFT.from_address(address)
        return DataChannelOpenedEvent(int(opened.channel))
    if kind == int(StructureType.EVENT_DATA_REMOTING_DATA_CHANNEL_DATA_RECEIVED_MSFT):
        received = XrEventDataRemotingDataChannelDataReceivedMSFT.from_address(address)
        return DataChannelDataReceivedEvent(
            int(received.channel), int(received.size), int(received.packetId)
        )
    closed = XrEventDataRemotingDataChannelClosedMSFT.from_address(address)
    try:
        reason = DataChannelClosedReason(closed.closedReason)
    except ValueError:
        log.warning("runtime reported an unknown channel closed reason %d", closed.closedReason)
        reason = DataChannelClosedReason.ERROR
    return DataChannelClosedEvent(int(closed.channel), reason)


def loader_runtime_json() -> str | None:
    """XR_RUNTIME_JSON as the loader will read it."""
    return os.environ.get(manifests.RUNTIME_JSON_ENV)


__all__ = ["OpenXRRuntime", "enumerate_extensions"]

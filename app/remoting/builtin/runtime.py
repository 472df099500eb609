"""`BuiltinRuntime`: the runtime contract in pure Python over real TLS.

It runs its own asyncio loop on a background thread. The contract's methods are
synchronous and thread-safe: they check their arguments, copy what they need out of
the structs (the application may free them after the call), and hand the work to the
loop. Events go to a queue that `poll_event` drains (and `wait_event` waits on), and
the connection state changes under the same lock as the events are queued, so
`get_connection_state` is accurate at every moment.

The application's callbacks are called only through `app.xr.invoke` (the function
pointers in the structs the application set), on a small pool of callback threads so
that a slow callback (a person deciding whether to trust) never stalls the loop.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import ctypes
import logging
import ssl
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from app.remoting.builtin import allocator, event_loop, tls
from app.remoting.builtin.channels import (
    MAX_MESSAGE_BYTES,
    MAX_UNRETRIEVED_PACKETS,
    ChannelTable,
    OutgoingFrame,
)
from app.remoting.builtin.client import Connector, SystemValidator
from app.remoting.builtin.frames import ChannelFrame, DataReceived
from app.remoting.builtin.options import BuiltinOptions
from app.remoting.builtin.server import Listener
from app.remoting.builtin.system_validation import RuntimeTrust
from app.remoting.builtin.token_throttle import TokenThrottle
from app.remoting.contract import (
    ConnectedEvent,
    DataChannelDataReceivedEvent,
    DataChannelError,
    DataChannelState,
    DisconnectedEvent,
    HandshakeStage,
    ListeningEvent,
    RemotingCallError,
    RemotingEvent,
    RemotingRuntime,
    check_retrieve_buffer,
)
from app.xr import limits
from app.xr.callback_types import CallbackRefusal
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
from app.xr.trampolines import raw_char_pointer, read_c_string
from app.xr.values import (
    ConnectionState,
    DataChannelResult,
    DepthBufferStreamResolution,
    DisconnectReason,
    Result,
    StructureType,
    VideoCodec,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# Callbacks run here, off the loop. Four threads: a listener may validate tokens of a
# few concurrent handshakes while one callback waits on a person.
CALLBACK_THREADS = 4
# Events not yet polled. An application that never polls must not grow memory
# without bound; a connection makes a handful of events, so 1,000 is generous.
MAX_QUEUED_EVENTS = 1_000
# Data-channel events come on top: the channel table bounds them (at most
# MAX_UNRETRIEVED_PACKETS unretrieved per channel, 128 channels, an open and a close each).
MAX_QUEUED_CHANNEL_EVENTS = 128 * (MAX_UNRETRIEVED_PACKETS + 2)
# Extra time a synchronous call waits beyond the protocol's own timeouts.
CALL_MARGIN_S = 2.0

Endpoint = Listener | Connector


class _Reporter:
    """What one endpoint reports; stale endpoints (an older attempt) are ignored."""

    def __init__(self, runtime: BuiltinRuntime, generation: int) -> None:
        self._runtime = runtime
        self._generation = generation

    def listening(self, port: int, transport_port: int) -> None:
        self._runtime._report(self._generation, ListeningEvent(port), transport_port)

    def connected(self) -> None:
        self._runtime._report(self._generation, ConnectedEvent())

    def disconnected(self, reason: DisconnectReason, detail: str) -> None:
        log.info("remoting.disconnected reason=%s detail=%s", reason.spec_name, detail)
        self._runtime._report(self._generation, DisconnectedEvent(reason), detail=detail)

    def note(self, message: str) -> None:
        log.info("remoting.note %s", message)
        self._runtime._note(message)

    def stage(self, report: HandshakeStage) -> None:
        self._runtime._stage(self._generation, report)


def _check_type(struct: Any, expected: StructureType, function: str) -> None:
    if struct.type != int(expected):
        raise RemotingCallError(
            function,
            Result.ERROR_VALIDATION_FAILURE,
            f"the struct's type is {struct.type}, expected {expected.spec_name}",
        )


def _string(struct: Any, field: str, limit: int, function: str) -> str:
    pointer = raw_char_pointer(struct, field)
    if not pointer:
        raise RemotingCallError(function, Result.ERROR_VALIDATION_FAILURE, f"{field} is NULL")
    try:
        return read_c_string(pointer, limit, field)
    except CallbackRefusal as exc:
        raise RemotingCallError(function, Result.ERROR_VALIDATION_FAILURE, exc.reason) from None


# While reads of channel data keep coming, the event pump is woken once per this many
# channel events or bytes of messages (4 MiB: 64 messages of 64 KiB, 4 of 1 MiB; far
# below the backlog's hold marks), and at the latest ANNOUNCE_TURNS turns of the loop
# after the first of them (`BuiltinRuntime._announce`). Each wake-up costs the pump's
# thread and the application's loop a turn and a fight for the GIL with this thread:
# waking per 16 events (1 MiB) cost a busy receiver about 5 % of its CPU per byte
# (docs/benchmarks.md, "Data-channel throughput: CPU per byte").
WAKE_PUMP_EVENTS = 64
WAKE_PUMP_BYTES = 4 << 20
ANNOUNCE_TURNS = 8


class BuiltinRuntime(RemotingRuntime):
    """XR_MSFT_holographic_remoting without an OpenXR runtime (see module doc)."""

    display_name = "built-in"

    def __init__(self, options: BuiltinOptions | None = None) -> None:
        self.options = options or BuiltinOptions()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._events: collections.deque[RemotingEvent] = collections.deque()
        self._notes: collections.deque[str] = collections.deque(maxlen=MAX_QUEUED_EVENTS)
        self._stages: collections.deque[HandshakeStage] = collections.deque(
            maxlen=MAX_QUEUED_EVENTS
        )
        # Pending stages wake `wait_event` only for a consumer that drains them (the
        # session's pump); anyone else would be woken for nothing, again and again.
        self._stages_wanted = False
        self._channels = ChannelTable(self.options.role)
        self._outbox = _Outbox(self)
        # The transport stopped reading for a channel's backlog (`_Outbox.hold_input`);
        # retrieval wakes it once the backlog is down.
        self._input_held = False
        # Channel events queued without waking the event pump yet (`_on_data`), the
        # reads that carried channel frames, and whether `_announce` is scheduled
        # (all used on the loop thread only, the first under the lock).
        self._unannounced = 0
        self._unannounced_bytes = 0
        self._data_reads = 0
        self._announcing = False
        self._state = ConnectionState.DISCONNECTED
        self._last_reason = DisconnectReason.NONE
        self._last_detail = ""
        self._generation = 0
        self._closed = False
        self._endpoint: Endpoint | None = None
        self._endpoint_task: asyncio.Task[None] | None = None
        self._transport_port: int | None = None
        self._client_callbacks: XrRemotingSecureConnectionClientCallbacksMSFT | None = None
        self._server_callbacks: XrRemotingSecureConnectionServerCallbacksMSFT | None = None
        self._realm = ""
        self._context_properties: XrRemotingRemoteContextPropertiesMSFT | None = None
        self._client_context: ssl.SSLContext | None = None
        self._trust: RuntimeTrust | None = None
        # Refused tokens per peer address; the runtime's, so that a refusal's record
        # survives the listen it ended (used only on the loop thread).
        self._token_throttle = TokenThrottle()
        self._lazy_lock = threading.Lock()
        self._callback_pool = concurrent.futures.ThreadPoolExecutor(
            CALLBACK_THREADS, thread_name_prefix="holoremote-callback"
        )
        self._loop = event_loop.new_event_loop()
        self._thread = threading.Thread(
            target=self._run_loop, name="holoremote-builtin-runtime", daemon=True
        )
        self._thread.start()

    # --- the loop thread ----------------------------------------------------------------

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            tasks = [t for t in asyncio.all_tasks(self._loop) if not t.done()]
            for task in tasks:
                task.cancel()
            if tasks:
                self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
            self._loop.close()

    def _on_loop(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout)

    def _in_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    # --- reports from the endpoints (on the loop) -------------------------------------

    def _report(
        self,
        generation: int,
        event: RemotingEvent,
        transport_port: int | None = None,
        detail: str = "",
    ) -> None:
        with self._changed:
            if generation != self._generation or self._closed:
                return
            if isinstance(event, ListeningEvent):
                self._transport_port = transport_port
            elif isinstance(event, ConnectedEvent):
                # From now on data channels may move bulk data (allocator's doc).
                allocator.keep_freed_memory()
                self._state = ConnectionState.CONNECTED
                self._channels.session_opened()
            elif isinstance(event, DisconnectedEvent):
                if self._state == ConnectionState.DISCONNECTED:
                    return  # exactly one disconnect per attempt
                self._state = ConnectionState.DISCONNECTED
                self._last_reason = event.disconnect_reason
                self._last_detail = detail
                self._endpoint = None
                self._transport_port = None
                # Its channels close (ERROR) before the disconnect is reported.
                self._queue_events(self._channels.session_ended())
            self._queue_events([event])

    def _queue_events(self, events: list[RemotingEvent], *, wake: bool = True) -> None:
        """Under the lock. `wake`: wake the event pump now (else `_on_data` does)."""
        for event in events:
            if len(self._events) >= MAX_QUEUED_EVENTS + MAX_QUEUED_CHANNEL_EVENTS:
                self._events.popleft()
            self._events.append(event)
        if events and wake:
            self._changed.notify_all()

    def _note(self, message: str) -> None:
        with self._changed:
            self._notes.append(message)

    def _stage(self, generation: int, report: HandshakeStage) -> None:
        """A finished handshake stage: kept for `drain_stages`, and the event pump is
        woken so that a waterfall and a progress display follow it live."""
        with self._changed:
            if generation != self._generation or self._closed:
                return
            self._stages.append(report)
            self._changed.notify_all()

    def _on_data(self, messages: list[DataReceived | ChannelFrame]) -> None:
        """The data-channel frames of one read from the peer, in order (on the loop):
        queued under one hold of the lock, and the event pump woken once for them,
        not once per frame (a woken pump then competes for the GIL with the rest of
        the read)."""
        now = time.monotonic()
        channels = self._channels
        with self._changed:
            if self._closed:
                return
            events: list[RemotingEvent] = []
            size = 0
            for message in messages:
                if isinstance(message, DataReceived):
                    events += channels.on_data(message.channel_id, message.payload, now)
                    size += len(message.payload)
                else:
                    events += channels.on_frame(message.kind, message.payload, now)
            self._queue_events(events, wake=False)
            self._unannounced += len(events)
            self._unannounced_bytes += size
            if self._unannounced >= WAKE_PUMP_EVENTS or self._unannounced_bytes >= WAKE_PUMP_BYTES:
                self._announced()
            wake = channels.pending()
        self._data_reads += 1
        if self._unannounced and not self._announcing:
            self._announcing = True
            self._loop.call_soon(self._announce, self._data_reads, 0)
        if wake:
            self._wake_endpoint()

    def _announce(self, reads: int, turns: int) -> None:
        """Wake the event pump for the channel events not announced yet, once the
        reads carrying them pause (on the loop).

        A woken pump takes the GIL from this thread for each wake-up, and waking it
        (a futex call under Condition.notify) was a tenth of this thread's time when
        done per read (docs/benchmarks.md, "Data-channel throughput, this pass"). So
        while reads keep coming, the pump is woken per WAKE_PUMP_EVENTS events; a
        lone message (a ping) waits two turns of the loop, and a trickle of reads at
        most ANNOUNCE_TURNS."""
        if turns < ANNOUNCE_TURNS and (turns == 0 or reads != self._data_reads):
            # The first turn lets one more read in; later ones, while reads came.
            self._loop.call_soon(self._announce, self._data_reads, turns + 1)
            return
        self._announcing = False
        with self._changed:
            if self._unannounced:
                self._announced()

    def _announced(self) -> None:
        """Under the lock: wake the event pump for every channel event queued."""
        self._unannounced = self._unannounced_bytes = 0
        self._changed.notify_all()

    def _wake_endpoint(self) -> None:
        endpoint = self._endpoint
        if endpoint is not None:
            if self._in_loop_thread():
                endpoint.wake()
            else:
                self._loop.call_soon_threadsafe(endpoint.wake)

    # --- lazily built, then reused --------------------------------------------------------

    def _client_ssl_context(self) -> ssl.SSLContext:
        with self._lazy_lock:
            if self._client_context is None:
                self._client_context = tls.client_context()
            return self._client_context

    def _system_validator(self) -> SystemValidator:
        with self._lazy_lock:
            if self._trust is None:
                self._trust = RuntimeTrust(
                    self.options.trust_ca_pem,
                    force_revocation_check=self.options.force_revocation_check,
                )
            return self._trust.validate

    # --- the contract -----------------------------------------------------------------

    def _require_open(self, function: str) -> None:
        if self._closed:
            raise RemotingCallError(function, Result.ERROR_HANDLE_INVALID, "the runtime is closed")

    def _require_disconnected(self, function: str) -> None:
        if self._state != ConnectionState.DISCONNECTED:
            raise RemotingCallError(
                function,
                Result.ERROR_REMOTING_NOT_DISCONNECTED_MSFT,
                f"the connection is {self._state.spec_name}",
                fix="disconnect first",
            )

    def set_context_properties(self, properties: XrRemotingRemoteContextPropertiesMSFT) -> None:
        function = "xrRemotingSetContextPropertiesMSFT"
        _check_type(properties, StructureType.REMOTING_REMOTE_CONTEXT_PROPERTIES_MSFT, function)
        try:
            VideoCodec(properties.videoCodec)
            DepthBufferStreamResolution(properties.depthBufferStreamResolution)
        except ValueError:
            raise RemotingCallError(
                function, Result.ERROR_VALIDATION_FAILURE, "invalid codec or depth resolution"
            ) from None
        with self._lock:
            self._require_open(function)
            self._require_disconnected(function)
            self._context_properties = type(properties).from_buffer_copy(properties)

    def set_secure_connection_client_callbacks(
        self, callbacks: XrRemotingSecureConnectionClientCallbacksMSFT
    ) -> None:
        function = "xrRemotingSetSecureConnectionClientCallbacksMSFT"
        _check_type(
            callbacks, StructureType.REMOTING_SECURE_CONNECTION_CLIENT_CALLBACKS_MSFT, function
        )
        if not (
            callbacks.requestAuthenticationTokenCallback
            and callbacks.validateServerCertificateCallback
        ):
            raise RemotingCallError(
                function, Result.ERROR_VALIDATION_FAILURE, "a callback pointer is NULL"
            )
        copy = type(callbacks).from_buffer_copy(callbacks)
        with self._lock:
            self._require_open(function)
            self._client_callbacks = copy

    def set_secure_connection_server_callbacks(
        self, callbacks: XrRemotingSecureConnectionServerCallbacksMSFT
    ) -> None:
        function = "xrRemotingSetSecureConnectionServerCallbacksMSFT"
        _check_type(
            callbacks, StructureType.REMOTING_SECURE_CONNECTION_SERVER_CALLBACKS_MSFT, function
        )
        if not (
            callbacks.requestServerCertificateCallback
            and callbacks.validateAuthenticationTokenCallback
        ):
            raise RemotingCallError(
                function, Result.ERROR_VALIDATION_FAILURE, "a callback pointer is NULL"
            )
        realm = _string(callbacks, "authenticationRealm", limits.MAX_STRING_BUFFER, function)
        if not realm.isprintable() or any(c in realm for c in '"\\'):
            raise RemotingCallError(
                function,
                Result.ERROR_VALIDATION_FAILURE,
                "the realm may not contain quotes, backslashes or control characters",
            )
        copy = type(callbacks).from_buffer_copy(callbacks)
        # The copy's realm pointer still points at the application's string; the
        # runtime uses only its own copy of the text (self._realm).
        with self._lock:
            self._require_open(function)
            self._server_callbacks = copy
            self._realm = realm

    def connect(self, connect_info: XrRemotingConnectInfoMSFT) -> None:
        function = "xrRemotingConnectMSFT"
        _check_type(connect_info, StructureType.REMOTING_CONNECT_INFO_MSFT, function)
        host = _string(connect_info, "remoteHostName", limits.MAX_HOST_NAME_BYTES, function)
        port = int(connect_info.remotePort)
        secure = bool(connect_info.secureConnection)
        if not host or port == 0:
            raise RemotingCallError(
                function, Result.ERROR_VALIDATION_FAILURE, "a host name and a port are needed"
            )
        with self._changed:
            self._require_open(function)
            self._require_disconnected(function)
            callbacks = self._client_callbacks
            if secure and callbacks is None:
                raise RemotingCallError(
                    function,
                    Result.ERROR_VALIDATION_FAILURE,
                    "secureConnection is set but no client callbacks were set",
                    fix="call xrRemotingSetSecureConnectionClientCallbacksMSFT first",
                )
            generation = self._begin()
            endpoint = Connector(
                options=self.options,
                host=host,
                port=port,
                secure=secure,
                callbacks=callbacks if secure else None,
                ssl_context=self._client_ssl_context,
                system_validator=self._system_validator,
                reporter=_Reporter(self, generation),
                callback_executor=self._callback_pool,
                on_data=self._on_data,
                outbox=self._outbox,
            )
            self._endpoint = endpoint
        self._loop.call_soon_threadsafe(self._start_endpoint, endpoint, generation)

    def listen(self, listen_info: XrRemotingListenInfoMSFT) -> None:
        function = "xrRemotingListenMSFT"
        _check_type(listen_info, StructureType.REMOTING_LISTEN_INFO_MSFT, function)
        interface = _string(listen_info, "listenInterface", limits.MAX_HOST_NAME_BYTES, function)
        secure = bool(listen_info.secureConnection)
        handshake_port = int(listen_info.handshakeListenPort)
        transport_port = int(listen_info.transportListenPort)
        if handshake_port != 0 and handshake_port == transport_port:
            raise RemotingCallError(
                function,
                Result.ERROR_VALIDATION_FAILURE,
                f"handshake and transport port are both {handshake_port}",
            )
        with self._changed:
            self._require_open(function)
            self._require_disconnected(function)
            callbacks = self._server_callbacks
            if secure and callbacks is None:
                raise RemotingCallError(
                    function,
                    Result.ERROR_VALIDATION_FAILURE,
                    "secureConnection is set but no server callbacks were set",
                    fix="call xrRemotingSetSecureConnectionServerCallbacksMSFT first",
                )
            generation = self._begin()
            endpoint = Listener(
                options=self.options,
                secure=secure,
                interface=interface,
                handshake_port=handshake_port,
                transport_port=transport_port,
                callbacks=callbacks if secure else None,
                realm=self._realm,
                reporter=_Reporter(self, generation),
                callback_executor=self._callback_pool,
                on_data=self._on_data,
                outbox=self._outbox,
                throttle=self._token_throttle,
            )
            self._endpoint = endpoint
        self._loop.call_soon_threadsafe(self._start_endpoint, endpoint, generation)

    def _begin(self) -> int:
        """Under the lock: a new attempt; CONNECTING from this moment."""
        self._generation += 1
        self._state = ConnectionState.CONNECTING
        self._last_reason = DisconnectReason.NONE
        self._last_detail = ""
        return self._generation

    def _start_endpoint(self, endpoint: Endpoint, generation: int) -> None:
        if generation != self._generation or self._closed:
            return
        self._endpoint_task = self._loop.create_task(endpoint.run(), name="holoremote-endpoint")

    def disconnect(self, disconnect_info: XrRemotingDisconnectInfoMSFT) -> None:
        function = "xrRemotingDisconnectMSFT"
        _check_type(disconnect_info, StructureType.REMOTING_DISCONNECT_INFO_MSFT, function)
        with self._changed:
            self._require_open(function)
            endpoint, generation = self._endpoint, self._generation
            if endpoint is None or self._state == ConnectionState.DISCONNECTED:
                return
        self._loop.call_soon_threadsafe(endpoint.request_disconnect)
        if self._in_loop_thread():
            return
        # Wait until the endpoint has reported its end, so that the state is
        # DISCONNECTED when this returns (bounded by the disconnect wait).
        limit = self.options.disconnect_wait + CALL_MARGIN_S
        with self._changed:
            self._changed.wait_for(
                lambda: (
                    self._generation != generation
                    or self._state == ConnectionState.DISCONNECTED
                    or self._closed
                ),
                timeout=limit,
            )

    def get_connection_state(self) -> tuple[ConnectionState, DisconnectReason]:
        with self._lock:
            return self._state, self._last_reason

    def poll_event(self) -> RemotingEvent | None:
        with self._lock:
            return self._events.popleft() if self._events else None

    def _wait_for_news(self, timeout: float) -> None:
        """Under `_changed`: until an event is queued, a stage for a consumer that
        drains them, or the close (at most `timeout` seconds)."""
        self._changed.wait_for(
            lambda: (
                bool(self._events) or (self._stages_wanted and bool(self._stages)) or self._closed
            ),
            timeout,
        )

    def wait_event(self, timeout: float) -> RemotingEvent | None:
        """Like `poll_event`, but waits up to `timeout` seconds for an event (or close)."""
        with self._changed:
            self._wait_for_news(timeout)
            return self._events.popleft() if self._events else None

    def wait_events_with_packets(
        self, timeout: float, limit: int, *, retrieve: bool = True
    ) -> list[tuple[RemotingEvent, bytes | Exception | None]]:
        """`wait_event`, then every queued event up to `limit`, each data event with
        its packet already retrieved (or the error retrieving it), all under one hold of
        the lock: the session's event pump's whole turn in one call instead of a poll
        and a retrieve per message. `retrieve=False` leaves the packets in place (an
        application that retrieves them itself)."""
        function = "xrRetrieveRemotingDataMSFT"
        taken: list[tuple[RemotingEvent, bytes | Exception | None]] = []
        with self._changed:
            self._wait_for_news(timeout)
            events = self._events
            now = time.monotonic()
            while events and len(taken) < limit:
                event = events.popleft()
                data: bytes | Exception | None = None
                if retrieve and isinstance(event, DataChannelDataReceivedEvent):
                    try:
                        self._require_open(function)
                        answer = self._channels.retrieve(
                            event.channel, event.packet_id, MAX_MESSAGE_BYTES, now
                        )
                        assert isinstance(answer, bytes)
                        data = answer
                    except (RemotingCallError, DataChannelError) as exc:
                        data = exc
                taken.append((event, data))
            release = self._caught_up()
        if release:
            self._wake_endpoint()
        return taken

    def close(self) -> None:
        """Tear everything down at once (no disconnect request: use `disconnect` for a
        clean end). Idempotent; safe from any thread but the runtime's own."""
        with self._changed:
            if self._closed:
                return
            endpoint = self._endpoint
            self._closed = True
            self._state = ConnectionState.DISCONNECTED
            self._endpoint = None
            self._changed.notify_all()
        if endpoint is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(
                    endpoint.abort, DisconnectReason.CANCELED, "the runtime closed"
                )
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._loop.stop)
        if not self._in_loop_thread():
            self._thread.join(timeout=5.0)
        self._callback_pool.shutdown(wait=False, cancel_futures=True)

    # --- extras beyond the contract (tests, the CLI, data channels) ---------------------

    @property
    def listening_transport_port(self) -> int | None:
        """The transport port actually bound while listening (ephemeral ports)."""
        with self._lock:
            return self._transport_port

    @property
    def last_disconnect_detail(self) -> str:
        """The runtime's own words about the last disconnect (no secrets)."""
        with self._lock:
            return self._last_detail

    @property
    def input_held(self) -> bool:
        """Whether the transport stopped reading for a channel's backlog (tests, bench)."""
        with self._lock:
            return self._input_held

    def drain_stages(self) -> list[HandshakeStage]:
        """The handshake stages finished since the last call, in order."""
        with self._lock:
            self._stages_wanted = True
            stages = list(self._stages)
            self._stages.clear()
            return stages

    def drain_notes(self) -> list[str]:
        """Things worth telling the user that are not events (refused handshakes ...)."""
        with self._lock:
            notes = list(self._notes)
            self._notes.clear()
            return notes

    # --- data channels ---------------------------------------------------------------

    def create_data_channel(self, create_info: XrRemotingDataChannelCreateInfoMSFT) -> int:
        function = "xrCreateRemotingDataChannelMSFT"
        _check_type(create_info, StructureType.REMOTING_DATA_CHANNEL_CREATE_INFO_MSFT, function)
        with self._lock:
            self._require_open(function)
            handle = self._channels.create(
                int(create_info.channelId), int(create_info.channelPriority)
            )
        self._wake_endpoint()
        return handle

    def destroy_data_channel(self, channel: int) -> None:
        with self._lock:
            self._require_open("xrDestroyRemotingDataChannelMSFT")
            self._channels.destroy(channel)
        self._wake_endpoint()

    def get_data_channel_state(self, channel: int) -> DataChannelState:
        with self._lock:
            self._require_open("xrGetRemotingDataChannelStateMSFT")
            return self._channels.state(channel)

    def send_remoting_data(
        self, channel: int, send_info: XrRemotingDataChannelSendDataInfoMSFT
    ) -> None:
        function = "xrSendRemotingDataMSFT"
        _check_type(send_info, StructureType.REMOTING_DATA_CHANNEL_SEND_DATA_INFO_MSFT, function)
        size = int(send_info.size)
        if size and not send_info.data:
            raise DataChannelError(function, DataChannelResult.INVALID_DATA, "data is NULL")
        with self._lock:
            self._require_open(function)
            self._channels.check_sendable(channel, size)
        # Copied outside the lock (up to 1 MiB); the table checks the channel again.
        self._queue_send(
            function,
            channel,
            ctypes.string_at(send_info.data, size) if size else b"",
            bool(send_info.guaranteedDelivery),
        )

    def send_packet(self, channel: int, data: bytes, guaranteed: bool) -> None:
        """`send_remoting_data` for Python callers (`channel_calls.PacketSender`): the
        message's bytes as they are, with the same checks and errors, without the
        ctypes struct and the copy out of its pointer."""
        self._queue_send("xrSendRemotingDataMSFT", channel, data, guaranteed)

    def send_packet_paced(self, channel: int, data: bytes, limit: int, guaranteed: bool) -> bool:
        """`send_packet` if at most `limit` bytes are unsent on the channel (True), else
        nothing (False): for `channel_calls.send_paced`, the look at sendQueueSize and
        the send in one hold of the lock instead of two calls per message."""
        return self._queue_send("xrSendRemotingDataMSFT", channel, data, guaranteed, limit)

    def _queue_send(
        self,
        function: str,
        channel: int,
        data: bytes,
        guaranteed: bool,
        limit: int | None = None,
    ) -> bool:
        with self._lock:
            self._require_open(function)
            if limit is not None and self._channels.unsent(channel, function) > limit:
                return False
            idle = not self._channels.pending()
            self._channels.send(channel, data, guaranteed)
        if idle:
            # Only when the queue was empty: a driver that found something queued
            # takes on until it finds nothing, so one wake-up per burst is enough
            # (a wake-up per message cost a write to the loop's self-pipe and a
            # turn of the loop each; the receiver's hold now paces a fast sender).
            self._wake_endpoint()
        return True

    def retrieve_packet(self, channel: int, packet_id: int) -> bytes:
        """`retrieve_remoting_data` for Python callers (`channel_calls.PacketRetriever`):
        the packet's bytes as received, with the same checks, errors and once-only
        rule, without the copies into and out of a ctypes buffer."""
        answer = self._retrieve("xrRetrieveRemotingDataMSFT", channel, packet_id, MAX_MESSAGE_BYTES)
        assert isinstance(answer, bytes)
        return answer

    def _caught_up(self) -> bool:
        """Under the lock, after a retrieval: whether a transport that stopped reading
        for the backlog may read again (the endpoint is then woken, outside the lock)."""
        release = self._input_held and not self._channels.backlogged(releasing=True)
        if release:
            self._input_held = False
        return release

    def _retrieve(self, function: str, channel: int, packet_id: int, capacity: int) -> bytes | int:
        with self._lock:
            self._require_open(function)
            answer = self._channels.retrieve(channel, packet_id, capacity, time.monotonic())
            release = self._caught_up()
        if release:
            self._wake_endpoint()
        return answer

    def retrieve_remoting_data(
        self,
        channel: int,
        packet_id: int,
        capacity: int,
        buffer: ctypes.Array[ctypes.c_uint8] | None,
    ) -> int:
        function = "xrRetrieveRemotingDataMSFT"
        check_retrieve_buffer(capacity, buffer)
        answer = self._retrieve(function, channel, packet_id, capacity)
        if isinstance(answer, int):
            return answer
        assert buffer is not None
        ctypes.memmove(buffer, answer, len(answer))
        return len(answer)


class _Outbox:
    """The channel table as the transport driver sees it (taken under the lock)."""

    def __init__(self, runtime: BuiltinRuntime) -> None:
        self._runtime = runtime

    def take(self, budget: int) -> list[OutgoingFrame]:
        with self._runtime._lock:
            return self._runtime._channels.take(budget)

    def hold_input(self) -> bool:
        """Whether the driver should stop (or keep not) reading: a channel's backlog."""
        runtime = self._runtime
        with runtime._lock:
            held = runtime._channels.backlogged(releasing=runtime._input_held)
            runtime._input_held = held
            return held

    def progress(self) -> int:
        with self._runtime._lock:
            return self._runtime._channels.retrieved

    def stop_holding(self) -> None:
        runtime = self._runtime
        with runtime._lock:
            runtime._channels.stop_holding()
            runtime._input_held = False

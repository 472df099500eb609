"""The asyncio worker that owns one runtime and one callbacks object.

docs/architecture.md, "The path of one connection": the window (on Qt's loop through qasync) and
the command line (on a plain asyncio loop) run this same code. Nothing here blocks
the loop: every runtime call goes through `asyncio.to_thread`, the runtime's events are
pumped by a worker thread that waits on the runtime, and callback records, which
arrive on runtime threads, are handed to the loop in batches (one
`call_soon_threadsafe` per burst, see `RecordRelay`).

Wiring the callback records (they are made on the runtime's threads)::

    relay = RecordRelay()
    callbacks = SecureConnectionCallbacks(token_provider=..., record_sink=relay)
    session = Session(config, runtime, callbacks, record_relay=relay)

or, the same in one call, `Session.with_callbacks(config, runtime, token_provider=...)`.
A `RecordRelay` keeps the records made before `start()` (bounded) and delivers them
when the session attaches to its loop.

Every waiter ends: `wait_for` raises `TimeoutError` after its timeout and
`SessionClosedError` when the session closes first; `events()` iterators finish
after `aclose()`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import ipaddress
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast, runtime_checkable

from app import defaults
from app.endpoint.callbacks import SecureConnectionCallbacks
from app.endpoint.channels import ChannelHub
from app.endpoint.events import (
    CallbacksCalled,
    CallStarted,
    Connected,
    Disconnected,
    Listening,
    Note,
    SessionEvent,
    StateChanged,
)
from app.endpoint.failure import CertificateRefusal
from app.endpoint.record_relay import RecordRelay
from app.errors import HoloremoteError, InputError
from app.remoting import channel_calls
from app.remoting.contract import (
    ConnectedEvent,
    DataChannelClosedEvent,
    DataChannelCreatedEvent,
    DataChannelDataReceivedEvent,
    DataChannelError,
    DataChannelOpenedEvent,
    DisconnectedEvent,
    HandshakeStage,
    ListeningEvent,
    RemotingCallError,
    RemotingEvent,
    RemotingRuntime,
)
from app.xr.records import CallbackRecord
from app.xr.structs import (
    XrRemotingConnectInfoMSFT,
    XrRemotingDisconnectInfoMSFT,
    XrRemotingListenInfoMSFT,
)
from app.xr.values import XR_FALSE, XR_TRUE, ConnectionState

log = logging.getLogger(__name__)

Mode = Literal["connect", "listen"]
Role = Literal["remote", "player"]


# Events kept for late subscribers and `wait_for`. A session that runs for days with a
# busy listener makes a few records per connection; 10,000 is hours of history and a
# few MiB at most. Older events are dropped, never the newest.
MAX_HISTORY = 10_000
# How long the pump thread waits on the runtime per round. It only bounds how fast
# `aclose()` returns when the runtime cannot be woken; events arrive immediately.
PUMP_WAIT_S = 0.25
# Poll interval for runtimes that cannot wait (the OpenXR runtime polls xrPollEvent).
POLL_INTERVAL_S = 0.02
# Events taken from the runtime per trip to the worker thread.
PUMP_BATCH = 256
DATA_CHANNEL_EVENT_TYPES = (
    DataChannelCreatedEvent,
    DataChannelOpenedEvent,
    DataChannelDataReceivedEvent,
    DataChannelClosedEvent,
)
# `aclose()` waits this long for the runtime to report the disconnect it asked for.
CLOSE_WAIT_S = 5.0
# Longest realm: it travels in an HTTP header and in the callbacks struct, whose
# strings the specification limits to 1 KiB with the terminator.
MAX_REALM_BYTES = 256
MAX_HOST_BYTES = 253  # the longest DNS name (RFC 1035)


class SessionClosedError(HoloremoteError):
    """The session closed while something waited on it."""

    def __init__(self, message: str = "the session is closed") -> None:
        super().__init__(message, fix="start a new session")


class ConfigError(InputError):
    """A `SessionConfig` field is unusable or contradicts another."""


@runtime_checkable
class EventWaiter(Protocol):
    """A runtime that can block until an event arrives (the built-in one can)."""

    def wait_event(self, timeout: float) -> RemotingEvent | None: ...


@runtime_checkable
class EventPump(Protocol):
    """A runtime that hands over a turn's events with their packets in one call (the
    built-in one): no poll and retrieve per message on the pump's thread."""

    def wait_events_with_packets(
        self, timeout: float, limit: int, *, retrieve: bool = True
    ) -> list[tuple[RemotingEvent, bytes | Exception | None]]: ...


@runtime_checkable
class NoteSource(Protocol):
    """A runtime with things to say that are not events (refused handshakes, ...)."""

    def drain_notes(self) -> list[str]: ...


@runtime_checkable
class StageSource(Protocol):
    """A runtime that reports its own handshake stages (the built-in one)."""

    def drain_stages(self) -> list[HandshakeStage]: ...


@runtime_checkable
class DisconnectDetailSource(Protocol):
    """A runtime that can say more about its last disconnect than the reason code."""

    @property
    def last_disconnect_detail(self) -> str: ...


@runtime_checkable
class TransportPortReporter(Protocol):
    """A runtime that knows which transport port it bound (the built-in one does)."""

    @property
    def listening_transport_port(self) -> int | None: ...


def _check_port(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ConfigError(name, f"{value!r} is not a port number", fix="use 0..65535")


@dataclass(frozen=True)
class SessionConfig:
    """What one session does. Refuses contradictory settings when built."""

    mode: Mode
    host: str = ""
    port: int = defaults.DEFAULT_HANDSHAKE_PORT
    transport_port: int = defaults.DEFAULT_TRANSPORT_PORT
    listen_interface: str = "0.0.0.0"  # noqa: S104 - a listener is meant to be reachable
    secure: bool = True
    role: Role = "remote"
    realm: str = defaults.DEFAULT_REALM
    perform_system_validation: bool = True

    def __post_init__(self) -> None:
        if self.mode not in ("connect", "listen"):
            raise ConfigError("mode", f"{self.mode!r} is neither 'connect' nor 'listen'")
        if self.role not in ("remote", "player"):
            raise ConfigError("role", f"{self.role!r} is neither 'remote' nor 'player'")
        _check_port("port", self.port)
        _check_port("transport_port", self.transport_port)
        if self.mode == "connect":
            if not self.host:
                raise ConfigError("host", "connecting needs a host name or IP address")
            if len(self.host.encode("utf-8")) > MAX_HOST_BYTES or any(
                c.isspace() or c == "\0" for c in self.host
            ):
                raise ConfigError("host", f"{self.host[:60]!r} is not a host name or address")
            if self.port == 0:
                raise ConfigError(
                    "port", "a client cannot connect to port 0", fix="give the listener's port"
                )
        else:
            if not self.listen_interface:
                raise ConfigError("listen_interface", "give an address to listen on")
            if self.port != 0 and self.port == self.transport_port:
                raise ConfigError(
                    "transport_port",
                    f"the handshake and transport ports are both {self.port}",
                    fix="use two different ports (defaults 8265 and 8266), or 0 for any",
                )
        if self.secure:
            realm = self.realm.encode("utf-8")
            if not realm or len(realm) > MAX_REALM_BYTES:
                raise ConfigError(
                    "realm", f"the realm must be 1..{MAX_REALM_BYTES} bytes", fix="e.g. holoremote"
                )
            if any(c in self.realm for c in '"\\') or not self.realm.isprintable():
                raise ConfigError(
                    "realm",
                    "the realm may not contain quotes, backslashes or control characters",
                    fix="use letters, digits, spaces and punctuation such as '-' or '.'",
                )

    @property
    def is_loopback_host(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"


class Session:
    """One connection attempt (or listener) and its event stream. See module doc."""

    def __init__(
        self,
        config: SessionConfig,
        runtime: RemotingRuntime,
        callbacks: SecureConnectionCallbacks,
        *,
        record_relay: RecordRelay | None = None,
    ) -> None:
        self.config = config
        self.runtime = runtime
        self.callbacks = callbacks
        #: The sink to give the callbacks object (see the module docstring).
        self.record_sink = record_relay if record_relay is not None else RecordRelay()
        self._state = ConnectionState.DISCONNECTED
        self._history: collections.deque[SessionEvent] = collections.deque(maxlen=MAX_HISTORY)
        self._dropped = 0  # events that fell out of the history
        self._changed: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._stop_pump = threading.Event()
        self._closing = False
        self._closed = False
        self._start_lock: asyncio.Lock | None = None
        # This attempt's refused server certificate, if the client refused it.
        self._refusal: CertificateRefusal | None = None
        # Strings referenced by the info structs must outlive the calls.
        self._keepalive: list[Any] = []
        #: The session's data channels (plain bytes; app.endpoint.channels).
        self.channels = ChannelHub(runtime, self._emit)
        set_call_started = getattr(callbacks, "set_call_started", None)
        if set_call_started is not None:
            set_call_started(self._call_started)

    @classmethod
    def with_callbacks(
        cls, config: SessionConfig, runtime: RemotingRuntime, **providers: Any
    ) -> Session:
        """Build the callbacks object with this session's relay as its record sink.

        `providers` are `SecureConnectionCallbacks` keyword arguments
        (`token_provider`, `certificate_validator`, `token_validator`,
        `server_certificate_provider`)."""
        relay = RecordRelay()
        callbacks = SecureConnectionCallbacks(record_sink=relay, **providers)
        return cls(config, runtime, callbacks, record_relay=relay)

    # --- public surface --------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def event_count(self) -> int:
        """Number of events emitted so far; pass as `after=` to wait for newer ones."""
        return self._dropped + len(self._history)

    @property
    def history(self) -> tuple[SessionEvent, ...]:
        return tuple(self._history)

    async def start(self) -> None:
        """Set the callbacks (secure mode), then call listen or connect off the loop.

        Raises `RemotingCallError` if the runtime refuses the call; progress and
        failures after that arrive as events. May be called again after a disconnect
        (a listener listens again to accept another client)."""
        if self._closed or self._closing:
            raise SessionClosedError()
        self._attach_loop()
        assert self._start_lock is not None
        async with self._start_lock:
            if self._state != ConnectionState.DISCONNECTED:
                raise HoloremoteError(
                    f"the session is {self._state.spec_name}, not disconnected",
                    fix="disconnect first",
                )
            config = self.config
            if config.secure:
                if config.mode == "connect":
                    client = self.callbacks.client_callbacks(
                        perform_system_validation=config.perform_system_validation
                    )
                    await asyncio.to_thread(
                        self.runtime.set_secure_connection_client_callbacks, client
                    )
                else:
                    server = self.callbacks.server_callbacks(realm=config.realm)
                    await asyncio.to_thread(
                        self.runtime.set_secure_connection_server_callbacks, server
                    )
            self._set_state(ConnectionState.CONNECTING)
            self._refusal = None  # a new attempt
            try:
                if config.mode == "connect":
                    host = config.host.encode("utf-8")
                    connect_info = XrRemotingConnectInfoMSFT(
                        remoteHostName=host,
                        remotePort=config.port,
                        secureConnection=XR_TRUE if config.secure else XR_FALSE,
                    )
                    self._keepalive = [host, connect_info]
                    await asyncio.to_thread(self.runtime.connect, connect_info)
                else:
                    interface = config.listen_interface.encode("utf-8")
                    listen_info = XrRemotingListenInfoMSFT(
                        listenInterface=interface,
                        handshakeListenPort=config.port,
                        transportListenPort=config.transport_port,
                        secureConnection=XR_TRUE if config.secure else XR_FALSE,
                    )
                    self._keepalive = [interface, listen_info]
                    await asyncio.to_thread(self.runtime.listen, listen_info)
            except RemotingCallError as exc:
                self._emit(Note("error", str(exc)))
                self._set_state(ConnectionState.DISCONNECTED)
                raise

    async def listen_again(self) -> None:
        """After a listen ended (a client refused, or a session over): listen again
        on the ports the last listen bound, ephemeral ones included, so that the
        ports already shown stay valid."""
        bound = next((e for e in reversed(self._history) if isinstance(e, Listening)), None)
        if bound is not None:
            # A runtime may not report its transport port (the OpenXR event carries
            # only the handshake port): keep the handshake port at least.
            self.config = dataclasses.replace(
                self.config,
                port=bound.port,
                transport_port=bound.transport_port or self.config.transport_port,
            )
        await self.start()

    async def disconnect(self) -> None:
        """xrRemotingDisconnectMSFT, off the loop. The outcome arrives as an event."""
        if self._closed:
            return
        await asyncio.to_thread(self.runtime.disconnect, XrRemotingDisconnectInfoMSFT())

    async def events(self) -> AsyncIterator[SessionEvent]:
        """Every event from the start of the session (the retained history first),
        then live ones; ends after `aclose()`."""
        self._attach_loop()
        cursor = self._dropped
        while True:
            if cursor < self._dropped:
                skipped = self._dropped - cursor
                cursor = self._dropped
                yield Note("warning", f"{skipped} older events were dropped (reader too slow)")
            elif cursor < self.event_count:
                event = self._history[cursor - self._dropped]
                cursor += 1
                yield event
            elif self._closed:
                return
            else:
                assert self._changed is not None
                await self._changed.wait()

    async def wait_for(
        self,
        predicate: Callable[[SessionEvent], bool],
        timeout: float,
        *,
        after: int | None = None,
    ) -> SessionEvent:
        """The first event (from index `after`, default: the start of the retained
        history) that satisfies `predicate`. `TimeoutError` after `timeout` seconds;
        `SessionClosedError` if the session closes first."""
        self._attach_loop()
        cursor = after or 0
        async with asyncio.timeout(timeout):
            while True:
                cursor = max(cursor, self._dropped)
                if cursor < self.event_count:
                    event = self._history[cursor - self._dropped]
                    cursor += 1
                    if predicate(event):
                        return event
                elif self._closed:
                    raise SessionClosedError("the session closed before the awaited event")
                else:
                    assert self._changed is not None
                    await self._changed.wait()

    async def aclose(self) -> None:
        """Disconnect if needed, stop the pump, close the runtime and the callbacks.
        Idempotent."""
        if self._closed or self._closing:
            return
        self._closing = True
        try:
            if self._loop is not None and self._state != ConnectionState.DISCONNECTED:
                mark = self.event_count
                try:
                    await self.disconnect()
                    await self.wait_for(
                        lambda e: isinstance(e, Disconnected), CLOSE_WAIT_S, after=mark
                    )
                except (TimeoutError, HoloremoteError) as exc:
                    log.warning("session close: disconnect did not complete: %s", exc)
            self._stop_pump.set()
            self.channels.shutdown()
            await asyncio.to_thread(self.runtime.close)
            if self._pump_task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._pump_task
        finally:
            self.record_sink.detach()
            self.callbacks.close()
            self._closed = True
            self._notify()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- internals -------------------------------------------------------------------

    def _attach_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._changed = asyncio.Event()
            self._start_lock = asyncio.Lock()
            self.record_sink.attach(self._records_on_loop, loop)
            self._pump_task = loop.create_task(self._pump(), name="holoremote-session-pump")
        elif self._loop is not loop:
            raise HoloremoteError("a session is bound to the event loop it first ran on")

    def _call_started(self, callback: str, started_at: float) -> None:
        """From a runtime thread: a callback began; an event on the loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._emit, CallStarted(callback, started_at))

    def _records_on_loop(self, records: Sequence[CallbackRecord]) -> None:
        """The relay's target: called on this session's loop, once per burst. The
        latest refusal is the one kept, so the burst is read from its end and only up
        to its last refusal (a burst can hold thousands of records)."""
        for record in reversed(records):
            refusal = CertificateRefusal.of(record)
            if refusal is not None:
                self._refusal = refusal
                break
        self._emit(CallbacksCalled(tuple(records)))

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def _emit(self, event: SessionEvent) -> None:
        if self._closed:
            return
        if len(self._history) == self._history.maxlen:
            self._dropped += 1
        self._history.append(event)
        self._notify()

    def _set_state(self, state: ConnectionState) -> None:
        if state != self._state:
            self._state = state
            self._emit(StateChanged(state))

    def _wait_runtime_event(self) -> RemotingEvent | None:
        """Runs on a worker thread: wait (bounded) for the runtime's next event."""
        runtime = self.runtime
        if channel_calls.has_fast_path(runtime, EventWaiter):
            return cast(EventWaiter, runtime).wait_event(PUMP_WAIT_S)
        deadline_rounds = max(1, int(PUMP_WAIT_S / POLL_INTERVAL_S))
        for _ in range(deadline_rounds):
            event = runtime.poll_event()
            if event is not None or self._stop_pump.wait(POLL_INTERVAL_S):
                return event
        return None

    def _next_runtime_events(self) -> list[tuple[RemotingEvent, bytes | Exception | None]]:
        """Runs on a worker thread: the next events (a few at once when they queue up),
        each data packet already retrieved, so that it is read as soon as it is seen."""
        manual = self.channels.manual_retrieve
        runtime = self.runtime
        if channel_calls.has_fast_path(runtime, EventPump):
            return cast(EventPump, runtime).wait_events_with_packets(
                PUMP_WAIT_S, PUMP_BATCH, retrieve=not manual
            )
        batch: list[tuple[RemotingEvent, bytes | Exception | None]] = []
        event = self._wait_runtime_event()
        while event is not None:
            data: bytes | Exception | None = None
            if isinstance(event, DataChannelDataReceivedEvent) and not manual:
                try:
                    data = channel_calls.retrieve(
                        self.runtime, event.channel, event.packet_id, event.size
                    )
                except (RemotingCallError, DataChannelError) as exc:
                    data = exc
            batch.append((event, data))
            if len(batch) >= PUMP_BATCH:
                break
            event = self.runtime.poll_event()
        return batch

    async def _pump(self) -> None:
        while not self._stop_pump.is_set():
            try:
                batch = await asyncio.to_thread(self._next_runtime_events)
            except RemotingCallError as exc:
                self._emit(Note("error", f"polling the runtime failed: {exc}"))
                return
            # Per batch: isinstance against these runtime_checkable protocols costs
            # about 4 us each time (channel_calls.has_fast_path keeps the answer).
            runtime = self.runtime
            notes = (
                cast(NoteSource, runtime).drain_notes()
                if channel_calls.has_fast_path(runtime, NoteSource)
                else []
            )
            stages = (
                cast(StageSource, runtime).drain_stages()
                if channel_calls.has_fast_path(runtime, StageSource)
                else []
            )
            if batch or notes or stages:
                # The records made before these events (the handshake's callbacks) come
                # first, so a consumer sees an attempt's callbacks before its outcome.
                self.record_sink.drain()
            for message in notes:
                self._emit(Note("info", message))
            for stage in stages:  # before the Connected / Disconnected they led to
                self._emit(stage)
            for event, data in batch:
                if isinstance(event, DataChannelDataReceivedEvent) and isinstance(data, Exception):
                    self.channels.retrieval_failed(event, data)
                elif isinstance(event, DATA_CHANNEL_EVENT_TYPES):
                    self.channels.on_event(event, data if isinstance(data, bytes) else None)
                else:
                    self._on_runtime_event(event)

    def _on_runtime_event(self, event: RemotingEvent) -> None:
        if isinstance(event, ListeningEvent):
            transport = None
            if isinstance(self.runtime, TransportPortReporter):
                transport = self.runtime.listening_transport_port
            self._emit(Listening(event.listening_port, transport))
        elif isinstance(event, ConnectedEvent):
            self._set_state(ConnectionState.CONNECTED)
            self._emit(Connected())
        elif isinstance(event, DisconnectedEvent):
            self._set_state(ConnectionState.DISCONNECTED)
            detail = ""
            if isinstance(self.runtime, DisconnectDetailSource):
                detail = self.runtime.last_disconnect_detail
            self._emit(Disconnected.of(event.disconnect_reason, detail, self._refusal))


__all__ = [
    "ConfigError",
    "Session",
    "SessionClosedError",
    "SessionConfig",
]

"""The connecting side of the built-in runtime (a thin asyncio shell over the cores).

Order, and why: TCP; TLS (secure mode); the server's whole chain goes through system
validation (when asked) and ValidateServerCertificate; only when the verdict passes
the acceptance rule does HTTP start, so the token is never sent to a server the
application has not accepted. Then the challenge, RequestAuthenticationToken, the
authorized request, and the transport port with the one-time session id, where the
server must present the same leaf certificate as on the handshake port.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor

from app.errors import HoloremoteError
from app.remoting.builtin import tls
from app.remoting.builtin.frames import (
    ChannelFrame,
    DataReceived,
    SessionOpened,
    TransportEvent,
)
from app.remoting.builtin.handshake import (
    ChallengeReceived,
    ClientHandshake,
    HandshakeAccepted,
    HandshakeFailed,
    HandshakeTimedOut,
)
from app.remoting.builtin.options import BuiltinOptions
from app.remoting.builtin.shell import (
    CLOSE_GRACE_S,
    Outbox,
    Reporter,
    TransportDriver,
    close_writer,
    connect_error_reason,
    describe_connect_error,
    feed_next,
    flush,
    transport_core,
)
from app.remoting.contract import HandshakeStage
from app.security.acceptance import is_acceptable
from app.xr import invoke, limits
from app.xr.structs import XrRemotingSecureConnectionClientCallbacksMSFT
from app.xr.validation_result import ValidationResult
from app.xr.values import DisconnectReason

R = DisconnectReason
SystemValidator = Callable[[tuple[bytes, ...], str], ValidationResult]


class _Failed(Exception):  # internal control flow: carries the outcome
    def __init__(self, reason: DisconnectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class _StageClock:
    """Times an attempt's stages and reports each when it ends (as failed when it
    raised), so the window can draw where the time and the failure went."""

    def __init__(self, reporter: Reporter) -> None:
        self._reporter = reporter
        self._open: tuple[str, str, float, float] | None = None

    def begin(self, name: str, side: str) -> None:
        self._open = (name, side, time.time(), time.perf_counter())

    def end(self, *, failed: bool = False, detail: str = "") -> None:
        if self._open is None:
            return
        name, side, started, clock = self._open
        self._open = None
        self._reporter.stage(
            HandshakeStage(name, side, started, time.perf_counter() - clock, failed, detail)
        )

    @contextlib.contextmanager
    def stage(self, name: str, side: str) -> Iterator[None]:
        self.begin(name, side)
        try:
            yield
        except _Failed as failure:
            self.end(failed=True, detail=failure.detail)
            raise
        except BaseException:
            self.end(failed=True, detail="canceled")
            raise
        self.end()

    def fail_open_stage(self, detail: str) -> None:
        self.end(failed=True, detail=detail)


async def open_stream(
    host: str, port: int, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """`asyncio.open_connection` within `timeout` seconds (TimeoutError after).

    A timeout scope, not `asyncio.wait_for`: on Python 3.11 `wait_for` hands back the
    connection when its task is canceled after the connection was made but before
    the task resumed, and the cancel is lost. A canceled attempt then went on to its
    TLS handshake and ended only at the handshake deadline."""
    async with asyncio.timeout(timeout):
        return await asyncio.open_connection(host, port)


class Connector:
    def __init__(
        self,
        *,
        options: BuiltinOptions,
        host: str,
        port: int,
        secure: bool,
        callbacks: XrRemotingSecureConnectionClientCallbacksMSFT | None,
        ssl_context: Callable[[], ssl.SSLContext],
        system_validator: Callable[[], SystemValidator],
        reporter: Reporter,
        callback_executor: Executor,
        on_data: Callable[[list[DataReceived | ChannelFrame]], None],
        outbox: Outbox | None = None,
    ) -> None:
        self._options = options
        self._host = host
        self._port = port
        self._secure = secure
        self._callbacks = callbacks
        self._ssl_context = ssl_context
        self._system_validator = system_validator
        self._reporter = reporter
        self._callback_executor = callback_executor
        self._on_data = on_data
        self._outbox = outbox
        self._driver: TransportDriver | None = None
        self._task: asyncio.Task[None] | None = None
        self._cancel_reason: tuple[DisconnectReason, str] | None = None
        self._stages = _StageClock(reporter)

    # --- commands (on the loop) -----------------------------------------------------

    def request_disconnect(self) -> None:
        if self._driver is not None:
            self._driver.request_disconnect()
        else:
            self._cancel(R.CANCELED, "the connection attempt was canceled")

    def abort(self, reason: DisconnectReason, detail: str) -> None:
        if self._driver is not None:
            self._driver.abort(reason, detail)
        else:
            self._cancel(reason, detail)

    def wake(self) -> None:
        """Channel frames were queued in the outbox: write them now."""
        if self._driver is not None:
            self._driver.wake()

    def _cancel(self, reason: DisconnectReason, detail: str) -> None:
        if self._cancel_reason is None:
            self._cancel_reason = (reason, detail)
        if self._task is not None:
            self._task.cancel()

    # --- lifetime ---------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, run the session, report exactly one disconnect."""
        self._task = asyncio.current_task()
        reason, detail = R.INTERNAL_ERROR, "the connection attempt stopped unexpectedly"
        try:
            if self._cancel_reason is not None:
                # Canceled before this task first ran (the request came in between
                # the runtime scheduling the task and the task starting).
                raise _Failed(*self._cancel_reason)
            reason, detail = await self._connect_and_run()
        except _Failed as failure:
            reason, detail = failure.reason, failure.detail
        except asyncio.CancelledError:
            reason, detail = self._cancel_reason or (R.CANCELED, "the runtime closed")
            if self._cancel_reason is None:
                raise
        finally:
            self._reporter.disconnected(reason, detail)

    async def _open(
        self, port: int, *, transport: bool
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await open_stream(self._host, port, self._options.tcp_connect_timeout)
        except (OSError, TimeoutError) as exc:
            where = "transport" if transport else "handshake"
            reason = R.TRANSPORT_UNREACHABLE if transport else connect_error_reason(exc)
            raise _Failed(
                reason, f"{where} port {self._host}:{port}: {describe_connect_error(exc)}"
            ) from None

    async def _start_tls(
        self, writer: asyncio.StreamWriter, deadline: float, failure: DisconnectReason
    ) -> ssl.SSLObject:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                await writer.start_tls(
                    self._ssl_context(),
                    server_hostname=self._host,
                    ssl_handshake_timeout=max(0.1, deadline - loop.time()),
                )
        except asyncio.CancelledError:
            writer.transport.abort()
            raise
        except TimeoutError:
            writer.transport.abort()
            raise _Failed(
                R.REMOTING_HANDSHAKE_TIMEOUT, "the TLS handshake did not finish"
            ) from None
        except (ssl.SSLError, ConnectionError, OSError, EOFError) as exc:
            writer.transport.abort()
            raise _Failed(
                failure,
                f"the TLS handshake failed ({type(exc).__name__}: {exc}); is the other end "
                "in plain mode, or not a holoremote listener?",
            ) from None
        ssl_object = writer.get_extra_info("ssl_object")
        assert ssl_object is not None
        return ssl_object  # type: ignore[no-any-return]

    async def _connect_and_run(self) -> tuple[DisconnectReason, str]:
        loop = asyncio.get_running_loop()
        options = self._options
        stages = self._stages
        with stages.stage("TCP", "network"):
            reader, writer = await self._open(self._port, transport=False)
        deadline = loop.time() + options.handshake_timeout
        leaf: bytes | None = None
        tls_up = not self._secure
        try:
            if self._secure:
                with stages.stage("TLS", "network"):
                    ssl_object = await self._start_tls(
                        writer, deadline, R.HANDSHAKE_CONNECTION_FAILED
                    )
                tls_up = True
                chain = tls.peer_chain(ssl_object)
                with stages.stage("certificate", "client"):
                    await self._validate_chain(chain)
                leaf = chain[0]
            accepted = await self._http_handshake(reader, writer, deadline)
        except BaseException:
            if tls_up:
                await close_writer(writer)
            # else: a TLS handshake that failed or was canceled; asyncio has closed
            # the socket, and there is no TLS session to send close_notify on.
            # Waiting for the stream to report closed would only wait out the grace
            # (the stream protocol never hears of the close).
            raise
        # Admitted: the handshake connection closes (close_notify, the peer's answer)
        # while the transport connection is being made, not before it, as a bare
        # client would: one round trip less before Connected (docs/benchmarks.md).
        closing = asyncio.ensure_future(close_writer(writer)) if tls_up else None
        try:
            return await self._transport(accepted, leaf)
        finally:
            if closing is not None:
                await closing

    def _system_then_callback(
        self, chain: tuple[bytes, ...], forced: bool
    ) -> invoke.Invocation[ValidationResult] | str:
        """System validation (when asked) and ValidateServerCertificate in one hop off
        the loop, on the callback thread: each hop costs a thread wake-up and a loop
        wake-up, a tenth of a millisecond or more of the connect (docs/benchmarks.md).
        The words of a system validation that cannot be made (no usable trust store)
        come back instead of the verdict."""
        assert self._callbacks is not None
        system: ValidationResult | None = None
        if self._callbacks.performSystemValidation:
            try:
                system = self._system_validator()(chain, self._host)
            except HoloremoteError as exc:
                return str(exc)
        return invoke.validate_server_certificate(
            self._callbacks,
            host_name=self._host,
            chain=chain,
            force_revocation_check=forced,
            system_result=system,
        )

    async def _validate_chain(self, chain: tuple[bytes, ...]) -> None:
        loop = asyncio.get_running_loop()
        if not chain:
            raise _Failed(R.HANDSHAKE_CONNECTION_FAILED, "the server presented no certificate")
        if len(chain) > limits.MAX_CHAIN_CERTIFICATES:
            raise _Failed(R.HANDSHAKE_CONNECTION_FAILED, "the server's chain is too long")
        forced = self._options.force_revocation_check
        call = functools.partial(self._system_then_callback, chain, forced)
        outcome = await loop.run_in_executor(self._callback_executor, call)
        if isinstance(outcome, str):  # no usable trust store: say so, refuse
            raise _Failed(
                R.HANDSHAKE_CONNECTION_FAILED, f"system validation is impossible: {outcome}"
            )
        verdict = outcome.value
        if outcome.result != invoke.SUCCESS or verdict is None:
            raise _Failed(
                R.HANDSHAKE_CONNECTION_FAILED,
                f"ValidateServerCertificate refused the server ({outcome.problem or 'failed'})",
            )
        if not is_acceptable(verdict, revocation_forced=forced):
            failed = ", ".join(verdict.failed_fields(revocation_forced=forced))
            raise _Failed(
                R.HANDSHAKE_CONNECTION_FAILED,
                f"the server's certificate was not accepted (failed: {failed})",
            )

    async def _http_handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deadline: float
    ) -> HandshakeAccepted:
        loop = asyncio.get_running_loop()
        core = ClientHandshake(
            host=self._host,
            port=self._port,
            role=self._options.role,
            now=loop.time(),
            timeout=max(0.0, deadline - loop.time()),
            version=self._options.protocol_version,
        )
        stages = self._stages
        # Waiting for the server: its challenge (secure), or its answer (plain).
        stages.begin("challenge" if self._secure else "request", "server")
        try:
            while True:
                while (event := core.next_event()) is not None:
                    if isinstance(event, HandshakeAccepted):
                        stages.end()
                        return event
                    if isinstance(event, HandshakeFailed):
                        if event.throttled:
                            # The disconnect event carries only the reason: say how long
                            # to wait in a note, which `connect` prints before it.
                            self._reporter.note(event.detail)
                        raise _Failed(event.reason, event.detail)
                    if isinstance(event, HandshakeTimedOut):
                        raise _Failed(R.REMOTING_HANDSHAKE_TIMEOUT, "the handshake did not finish")
                    if isinstance(event, ChallengeReceived):
                        stages.end()
                        stages.begin("token", "client")
                        if await self._answer_challenge(core):
                            stages.end()
                            # Waiting for the server to check the token and accept.
                            stages.begin("authorized request", "server")
                        else:
                            stages.end(failed=True, detail="no token to send")
                if not await flush(writer, core.data_to_send()):
                    core.receive_data(b"", loop.time())
                    continue
                await feed_next(core, reader)
        except _Failed as failure:
            stages.fail_open_stage(failure.detail)
            raise
        except BaseException:
            stages.fail_open_stage("canceled")
            raise

    async def _answer_challenge(self, core: ClientHandshake) -> bool:
        if not self._secure or self._callbacks is None:
            core.fail(
                R.HANDSHAKE_FAILED, "the server asks for a token but this end is in plain mode"
            )
            return False
        loop = asyncio.get_running_loop()
        call = functools.partial(
            invoke.request_authentication_token,
            self._callbacks,
            initial_capacity=self._options.initial_string_capacity,
        )
        outcome = await loop.run_in_executor(self._callback_executor, call)
        if not outcome.ok or outcome.value is None:
            core.fail(
                R.AUTHENTICATION_FAILED,
                f"RequestAuthenticationToken gave no token ({outcome.problem or 'failed'})",
            )
            return False
        core.send_token(outcome.value)
        return True

    async def _transport(
        self, accepted: HandshakeAccepted, leaf: bytes | None
    ) -> tuple[DisconnectReason, str]:
        stages = self._stages
        # From the transport connect to the peer's hello: the session opening.
        stages.begin("transport", "network")
        try:
            return await self._open_transport(accepted, leaf)
        finally:
            stages.fail_open_stage("the session did not open")  # if still open

    async def _open_transport(
        self, accepted: HandshakeAccepted, leaf: bytes | None
    ) -> tuple[DisconnectReason, str]:
        loop = asyncio.get_running_loop()
        options = self._options
        try:
            reader, writer = await self._open(accepted.transport_port, transport=True)
        except _Failed as failure:
            self._stages.fail_open_stage(failure.detail)
            raise
        core = transport_core("client", options, loop.time())
        if self._secure:
            deadline = loop.time() + options.session_open_timeout
            try:
                ssl_object = await self._start_tls(writer, deadline, R.TRANSPORT_CONNECTION_FAILED)
            except _Failed as failure:
                if failure.reason == R.REMOTING_HANDSHAKE_TIMEOUT:
                    raise _Failed(R.SESSION_OPEN_TIMEOUT, failure.detail) from None
                raise
            chain = tls.peer_chain(ssl_object)
            if not chain or chain[0] != leaf:
                await close_writer(writer)
                raise _Failed(
                    R.TRANSPORT_CONNECTION_FAILED,
                    "the transport port presented a different certificate than the handshake port",
                )
        core.send_hello(accepted.session_id)

        def on_event(event: TransportEvent) -> None:
            if isinstance(event, SessionOpened):
                self._stages.end()
                self._reporter.connected()

        driver = TransportDriver(
            core, reader, writer, on_event, self._outbox, on_channel=self._on_data
        )
        self._driver = driver
        ended = await driver.run()
        return ended.reason, ended.detail


__all__ = ["CLOSE_GRACE_S", "Connector"]

"""The listening side of the built-in runtime (a thin asyncio shell over the cores).

One `Listener` per xrRemotingListenMSFT call: it asks RequestServerCertificate for the
store (secure mode), builds one TLS context for both ports, binds the handshake and
the transport port, answers handshakes (ValidateAuthenticationToken for each token),
and opens one transport session for the first client that presents a valid one-time
session id. Then it stops accepting; when the session ends, the listener ends (the
application listens again to accept another client, as Microsoft's sample does).

A peer of this protocol that is refused ends the listen, as in Microsoft's runtime:
a presented token that was refused (AUTHENTICATION_FAILED), the same role
(HANDSHAKE_FAILED), no common protocol version (REMOTING_VERSION_MISMATCH); the
listener reports that reason and is DISCONNECTED, and the application listens again.
Whatever never presents itself as such a peer (a client that reads the challenge and
leaves, `holoremote doctor`, TLS version probes, port scanners, a TLS client on a
plain port, a failed TLS handshake) does not: it only leaves a note.

Tokens count per peer IP address in the runtime's `TokenThrottle` (it outlives each
listen). A token from an address blocked after too many refused ones is answered 429
without calling ValidateAuthenticationToken, and that does not end the listen either
(one address must not be able to keep a listener down); other addresses are served as
usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
import socket
import ssl
from collections.abc import Callable
from concurrent.futures import Executor

from app.errors import HoloremoteError
from app.remoting.builtin import tls
from app.remoting.builtin.admission import ConnectionBudget, Gate
from app.remoting.builtin.frames import (
    ChannelFrame,
    DataReceived,
    HelloReceived,
    SessionOpened,
    TransportEvent,
)
from app.remoting.builtin.handshake import (
    ClientAdmitted,
    ClientRefused,
    HandshakeTimedOut,
    ServerHandshake,
    SessionGrants,
    TokenPresented,
    TokenThrottle,
    new_session_id,
)
from app.remoting.builtin.options import BuiltinOptions
from app.remoting.builtin.protocol import (
    FIRST_BYTE_TIMEOUT_S,
    SESSION_ID_BYTES,
    TLS_HANDSHAKE_TIMEOUT_S,
    RejectCode,
)
from app.remoting.builtin.shell import (
    Outbox,
    Reporter,
    TransportDriver,
    close_writer,
    feed_next,
    flush,
    transport_core,
)
from app.remoting.builtin.tls_groups import TlsProfileError
from app.security.certstore import server_tls_material
from app.xr import invoke
from app.xr.structs import XrRemotingSecureConnectionServerCallbacksMSFT
from app.xr.values import DisconnectReason

R = DisconnectReason
# Pending TCP connections the kernel queues per port before the listener accepts them.
# Large on purpose: when this queue is full, Linux silently drops the handshake's last
# ACK and retries its SYN-ACK after 1, 2, 4 ... s, so a burst of hostile connections
# would delay a legitimate client by seconds before the listener ever sees it. Better
# to accept them at once and let the admission gate's budgets and timeouts
# (admission.py) decide. Precedent: nginx's `listen ... backlog` is 511 on Linux;
# the kernel caps it at net.core.somaxconn (4096 since Linux 5.4).
LISTEN_BACKLOG = 512


def bind_listening_socket(interface: str, port: int) -> socket.socket:
    """Bind and listen; OSError (EADDRINUSE, EACCES, EADDRNOTAVAIL) goes to the caller."""
    infos = socket.getaddrinfo(
        interface or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):  # Windows: refuse to share the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:  # POSIX: allow rebinding over TIME_WAIT, never over a live listener
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class Listener:
    def __init__(
        self,
        *,
        options: BuiltinOptions,
        secure: bool,
        interface: str,
        handshake_port: int,
        transport_port: int,
        callbacks: XrRemotingSecureConnectionServerCallbacksMSFT | None,
        realm: str,
        reporter: Reporter,
        callback_executor: Executor,
        on_data: Callable[[list[DataReceived | ChannelFrame]], None],
        outbox: Outbox | None = None,
        throttle: TokenThrottle | None = None,
    ) -> None:
        self._options = options
        self._secure = secure
        self._interface = interface
        self._handshake_port = handshake_port
        self._transport_port = transport_port
        self._callbacks = callbacks
        self._realm = realm
        self._reporter = reporter
        self._callback_executor = callback_executor
        self._on_data = on_data
        self._outbox = outbox
        # The runtime's, shared by its listens; a listener alone gets its own.
        self._throttle = throttle if throttle is not None else TokenThrottle()
        self._grants = SessionGrants()
        self._gates: list[Gate] = []
        self._driver: TransportDriver | None = None
        self._done: asyncio.Future[tuple[DisconnectReason, str]] | None = None
        # An end asked for before `run()` made `_done` (a disconnect queued right
        # behind the listen): `run()` ends with it at once.
        self._early_end: tuple[DisconnectReason, str] | None = None
        self._bound_transport_port = 0

    # --- commands (on the loop) -----------------------------------------------------

    @property
    def session_open(self) -> bool:
        return self._driver is not None

    def request_disconnect(self) -> None:
        if self._driver is not None:
            self._driver.request_disconnect()
        else:
            self._finish(R.DISCONNECT_REQUEST, "stopped listening on request")

    def abort(self, reason: DisconnectReason, detail: str) -> None:
        if self._driver is not None:
            self._driver.abort(reason, detail)
        self._finish(reason, detail)

    def wake(self) -> None:
        """Channel frames were queued in the outbox: write them now."""
        if self._driver is not None:
            self._driver.wake()

    def _finish(self, reason: DisconnectReason, detail: str) -> None:
        if self._done is None:
            if self._early_end is None:
                self._early_end = (reason, detail)
        elif not self._done.done():
            self._done.set_result((reason, detail))

    # --- lifetime ---------------------------------------------------------------------

    async def run(self) -> None:
        """The whole listener: reports listening, then exactly one disconnect."""
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        if self._early_end is not None:
            self._done.set_result(self._early_end)
        reason, detail = R.INTERNAL_ERROR, "the listener stopped unexpectedly"
        try:
            context: ssl.SSLContext | None = None
            if self._secure and not self._done.done():
                context, problem, failure = await self._server_context()
                if context is None:
                    reason, detail = failure, problem
                    return
            if self._done.done():
                # Called off before it listened (here or while the certificate was
                # asked for): no port is bound, and the end is the one asked for.
                reason, detail = self._done.result()
                return
            try:
                handshake_sock = bind_listening_socket(self._interface, self._handshake_port)
            except OSError as exc:
                reason = R.HANDSHAKE_PORT_BUSY
                detail = (
                    f"cannot listen on {self._interface}:{self._handshake_port}: {exc.strerror}"
                )
                return
            try:
                transport_sock = bind_listening_socket(self._interface, self._transport_port)
            except OSError as exc:
                handshake_sock.close()
                reason = R.TRANSPORT_PORT_BUSY
                detail = (
                    f"cannot listen on {self._interface}:{self._transport_port}: {exc.strerror}"
                )
                return
            # Both ports share one budget: a client needs one connection on each.
            budget = ConnectionBudget()
            for sock, handler in (
                (handshake_sock, self._serve_handshake),
                (transport_sock, self._serve_transport),
            ):
                gate = Gate(
                    budget=budget,
                    context=context,
                    handler=handler,
                    note=self._reporter.note,
                    first_byte_timeout=min(FIRST_BYTE_TIMEOUT_S, self._options.handshake_timeout),
                    tls_handshake_timeout=min(
                        TLS_HANDSHAKE_TIMEOUT_S, self._options.handshake_timeout
                    ),
                )
                gate.start(sock)
                self._gates.append(gate)
            handshake_port = handshake_sock.getsockname()[1]
            self._bound_transport_port = transport_sock.getsockname()[1]
            self._reporter.listening(handshake_port, self._bound_transport_port)
            reason, detail = await self._done
        except asyncio.CancelledError:
            reason, detail = R.CANCELED, "the runtime closed"
            raise
        finally:
            self._stop_accepting()
            connections = [task for gate in self._gates for task in gate.tasks]
            for task in connections:
                task.cancel()
            if connections:
                await asyncio.gather(*connections, return_exceptions=True)
            self._reporter.disconnected(reason, detail)

    def _stop_accepting(self) -> None:
        for gate in self._gates:
            gate.close()

    async def _server_context(self) -> tuple[ssl.SSLContext | None, str, DisconnectReason]:
        """RequestServerCertificate (two-call idiom, via app.xr.invoke), then the
        store's chain and key into one TLS context."""
        loop = asyncio.get_running_loop()
        assert self._callbacks is not None
        request = functools.partial(
            invoke.request_server_certificate,
            self._callbacks,
            initial_store_capacity=self._options.initial_cert_store_capacity,
            initial_string_capacity=self._options.initial_string_capacity,
        )
        outcome = await loop.run_in_executor(self._callback_executor, request)
        if not outcome.ok or outcome.value is None:
            problem = outcome.problem or "RequestServerCertificate did not succeed"
            return None, problem, R.NO_SERVER_CERTIFICATE
        material = outcome.value
        try:
            chain_pem, key_pem = await loop.run_in_executor(
                None,
                server_tls_material,
                material.cert_store,
                material.key_passphrase,
                material.subject_name,
            )
            context = await loop.run_in_executor(None, tls.server_context, chain_pem, key_pem)
        except TlsProfileError as exc:
            # Fail closed: never listen with a weaker TLS profile than docs/security.md says.
            return None, f"the TLS profile cannot be applied: {exc}", R.INTERNAL_ERROR
        except (HoloremoteError, ValueError, ssl.SSLError, OSError) as exc:
            return None, f"the certificate store cannot be used: {exc}", R.NO_SERVER_CERTIFICATE
        return context, "", R.NO_SERVER_CERTIFICATE

    # --- handshake port -----------------------------------------------------------------

    async def _serve_handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        peer = _peer_name(writer)
        address = _peer_address(writer)
        if self.session_open or (self._done is not None and self._done.done()):
            await close_writer(writer)
            return
        core = ServerHandshake(
            secure=self._secure,
            realm=self._realm,
            role=self._options.role,
            now=loop.time(),
            timeout=self._options.handshake_timeout,
            peer=address,
            throttle=self._throttle,
        )
        refusal: ClientRefused | None = None
        closed = False
        try:
            while True:
                refusal = await self._handshake_events(core, peer) or refusal
                if core.finished:
                    if _ends_listen(refusal) and not self.session_open:
                        # No new connection for a listen that ends: with the answer
                        # going out at once (below), the refused peer could otherwise
                        # connect again and be served by this listen before it ends.
                        self._stop_accepting()
                    # The last answer and the close in one segment.
                    closed = True
                    await close_writer(writer, last=core.data_to_send())
                    break
                if not await flush(writer, core.data_to_send()):
                    break
                await feed_next(core, reader)
        finally:
            if not closed:  # (a second wait for the same close cost a timer per connection)
                await close_writer(writer)
        # After the answer went out: a refused peer of this protocol ends the listen
        # (Microsoft's runtime semantics; the application listens again).
        if refusal is not None and refusal.reason is not None and not self.session_open:
            self._finish(refusal.reason, f"refused a handshake from {peer}: {refusal.detail}")

    async def _handshake_events(self, core: ServerHandshake, peer: str) -> ClientRefused | None:
        """Act on the core's events; returns the refusal, if the core refused."""
        loop = asyncio.get_running_loop()
        refusal: ClientRefused | None = None
        while (event := core.next_event()) is not None:
            if isinstance(event, TokenPresented):
                assert self._callbacks is not None
                outcome = await loop.run_in_executor(
                    self._callback_executor,
                    invoke.validate_authentication_token,
                    self._callbacks,
                    event.token,
                )
                core.token_verdict(outcome.ok and outcome.value is True, outcome.problem or "")
            elif isinstance(event, ClientAdmitted):
                if self.session_open or self._done is None or self._done.done():
                    core.refuse_busy()
                    continue
                session_id = new_session_id(secrets.token_bytes(SESSION_ID_BYTES))
                timeout = self._options.session_open_timeout
                self._grants.issue(session_id, loop.time(), timeout)
                loop.call_later(timeout, self._expire_grants)
                core.accept(session_id, self._bound_transport_port, timeout)
            elif isinstance(event, ClientRefused):
                refusal = event
                self._reporter.note(f"refused a handshake from {peer}: {event.detail}")
            elif isinstance(event, HandshakeTimedOut):
                self._reporter.note(f"the handshake from {peer} timed out")
        return refusal

    def _expire_grants(self) -> None:
        expired = self._grants.expire(asyncio.get_running_loop().time())
        if expired and not self.session_open and not self._grants:
            self._finish(
                R.SESSION_OPEN_TIMEOUT,
                "a client passed the handshake but did not open the transport session in time",
            )

    # --- transport port -----------------------------------------------------------------

    async def _serve_transport(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        options = self._options
        core = transport_core("server", options, loop.time())
        driver: TransportDriver

        def on_event(event: TransportEvent) -> None:
            if isinstance(event, HelloReceived):
                now = loop.time()
                if self.session_open or self._done is None or self._done.done():
                    core.reject(RejectCode.BUSY, "a session is already open")
                elif self._grants.consume(event.session_id, now):
                    self._driver = driver
                    core.welcome(now)
                    self._stop_accepting()
                else:
                    core.reject(RejectCode.UNKNOWN_SESSION, "unknown, used or expired session id")
            elif isinstance(event, SessionOpened):
                self._reporter.connected()

        driver = TransportDriver(
            core, reader, writer, on_event, self._outbox, on_channel=self._on_data
        )
        ended = await driver.run()
        if self._driver is driver:
            self._finish(ended.reason, ended.detail)
        else:
            self._reporter.note(
                f"a transport connection from {_peer_name(writer)} ended: {ended.detail}"
            )


def _ends_listen(refusal: ClientRefused | None) -> bool:
    """A refused peer of this protocol ends the listen (Microsoft's runtime semantics)."""
    return refusal is not None and refusal.reason is not None


def _peer_address(writer: asyncio.StreamWriter) -> str:
    """The peer's IP address (the throttle's key); "" when the socket cannot say."""
    with contextlib.suppress(Exception):
        return str(writer.get_extra_info("peername")[0])
    return ""


def _peer_name(writer: asyncio.StreamWriter) -> str:
    with contextlib.suppress(Exception):
        host, port = writer.get_extra_info("peername")[:2]
        return f"{host}:{port}"
    return "a client"

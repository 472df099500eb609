"""The handshake as two sans-I/O state machines (client and server) over h11.

Like h11 and aioquic, these own no socket, no clock and no thread: feed received
bytes with `receive_data(data, now)` (b"" means the peer closed), take typed events
from `next_event()`, send what `data_to_send()` returns, and call `handle_timer(now)`
when `deadline` passes. The shell in `server.py` / `client.py` does the I/O, the TLS
and the callbacks; this module decides what the requests and answers mean.

Beside it, each in its own module: the events (`handshake_events.py`), the legal
states and steps, one table per side (`handshake_states.py`; `our_state` shows where
a machine is), the header fields (`handshake_fields.py`), the refused-token throttle
(`token_throttle.py`) and the one-time session ids (`session_grants.py`). Their names
are imported here too, so `handshake` stays the one door the shells and tests use.

HTTP framing is h11's (bounded by `MAX_HEAD_BYTES`); our code reads only the few
headers the protocol defines. Tokens are kept out of every repr and message.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import h11

from app.remoting.builtin.handshake_events import (
    ChallengeReceived,
    ClientAdmitted,
    ClientEvent,
    ClientRefused,
    HandshakeAccepted,
    HandshakeFailed,
    HandshakeTimedOut,
    PeerClosed,
    ServerEvent,
    TokenPresented,
)
from app.remoting.builtin.handshake_fields import (
    head_size,
    header,
    json_body,
    new_session_id,
    parse_bearer_challenge,
    valid_session_id,
    valid_token_text,
)
from app.remoting.builtin.handshake_states import (
    CLIENT_TRANSITIONS,
    SERVER_READING_STATES,
    SERVER_TRANSITIONS,
    ChallengeSent,
    ClientState,
    HandshakeStateError,
    ServerState,
    SessionGranted,
    TokenSent,
    is_final,
    next_state,
)
from app.remoting.builtin.protocol import (
    ERROR_BAD_REQUEST,
    ERROR_BUSY,
    ERROR_INVALID_TOKEN,
    ERROR_NOT_FOUND,
    ERROR_SAME_ROLE,
    ERROR_TLS_REQUIRED,
    ERROR_TOO_MANY_FAILURES,
    ERROR_UNSUPPORTED_VERSION,
    HANDSHAKE_PATH,
    MAX_BODY_BYTES,
    MAX_HEAD_BYTES,
    MAX_HEADER_COUNT,
    MAX_REQUEST_LINE_BYTES,
    MAX_REQUESTS_PER_CONNECTION,
    MAX_TOKEN_BYTES,
    PROBE_HEADER,
    PROTOCOL_VERSION,
    RETRY_AFTER_HEADER,
    ROLE_HEADER,
    ROLES,
    SERVER_NAME,
    SUPPORTED_VERSIONS,
    SUPPORTED_VERSIONS_HEADER,
    USER_AGENT,
    VERSION_HEADER,
    Role,
)
from app.remoting.builtin.session_grants import SessionGrants
from app.remoting.builtin.token_throttle import TokenThrottle, retry_after_seconds, throttle_key
from app.xr.values import DisconnectReason

__all__ = [
    "TLS_HANDSHAKE_RECORD",
    "ChallengeReceived",
    "ClientAdmitted",
    "ClientEvent",
    "ClientHandshake",
    "ClientRefused",
    "ClientState",
    "HandshakeAccepted",
    "HandshakeFailed",
    "HandshakeStateError",
    "HandshakeTimedOut",
    "PeerClosed",
    "ServerEvent",
    "ServerHandshake",
    "ServerState",
    "SessionGrants",
    "TokenPresented",
    "TokenThrottle",
    "header",
    "new_session_id",
    "parse_bearer_challenge",
    "retry_after_seconds",
    "throttle_key",
    "valid_session_id",
    "valid_token_text",
]

# The first byte of a TLS record carrying a handshake message (a ClientHello).
TLS_HANDSHAKE_RECORD = 0x16

State = TypeVar("State", ClientState, ServerState)
Event = TypeVar("Event")


class _Machine(Generic[State, Event]):
    """What both sides share: h11, the event queue, the outgoing buffer, the deadline,
    and the state, which changes only in `_move`, along its side's table."""

    def __init__(
        self,
        role: type[h11.CLIENT] | type[h11.SERVER],
        table: Mapping[State, Mapping[type, State]],
        first: State,
        now: float,
        timeout: float,
    ):
        self._h11 = h11.Connection(role, max_incomplete_event_size=MAX_HEAD_BYTES)
        self._table: Mapping[State, Mapping[type, State]] = table
        self._state: State = first
        self._events: collections.deque[Event] = collections.deque()
        self._out = bytearray()
        self.deadline: float | None = now + timeout
        self.should_close = False  # close the connection once data_to_send() is flushed

    @property
    def our_state(self) -> State:
        return self._state

    @property
    def finished(self) -> bool:
        """No more events will come (the state is final)."""
        return is_final(self._table, self._state)

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def get_timer(self) -> float | None:
        return None if self.finished else self.deadline

    def handle_timer(self, now: float) -> None:
        if self.deadline is not None and now >= self.deadline and not self.finished:
            self._end(HandshakeTimedOut())

    def _send(self, event: h11.Event) -> None:
        data = self._h11.send(event)
        if data:
            self._out += data

    def _move(self, trigger: type) -> None:
        """The one place the state changes (HandshakeStateError off the table)."""
        self._state = next_state(self._table, self._state, trigger)
        if self.finished:
            self.should_close = True
            self.deadline = None

    def _emit(self, event: Any) -> None:
        self._move(type(event))
        self._events.append(event)

    def _end(self, event: Any) -> None:
        """A final event, unless the machine already ended (first end wins)."""
        if not self.finished:
            self._emit(event)


# --- client -------------------------------------------------------------------------


class ClientHandshake(_Machine[ClientState, ClientEvent]):
    """The client's side: request, (challenge, token, request,) admission; its states
    and steps are `CLIENT_TRANSITIONS`."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        role: Role,
        now: float,
        timeout: float,
        version: int = PROTOCOL_VERSION,
        probe: bool = False,
    ) -> None:
        super().__init__(h11.CLIENT, CLIENT_TRANSITIONS, ClientState.SENT_REQUEST, now, timeout)
        self._host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._role: Role = role
        self._version = version
        self._probe = probe
        self._first_bytes = b""  # the start of the answer: HTTP at all?
        self._status: int | None = None
        self._response_headers: list[tuple[bytes, bytes]] = []
        self._body = bytearray()
        self._send_request(None)

    def _send_request(self, token: str | None) -> None:
        headers = [
            ("Host", self._host_header),
            ("User-Agent", USER_AGENT),
            (VERSION_HEADER, str(self._version)),
            (ROLE_HEADER, self._role),
            ("Content-Length", "0"),
        ]
        if self._probe:
            headers.append((PROBE_HEADER, "1"))
        if token is not None:
            headers.append(("Authorization", f"Bearer {token}"))
        self._send(h11.Request(method="POST", target=HANDSHAKE_PATH, headers=headers))
        self._send(h11.EndOfMessage())

    def send_token(self, token: str) -> None:
        """Answer a `ChallengeReceived` with the token from RequestAuthenticationToken.
        Ignored once the machine ended (its timer may run out while the token is
        fetched); HandshakeStateError before a challenge."""
        if self.finished:
            return
        next_state(self._table, self._state, TokenSent)
        if not valid_token_text(token):
            self._end(
                HandshakeFailed(
                    DisconnectReason.AUTHENTICATION_FAILED,
                    "the token cannot be sent in an HTTP header: it must be 1 to "
                    f"{MAX_TOKEN_BYTES} visible ASCII characters without spaces",
                )
            )
            return
        self._h11.start_next_cycle()
        self._move(TokenSent)
        self._status = None
        self._response_headers = []
        self._body.clear()
        self._send_request(token)

    def fail(self, reason: DisconnectReason, detail: str) -> None:
        """The shell ends the handshake (a callback refused, TLS failed, ...)."""
        self._end(HandshakeFailed(reason, detail))

    def receive_data(self, data: bytes, now: float) -> None:
        if self.finished:
            return
        if len(self._first_bytes) < len(b"HTTP/"):
            self._first_bytes += data[: len(b"HTTP/") - len(self._first_bytes)]
        try:
            self._h11.receive_data(data)
        except RuntimeError:  # data after the server closed; nothing more is read
            return
        self.handle_timer(now)
        while not self.finished:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                if self._status is None and not self._first_bytes.startswith(b"HTTP/"):
                    self.fail(
                        DisconnectReason.HANDSHAKE_CONNECTION_FAILED,
                        "the server's answer is not HTTP; is it a TLS listener while this "
                        f"end is plain, or another service? ({exc})",
                    )
                else:
                    self.fail(DisconnectReason.HANDSHAKE_FAILED, f"malformed answer: {exc}")
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Response):
                self._status = event.status_code
                self._response_headers = list(event.headers)
                if head_size((b"HTTP/1.1 200 ", event.reason), event.headers) > MAX_HEAD_BYTES:
                    self.fail(
                        DisconnectReason.HANDSHAKE_FAILED,
                        f"the server's answer head exceeds {MAX_HEAD_BYTES} bytes",
                    )
            elif isinstance(event, h11.Data):
                self._body += event.data
                if len(self._body) > MAX_BODY_BYTES:
                    self.fail(
                        DisconnectReason.HANDSHAKE_FAILED,
                        f"the server's answer body exceeds {MAX_BODY_BYTES} bytes",
                    )
            elif isinstance(event, h11.EndOfMessage):
                self._on_response()
                return
            elif isinstance(event, h11.ConnectionClosed):
                self.fail(
                    DisconnectReason.HANDSHAKE_CONNECTION_FAILED,
                    "the server closed the connection before answering",
                )

    def _error_code(self) -> str:
        try:
            body = json.loads(bytes(self._body) or b"{}")
        except ValueError:
            return ""
        error = body.get("error") if isinstance(body, dict) else None
        return error if isinstance(error, str) else ""

    def _on_response(self) -> None:
        status = self._status
        if status == 200:
            self._on_admitted()
        elif status == 401:
            challenge = header(self._response_headers, "www-authenticate")
            params = parse_bearer_challenge(challenge) if challenge else None
            if params is None:
                self.fail(
                    DisconnectReason.HANDSHAKE_FAILED,
                    "401 without a Bearer challenge (WWW-Authenticate)",
                )
            elif params.get("error") == ERROR_INVALID_TOKEN or (
                self._state is ClientState.SENT_TOKEN
            ):
                self.fail(
                    DisconnectReason.AUTHENTICATION_FAILED,
                    f"the server refused the token (realm {params.get('realm', '')!r})",
                )
            else:
                self._emit(ChallengeReceived(params.get("realm", "")))
        elif status == 429:
            self._on_too_many_failures()
        elif status == 400 and self._error_code() == ERROR_UNSUPPORTED_VERSION:
            offered = header(self._response_headers, SUPPORTED_VERSIONS_HEADER) or "?"
            self.fail(
                DisconnectReason.REMOTING_VERSION_MISMATCH,
                f"this end speaks protocol version {self._version}; the server supports {offered}",
            )
        elif status == 400 and self._error_code() == ERROR_TLS_REQUIRED:
            self.fail(
                DisconnectReason.HANDSHAKE_CONNECTION_FAILED,
                "the server speaks TLS on this port while this end is plain; connect securely",
            )
        elif status == 409 and self._error_code() == ERROR_SAME_ROLE:
            self.fail(
                DisconnectReason.HANDSHAKE_FAILED,
                f"both ends are the {self._role}; one must be the remote, the other the player",
            )
        else:
            error = self._error_code()
            self.fail(
                DisconnectReason.HANDSHAKE_FAILED,
                f"the server answered {status}" + (f" ({error})" if error else ""),
            )

    def _on_too_many_failures(self) -> None:
        """429: the server did not check the token because this address presented too
        many refused ones; Retry-After (delay-seconds) says how long to wait."""
        text = (header(self._response_headers, RETRY_AFTER_HEADER) or "").strip()
        # delay-seconds = 1*DIGIT (RFC 9110 section 10.2.3); an HTTP-date or a number
        # of more than a day's digits is not something this protocol sends.
        retry = int(text) if text.isdigit() and len(text) <= 6 else None
        wait = f"try again in {retry} s" if retry is not None else "try again later"
        self._end(
            HandshakeFailed(
                DisconnectReason.AUTHENTICATION_FAILED,
                "the server refused to check the token: too many failed attempts from "
                f"this address; {wait}",
                throttled=True,
                retry_after=retry,
            )
        )

    def _on_admitted(self) -> None:
        try:
            body = json.loads(bytes(self._body))
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.fail(DisconnectReason.HANDSHAKE_FAILED, "the 200 answer is not a JSON object")
            return
        version, role = body.get("protocolVersion"), body.get("role")
        port, session_id = body.get("transportPort"), body.get("sessionId")
        if version not in SUPPORTED_VERSIONS or isinstance(version, bool):
            self.fail(
                DisconnectReason.REMOTING_VERSION_MISMATCH,
                f"the server chose protocol version {version!r}",
            )
        elif role not in ROLES:
            self.fail(DisconnectReason.HANDSHAKE_FAILED, f"the server's role {role!r} is unknown")
        elif role == self._role:
            self.fail(
                DisconnectReason.HANDSHAKE_FAILED,
                f"both ends are the {role}; one must be the remote, the other the player",
            )
        elif not (isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536):
            self.fail(DisconnectReason.HANDSHAKE_FAILED, f"bad transportPort {port!r}")
        elif not (isinstance(session_id, str) and valid_session_id(session_id)):
            self.fail(DisconnectReason.HANDSHAKE_FAILED, "bad or missing sessionId")
        else:
            assert isinstance(version, int)
            self._end(HandshakeAccepted(version, role, port, session_id))


# --- server -------------------------------------------------------------------------


class ServerHandshake(_Machine[ServerState, ServerEvent]):
    """The server's side: checks, challenge, token verdict, admission; its states and
    steps are `SERVER_TRANSITIONS`.

    With a `throttle` (the runtime's) and the peer's address, a token counts against
    the address when it is presented and is cleared by an accepting verdict; a token
    from a blocked address is answered 429 + Retry-After, with no `TokenPresented`."""

    def __init__(
        self,
        *,
        secure: bool,
        realm: str,
        role: Role,
        now: float,
        timeout: float,
        supported_versions: frozenset[int] = SUPPORTED_VERSIONS,
        peer: str = "",
        throttle: TokenThrottle | None = None,
    ) -> None:
        super().__init__(h11.SERVER, SERVER_TRANSITIONS, ServerState.READING_REQUEST, now, timeout)
        self._secure = secure
        self._peer = throttle_key(peer)
        self._throttle = throttle
        self._now = now
        # What presenting this connection's token did to its address's record.
        self._blocked_after = 0.0
        self._failures_after = 0
        self._realm = realm
        self._role: Role = role
        self._supported = supported_versions
        self._requests = 0
        self._seen_bytes = False
        self._request: h11.Request | None = None
        self._body_size = 0
        self._pending: ClientAdmitted | None = None  # what a valid token admits
        self._probe = False  # the current request is marked as a diagnostic probe

    def handle_timer(self, now: float) -> None:
        self._now = max(self._now, now)
        super().handle_timer(now)

    # -- answers the shell gives -------------------------------------------------------

    # Each is ignored once the machine ended (its timer may run out while the shell
    # awaits a callback) and raises HandshakeStateError out of its table's order.

    def token_verdict(self, valid: bool, detail: str = "") -> None:
        """After `TokenPresented`: what ValidateAuthenticationToken decided."""
        if self.finished:
            return
        next_state(self._table, self._state, ClientAdmitted if valid else ClientRefused)
        if self._state is not ServerState.AWAITING_VERDICT:
            raise HandshakeStateError("a token verdict without a presented token")
        if valid:
            assert self._pending is not None
            if self._throttle is not None:
                self._throttle.accepted(self._peer)
            self._emit(self._pending)
        else:
            self._refuse_token(detail or "the token was refused")

    def accept(self, session_id: str, transport_port: int, expires_in: float) -> None:
        """After `ClientAdmitted`: answer 200 with the one-time session id."""
        if self.finished:
            return
        next_state(self._table, self._state, SessionGranted)
        assert self._pending is not None
        body = {
            "protocolVersion": self._pending.version,
            "role": self._role,
            "transportPort": transport_port,
            "sessionId": session_id,
            "expiresIn": round(expires_in, 3),
        }
        self._respond(200, body, close=True)
        self._move(SessionGranted)

    def refuse_busy(self) -> None:
        """After `ClientAdmitted`, when a session is already open."""
        if self.finished:
            return
        if self._state is not ServerState.ADMITTED:
            raise HandshakeStateError("refuse_busy before the client was admitted")
        self._respond(503, {"error": ERROR_BUSY}, close=True)
        self._end(ClientRefused(503, "a session is already open"))

    # -- input -------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        if self.finished:
            return
        self._now = max(self._now, now)
        if not self._seen_bytes and data:
            self._seen_bytes = True
            if not self._secure and data[0] == TLS_HANDSHAKE_RECORD:
                # A TLS client on a plain listener: say so in plain HTTP at once, which
                # the client's TLS layer reports as a failure right away instead of
                # both ends waiting for the handshake timeout.
                self._refuse(400, ERROR_BAD_REQUEST, "a TLS client on a plain listener")
                return
        try:
            self._h11.receive_data(data)
        except RuntimeError:
            return
        self.handle_timer(now)
        self._process()

    def _process(self) -> None:
        while self._state in SERVER_READING_STATES:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                self._refuse(exc.error_status_hint, ERROR_BAD_REQUEST, f"not HTTP/1.1: {exc}")
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Request):
                self._request = event
                self._body_size = 0
                if len(event.method) + len(event.target) + len(b"  HTTP/1.1") > (
                    MAX_REQUEST_LINE_BYTES
                ):
                    self._refuse(414, ERROR_BAD_REQUEST, "request line too long")
                    return
                if len(event.headers) > MAX_HEADER_COUNT:
                    self._refuse(431, ERROR_BAD_REQUEST, "too many header fields")
                    return
                if head_size((event.method, b"  HTTP/1.1", event.target), event.headers) > (
                    MAX_HEAD_BYTES
                ):
                    self._refuse(431, ERROR_BAD_REQUEST, "request head too large")
                    return
            elif isinstance(event, h11.Data):
                self._body_size += len(event.data)
                if self._body_size > MAX_BODY_BYTES:
                    self._refuse(413, ERROR_BAD_REQUEST, "request body too large")
                    return
            elif isinstance(event, h11.EndOfMessage):
                self._on_request()
            elif isinstance(event, h11.ConnectionClosed):
                self._end(PeerClosed())

    def _on_request(self) -> None:
        request = self._request
        assert request is not None
        self._requests += 1
        self._probe = any(name == PROBE_HEADER.lower().encode() for name, _ in request.headers)
        if request.target.split(b"?", 1)[0] != HANDSHAKE_PATH.encode("ascii"):
            self._refuse(404, ERROR_NOT_FOUND, f"unknown path {request.target[:80]!r}")
            return
        if request.method != b"POST":
            self._refuse(405, ERROR_NOT_FOUND, "only POST is allowed", allow="POST")
            return
        version_text = header(request.headers, VERSION_HEADER)
        if version_text is None or not version_text.isdigit() or len(version_text) > 5:
            self._refuse(400, ERROR_BAD_REQUEST, f"missing or bad {VERSION_HEADER} header")
            return
        version = int(version_text)
        if version not in self._supported:
            self._refuse(
                400,
                ERROR_UNSUPPORTED_VERSION,
                f"the client speaks protocol version {version}; this end supports "
                + ",".join(str(v) for v in sorted(self._supported)),
                reason=DisconnectReason.REMOTING_VERSION_MISMATCH,
            )
            return
        role = header(request.headers, ROLE_HEADER)
        if role not in ROLES:
            self._refuse(400, ERROR_BAD_REQUEST, f"missing or bad {ROLE_HEADER} header")
            return
        if role == self._role:
            self._refuse(
                409,
                ERROR_SAME_ROLE,
                f"the client is the {role} as well; one end must be the remote, the other "
                "the player",
                reason=DisconnectReason.HANDSHAKE_FAILED,
            )
            return
        assert role in ROLES
        admitted = ClientAdmitted(version, role)
        if not self._secure:
            self._pending = admitted
            self._emit(admitted)
            return
        authorization = header(request.headers, "authorization")
        if authorization is not None and self._throttle is not None:
            wait = self._throttle.blocked_for(self._peer, self._now)
            if wait > 0:
                self._refuse_blocked(wait)
                return
        if authorization is None:
            if self._requests >= MAX_REQUESTS_PER_CONNECTION:
                self._refuse(400, ERROR_BAD_REQUEST, "no token after the challenge")
                return
            self._respond(
                401,
                {"error": "authentication_required"},
                extra=[("WWW-Authenticate", self._challenge(None))],
                close=False,
            )
            self._h11.start_next_cycle()
            self._move(ChallengeSent)
            return
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        self._pending = admitted
        if self._throttle is not None:
            self._blocked_after = self._throttle.presented(self._peer, self._now)
            self._failures_after = self._throttle.failures(self._peer, self._now)
        if scheme.lower() != "bearer" or not valid_token_text(token):
            # Credentials were presented, just not usable ones: refused like a wrong
            # token, without asking ValidateAuthenticationToken.
            self._refuse_token(
                "the Authorization header is not a Bearer token"
                if scheme.lower() != "bearer"
                else f"the Bearer token is not 1..{MAX_TOKEN_BYTES} visible ASCII characters",
            )
            return
        self._emit(TokenPresented(token))

    def _refuse_token(self, detail: str) -> None:
        """401 invalid_token: the callback refused the token, or it was not one."""
        self._respond(
            401,
            {"error": ERROR_INVALID_TOKEN},
            extra=[("WWW-Authenticate", self._challenge(ERROR_INVALID_TOKEN))],
            close=True,
        )
        if self._blocked_after > 0:
            detail += (
                f"; {self._peer or 'this address'} is blocked for "
                f"{retry_after_seconds(self._blocked_after)} s after "
                f"{self._failures_after} refused tokens"
            )
        reason = None if self._probe else DisconnectReason.AUTHENTICATION_FAILED
        self._end(ClientRefused(401, detail, reason))

    def _refuse_blocked(self, wait: float) -> None:
        """429 for a token from a blocked address: not checked, and (like a probe's
        refusal) it does not end the listen, or one address could keep it down."""
        retry = retry_after_seconds(wait)
        self._respond(
            429,
            {"error": ERROR_TOO_MANY_FAILURES},
            extra=[(RETRY_AFTER_HEADER, str(retry))],
            close=True,
        )
        self._end(
            ClientRefused(
                429,
                f"too many refused tokens from {self._peer or 'this address'}: the token was "
                f"not checked (429); the address may try again in {retry} s",
            )
        )

    # -- output ------------------------------------------------------------------------

    def _challenge(self, error: str | None) -> str:
        value = f'Bearer realm="{self._realm}"'
        if error:
            value += f', error="{error}"'
        return value

    def _respond(
        self,
        status: int,
        body: dict[str, Any],
        *,
        extra: list[tuple[str, str]] | None = None,
        close: bool,
    ) -> None:
        payload = json_body(body)
        headers = [
            ("Server", SERVER_NAME),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            ("Cache-Control", "no-store"),
            *(extra or []),
        ]
        if close:
            headers.append(("Connection", "close"))
        try:
            self._send(h11.Response(status_code=status, headers=headers))
            self._send(h11.Data(data=payload))
            self._send(h11.EndOfMessage())
        except h11.LocalProtocolError:
            # h11 cannot answer in its current state (the request line never parsed):
            # write a minimal answer by hand so the peer sees why.
            reason = b"Bad Request" if status == 400 else b"Error"
            self._out += (
                b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n" % (status, reason, len(payload))
            ) + payload

    def _refuse(
        self,
        status: int,
        error: str,
        detail: str,
        *,
        allow: str | None = None,
        reason: DisconnectReason | None = None,
    ) -> None:
        extra = [("Allow", allow)] if allow else []
        if error == ERROR_UNSUPPORTED_VERSION:
            supported = ",".join(str(v) for v in sorted(self._supported))
            extra.append((SUPPORTED_VERSIONS_HEADER, supported))
        self._respond(status, {"error": error}, extra=extra, close=True)
        self._end(ClientRefused(status, detail, None if self._probe else reason))

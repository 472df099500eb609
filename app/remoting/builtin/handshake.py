"""The handshake as two sans-I/O state machines (client and server) over h11.

Like h11 and aioquic, these own no socket, no clock and no thread: feed received
bytes with `receive_data(data, now)` (b"" means the peer closed), take typed events
from `next_event()`, send what `data_to_send()` returns, and call `handle_timer(now)`
when `deadline` passes. The shell in `server.py` / `client.py` does the I/O, the TLS
and the callbacks; this module decides what the requests and answers mean.

HTTP framing is h11's (bounded by `MAX_HEAD_BYTES`); our code reads only the few
headers the protocol defines. Tokens are kept out of every repr and message.
"""

from __future__ import annotations

import base64
import binascii
import collections
import hmac
import ipaddress
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import h11

from app.remoting.builtin.protocol import (
    AUTH_BASE_BLOCK_SECONDS,
    AUTH_FAILURE_WINDOW_SECONDS,
    AUTH_MAX_BLOCK_SECONDS,
    AUTH_MAX_FAILURES,
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
    SESSION_ID_BYTES,
    SESSION_ID_CHARS,
    SUPPORTED_VERSIONS,
    SUPPORTED_VERSIONS_HEADER,
    USER_AGENT,
    VERSION_HEADER,
    Role,
)
from app.security.token_validation import FailureThrottle
from app.xr.values import DisconnectReason

# The first byte of a TLS record carrying a handshake message (a ClientHello).
TLS_HANDSHAKE_RECORD = 0x16
# RFC 6750 b64token, widened to any visible ASCII so opaque secrets travel as they are.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")
_SESSION_ID = re.compile(rf"[A-Za-z0-9_-]{{{SESSION_ID_CHARS}}}")
# auth-param = token BWS "=" BWS ( token / quoted-string ), RFC 9110 section 11.2.
_AUTH_PARAM = re.compile(
    r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*(?:,|$)'
)


# --- events -------------------------------------------------------------------------


@dataclass(frozen=True)
class ChallengeReceived:
    """Client: the server asks for a Bearer token in `realm`."""

    realm: str


@dataclass(frozen=True)
class HandshakeAccepted:
    """Client: the server admitted us; open the transport with this session id."""

    version: int
    role: Role
    transport_port: int
    session_id: str = field(repr=False)


@dataclass(frozen=True)
class HandshakeFailed:
    """Client: the handshake is over without success; `reason` says how to report it.
    `throttled` when the server refused to check the token at all (429, too many
    failed attempts from this address), with `retry_after`, the seconds it asked this
    address to wait (None when it named no usable number)."""

    reason: DisconnectReason
    detail: str
    throttled: bool = False
    retry_after: int | None = None


@dataclass(frozen=True)
class TokenPresented:
    """Server: the client sent a token; call ValidateAuthenticationToken, then
    `token_verdict()`."""

    token: str = field(repr=False)


@dataclass(frozen=True)
class ClientAdmitted:
    """Server: the client passed every check; call `accept()` (or `refuse_busy()`)."""

    version: int
    role: Role


@dataclass(frozen=True)
class ClientRefused:
    """Server: the client was answered with an error and the connection closes.

    `reason` is set when a peer speaking this protocol was refused for a reason the
    specification names on the server too (a presented token refused:
    AUTHENTICATION_FAILED; the same role: HANDSHAKE_FAILED; no common version:
    REMOTING_VERSION_MISMATCH): that attempt ends the listen, as in Microsoft's
    runtime. It is None for everything else (probes, scanners, a TLS client on a
    plain port, a client that leaves after the challenge, and a token not checked
    because its address is blocked (429), which must not let one address keep a
    listener down): those leave the listener listening."""

    status: int
    detail: str
    reason: DisconnectReason | None = None


@dataclass(frozen=True)
class HandshakeTimedOut:
    """Either side: `deadline` passed before the handshake finished."""


@dataclass(frozen=True)
class PeerClosed:
    """Server: the client closed the connection."""


ClientEvent = ChallengeReceived | HandshakeAccepted | HandshakeFailed | HandshakeTimedOut
ServerEvent = TokenPresented | ClientAdmitted | ClientRefused | HandshakeTimedOut | PeerClosed


# --- helpers ------------------------------------------------------------------------


def header(headers: Iterable[tuple[bytes, bytes]], name: str) -> str | None:
    """The value of the single header `name` (h11 lower-cases names), or None."""
    wanted = name.lower().encode("ascii")
    values = [value for key, value in headers if key == wanted]
    if len(values) != 1:
        return None
    try:
        return values[0].decode("ascii")
    except UnicodeDecodeError:
        return None


def parse_bearer_challenge(value: str) -> dict[str, str] | None:
    """Auth-params of a `Bearer` challenge (`realm`, `error`, ...), or None when the
    challenge is not Bearer. Quoted strings are unquoted (RFC 9110 section 5.6.4)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    params: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _AUTH_PARAM.match(rest, position)
        if match is None:
            return params
        name, raw = match.group(1).lower(), match.group(2)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params.setdefault(name, raw)
        position = match.end()
    return params


def head_size(start_line: Iterable[bytes], headers: Iterable[tuple[bytes, bytes]]) -> int:
    """Bytes of a message head as sent (start line and header lines, CRLFs included).

    h11's `max_incomplete_event_size` bounds only a head that is still incomplete in
    its buffer; one that arrives whole in a single read is parsed whatever its size.
    Checking the parsed head as well makes the limit independent of read sizes."""
    line = sum(len(part) for part in start_line) + 2 + 2
    return line + sum(len(name) + len(value) + 4 for name, value in headers) + 2


def valid_token_text(token: str) -> bool:
    return len(token.encode("utf-8")) <= MAX_TOKEN_BYTES and bool(_TOKEN_CHARS.fullmatch(token))


def new_session_id(random_bytes: bytes) -> str:
    """Session id text from SESSION_ID_BYTES random bytes (base64url, no padding)."""
    if len(random_bytes) != SESSION_ID_BYTES:
        raise ValueError(f"a session id needs {SESSION_ID_BYTES} random bytes")
    return base64.urlsafe_b64encode(random_bytes).rstrip(b"=").decode("ascii")


def valid_session_id(text: str) -> bool:
    if not _SESSION_ID.fullmatch(text):
        return False
    try:
        base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError):
        return False
    return True


def _json_body(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")


class _Machine:
    """What both sides share: h11, the event queue, the outgoing buffer, the deadline."""

    def __init__(self, role: type[h11.CLIENT] | type[h11.SERVER], now: float, timeout: float):
        self._h11 = h11.Connection(role, max_incomplete_event_size=MAX_HEAD_BYTES)
        self._events: collections.deque[Any] = collections.deque()
        self._out = bytearray()
        self.deadline: float | None = now + timeout
        self.finished = False  # no more events will come
        self.should_close = False  # close the connection once data_to_send() is flushed

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def get_timer(self) -> float | None:
        return None if self.finished else self.deadline

    def _send(self, event: h11.Event) -> None:
        data = self._h11.send(event)
        if data:
            self._out += data

    def _finish(self, event: Any) -> None:
        if not self.finished:
            self._events.append(event)
        self.finished = True
        self.should_close = True
        self.deadline = None


# --- client -------------------------------------------------------------------------


class ClientHandshake(_Machine):
    """The client's side: request, (challenge, token, request,) admission."""

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
        super().__init__(h11.CLIENT, now, timeout)
        self._host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._role: Role = role
        self._version = version
        self._probe = probe
        self._token_sent = False
        self._first_bytes = b""  # the start of the answer: HTTP at all?
        self._status: int | None = None
        self._response_headers: list[tuple[bytes, bytes]] = []
        self._body = bytearray()
        self._send_request(None)

    def next_event(self) -> ClientEvent | None:
        return self._events.popleft() if self._events else None

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
        """Answer a `ChallengeReceived` with the token from RequestAuthenticationToken."""
        if self.finished:
            return
        if not valid_token_text(token):
            self._finish(
                HandshakeFailed(
                    DisconnectReason.AUTHENTICATION_FAILED,
                    "the token cannot be sent in an HTTP header: it must be 1 to "
                    f"{MAX_TOKEN_BYTES} visible ASCII characters without spaces",
                )
            )
            return
        self._h11.start_next_cycle()
        self._token_sent = True
        self._status = None
        self._response_headers = []
        self._body.clear()
        self._send_request(token)

    def fail(self, reason: DisconnectReason, detail: str) -> None:
        """The shell ends the handshake (a callback refused, TLS failed, ...)."""
        self._finish(HandshakeFailed(reason, detail))

    def handle_timer(self, now: float) -> None:
        if self.deadline is not None and now >= self.deadline and not self.finished:
            self._finish(HandshakeTimedOut())

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
            elif params.get("error") == ERROR_INVALID_TOKEN or self._token_sent:
                self.fail(
                    DisconnectReason.AUTHENTICATION_FAILED,
                    f"the server refused the token (realm {params.get('realm', '')!r})",
                )
            else:
                self._events.append(ChallengeReceived(params.get("realm", "")))
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
        self._finish(
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
            self._finish(HandshakeAccepted(version, role, port, session_id))


# --- refused tokens per peer address -------------------------------------------------


def throttle_key(address: str) -> str:
    """The address a peer is throttled by: its IP address as text, an IPv4-mapped IPv6
    address as the IPv4 address (a dual-stack socket must not give one peer two
    records). Anything that is not an IP address is used as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


class TokenThrottle:
    """Tokens presented per peer address, shared by every handshake one runtime serves.

    The runtime holds it, so it outlives each listen (a refused token ends the listen,
    and the application listens again). A mutable holder of the pure
    `FailureThrottle`, with the AUTH_* constants of `protocol.py`; sans-I/O like the
    cores: time is an argument, and every call comes from the loop thread. It holds
    addresses and times, never a token."""

    def __init__(self) -> None:
        self._state = FailureThrottle(
            max_failures=AUTH_MAX_FAILURES,
            window_seconds=AUTH_FAILURE_WINDOW_SECONDS,
            base_block_seconds=AUTH_BASE_BLOCK_SECONDS,
            max_block_seconds=AUTH_MAX_BLOCK_SECONDS,
        )

    def __repr__(self) -> str:
        return f"TokenThrottle({len(self._state.peers)} address(es))"

    def blocked_for(self, peer: str, now: float) -> float:
        """Seconds `peer` must still wait before a token of its is checked (0: none)."""
        return self._state.blocked_for(peer, now)

    def failures(self, peer: str, now: float) -> int:
        return self._state.failures(peer, now)

    def presented(self, peer: str, now: float) -> float:
        """A token from `peer` is about to be checked: it counts as a failure until
        `accepted`. The block now in force, in seconds (0: none)."""
        self._state = self._state.record_failure(peer, now)
        return self._state.blocked_for(peer, now)

    def accepted(self, peer: str) -> None:
        self._state = self._state.record_success(peer)


def retry_after_seconds(wait: float) -> int:
    """A wait as Retry-After delay-seconds (and the seconds a note says): whole
    seconds, rounded up, at least 1.

    `wait` is a difference of float times, so a 30 s block read at once can be
    30.000000000000004 s; rounded up as it is, that says 31. It is rounded to the
    millisecond first (far finer than a second, far coarser than float error), then up:
    a wait a person reads is never shorter than the true one by more than 1 ms."""
    return max(1, math.ceil(round(wait, 3)))


# --- server -------------------------------------------------------------------------


class ServerHandshake(_Machine):
    """The server's side: checks, challenge, token verdict, admission.

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
        super().__init__(h11.SERVER, now, timeout)
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
        self._pending: ClientAdmitted | None = None
        self._awaiting_verdict = False
        self._probe = False  # the current request is marked as a diagnostic probe

    def next_event(self) -> ServerEvent | None:
        return self._events.popleft() if self._events else None

    def handle_timer(self, now: float) -> None:
        self._now = max(self._now, now)
        if self.deadline is not None and now >= self.deadline and not self.finished:
            self._finish(HandshakeTimedOut())

    # -- answers the shell gives -------------------------------------------------------

    def token_verdict(self, valid: bool, detail: str = "") -> None:
        """After `TokenPresented`: what ValidateAuthenticationToken decided."""
        if not self._awaiting_verdict or self.finished:
            return
        self._awaiting_verdict = False
        if valid:
            assert self._pending is not None
            if self._throttle is not None:
                self._throttle.accepted(self._peer)
            self._events.append(self._pending)
        else:
            self._respond(
                401,
                {"error": ERROR_INVALID_TOKEN},
                extra=[("WWW-Authenticate", self._challenge(ERROR_INVALID_TOKEN))],
                close=True,
            )
            reason = None if self._probe else DisconnectReason.AUTHENTICATION_FAILED
            detail = detail or "the token was refused"
            if self._blocked_after > 0:
                detail += (
                    f"; {self._peer or 'this address'} is blocked for "
                    f"{retry_after_seconds(self._blocked_after)} s after "
                    f"{self._failures_after} refused tokens"
                )
            self._finish(ClientRefused(401, detail, reason))

    def accept(self, session_id: str, transport_port: int, expires_in: float) -> None:
        """After `ClientAdmitted`: answer 200 with the one-time session id."""
        if self._pending is None or self.finished:
            return
        body = {
            "protocolVersion": self._pending.version,
            "role": self._role,
            "transportPort": transport_port,
            "sessionId": session_id,
            "expiresIn": round(expires_in, 3),
        }
        self._respond(200, body, close=True)
        self.finished = True
        self.should_close = True
        self.deadline = None

    def refuse_busy(self) -> None:
        """After `ClientAdmitted`, when a session is already open."""
        self._respond(503, {"error": ERROR_BUSY}, close=True)
        self._finish(ClientRefused(503, "a session is already open"))

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
        while not self.finished and not self._awaiting_verdict and self._pending is None:
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
                self._finish(PeerClosed())

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
            self._events.append(admitted)
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
            self._awaiting_verdict = True
            self.token_verdict(
                False,
                "the Authorization header is not a Bearer token"
                if scheme.lower() != "bearer"
                else f"the Bearer token is not 1..{MAX_TOKEN_BYTES} visible ASCII characters",
            )
            return
        self._awaiting_verdict = True
        self._events.append(TokenPresented(token))

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
        self._finish(
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
        payload = _json_body(body)
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
        self._finish(ClientRefused(status, detail, None if self._probe else reason))


# --- one-time session ids (the server's memory between the two ports) ----------------


@dataclass
class _Grant:
    session_id: str = field(repr=False)
    expires_at: float


class SessionGrants:
    """The one-time session ids a listener handed out in 200 answers, until the
    transport port sees one. Sans-I/O like the cores: time is an argument.

    A listen opens one session, so the first valid id voids every other one."""

    def __init__(self) -> None:
        self._grants: list[_Grant] = []

    def __len__(self) -> int:
        return len(self._grants)

    def issue(self, session_id: str, now: float, valid_for: float) -> None:
        self._grants.append(_Grant(session_id, now + valid_for))

    def consume(self, session_id: str, now: float) -> bool:
        """True once for a pending, unexpired id. Compared in constant time against
        every pending id (a mismatch reveals nothing about how close it was)."""
        offered = session_id.encode("ascii", "replace")
        found = False
        for grant in self._grants:
            same = hmac.compare_digest(grant.session_id.encode("ascii"), offered)
            found = found or (same and grant.expires_at > now)
        if found:
            self._grants.clear()
        return found

    def expire(self, now: float) -> int:
        """Forget the ids whose time is up; how many were forgotten."""
        before = len(self._grants)
        self._grants = [g for g in self._grants if g.expires_at > now]
        return before - len(self._grants)

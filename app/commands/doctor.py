"""`holoremote doctor HOST[:PORT]`: probe a listener step by step, one line per step.

1. TCP: reachable, refused, unresolvable, unreachable or timed out.
2. TLS or plain: what the port speaks (and the negotiated version and cipher).
3. TLS versions: 1.3 and 1.2 offered? 1.1 and 1.0 refused (as they must be)?
4. The chain the server presents, and the seven validation fields (with reasons)
   for the host name used, against --ca-file or the system store (and --pin).
5. The challenge: the realm from `WWW-Authenticate: Bearer realm="..."`.
6. With a token (--token-file or HOLOREMOTE_TOKEN): the 200 answer and its transport
   port, then a real transport session opened and closed at once. Note: a listener
   serves one session per listen, so this ends it (`holoremote listen` without
   --once listens again). Without a token it says the port needs one.

The probes reuse the protocol's sans-I/O cores over blocking sockets. Exit status:
0 every step passed, 3 a step failed, 2 bad flags or files. --json prints one JSON
object per step.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from app.commands.common import (
    EXIT_CONNECTION_FAILED,
    EXIT_OK,
    EventPrinter,
    UsageError,
    add_client_trust_arguments,
    client_policy,
    parse_endpoint,
    read_token,
    report_usage_error,
    revocation_settings,
    trust_anchors,
)
from app.errors import HoloremoteError
from app.remoting.builtin import tls
from app.remoting.builtin.frames import SessionOpened, TransportConnection, TransportEnded
from app.remoting.builtin.handshake import (
    ChallengeReceived,
    ClientHandshake,
    HandshakeAccepted,
    HandshakeFailed,
    HandshakeTimedOut,
)
from app.remoting.builtin.shell import connect_error_reason, describe_connect_error
from app.remoting.reasons import explain
from app.security.acceptance import is_acceptable
from app.security.certinfo import describe_certificate
from app.security.client_policy import apply_policy
from app.security.system_validation import validate_server_chain
from app.security.trust import system_anchors
from app.xr.validation_result import FIELD_NAMES
from app.xr.values import DisconnectReason

R = DisconnectReason
READ_CHUNK = 16 * 1024


@dataclass
class Step:
    name: str
    ok: bool | None  # None: informational / not tested
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "doctor",
            "step": self.name,
            "ok": self.ok,
            "detail": self.detail,
            **self.data,
        }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.allow_abbrev = False
    parser.add_argument("endpoint", metavar="HOST[:PORT]", help="the listener (port 8265)")
    parser.add_argument("--json", action="store_true", help="one JSON object per step")
    parser.add_argument(
        "--timeout", type=float, default=5.0, metavar="S", help="per network step (default 5)"
    )
    parser.add_argument(
        "--role",
        choices=("remote", "player"),
        default="remote",
        help="the role to present (default remote; the other is tried too)",
    )
    parser.add_argument(
        "--token-file",
        metavar="FILE",
        help="a token, to check the authorized answer and the transport port",
    )
    add_client_trust_arguments(parser)


class Doctor:
    def __init__(self, args: argparse.Namespace, printer: EventPrinter) -> None:
        self.host, self.port = parse_endpoint(args.endpoint)
        self.args = args
        self.timeout = args.timeout
        self.printer = printer
        self.steps: list[Step] = []
        self.token = read_token(args, required=False)
        self.anchors = trust_anchors(args)
        self.policy = client_policy(args)
        self.revocation = revocation_settings(args)
        self.forced = bool(getattr(args, "force_revocation_check", False))
        self.leaf: bytes | None = None

    def step(self, name: str, ok: bool | None, detail: str, **data: Any) -> Step:
        result = Step(name, ok, detail, data)
        self.steps.append(result)
        if self.printer.as_json:
            self.printer.json(result.to_json())
        else:
            mark = {True: "ok  ", False: "FAIL", None: "info"}[ok]
            self.printer.text(f"[{mark}] {name}: {detail}")
        return result

    # --- the steps ------------------------------------------------------------------------

    def run(self) -> int:
        if not self.tcp():
            return EXIT_CONNECTION_FAILED
        secure = self.tls_or_plain()
        if secure is None:
            return EXIT_CONNECTION_FAILED
        if secure:
            self.tls_versions()
            self.chain()
        self.handshake(secure)
        failed = any(s.ok is False for s in self.steps)
        return EXIT_CONNECTION_FAILED if failed else EXIT_OK

    def _connect(self, port: int) -> socket.socket:
        return socket.create_connection((self.host, port), timeout=self.timeout)

    def tcp(self) -> bool:
        try:
            with self._connect(self.port):
                pass
        except OSError as exc:
            reason = connect_error_reason(exc)
            self.step(
                "tcp",
                False,
                f"{self.host}:{self.port} {describe_connect_error(exc)} -> "
                f"a client reports {reason.spec_name}: {explain(reason).explanation}",
                reason=reason.spec_name,
            )
            return False
        self.step("tcp", True, f"{self.host}:{self.port} accepts TCP connections")
        return True

    def _tls(self, context: ssl.SSLContext) -> ssl.SSLSocket:
        raw = self._connect(self.port)
        try:
            return context.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise

    def tls_or_plain(self) -> bool | None:
        try:
            with self._tls(tls.client_context()) as sock:
                self.step(
                    "tls",
                    True,
                    f"TLS: {tls.describe_tls(sock)}",
                    secure=True,
                    version=sock.version(),
                )
                return True
        except (ssl.SSLError, OSError) as exc:
            tls_error = f"{type(exc).__name__}: {exc}"
        # Not TLS: does it answer plain HTTP?
        try:
            with self._connect(self.port) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: doctor\r\nConnection: close\r\n\r\n")
                head = sock.recv(64)
        except OSError:
            head = b""
        if head.startswith(b"HTTP/1."):
            self.step(
                "tls",
                True,
                "plain TCP (no TLS): the listener is in plain mode; a "
                "secure client reports XR_REMOTING_DISCONNECT_REASON_HANDSHAKE_"
                "CONNECTION_FAILED_MSFT",
                secure=False,
            )
            return False
        self.step(
            "tls",
            False,
            f"neither TLS nor HTTP answers ({tls_error}); is this a holoremote listener?",
            secure=None,
        )
        return None

    def tls_versions(self) -> None:
        offered: dict[str, bool | None] = {}
        for name, version, must in (
            ("TLSv1.3", ssl.TLSVersion.TLSv1_3, True),
            ("TLSv1.2", ssl.TLSVersion.TLSv1_2, None),
            ("TLSv1.1", ssl.TLSVersion.TLSv1_1, False),
            ("TLSv1", ssl.TLSVersion.TLSv1, False),
        ):
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            try:
                if must is False:
                    context.set_ciphers("DEFAULT:@SECLEVEL=0")
                context.minimum_version = context.maximum_version = version
                with self._tls(context):
                    offered[name] = True
            except ssl.SSLError as exc:
                text = str(exc)
                offered[name] = None if "NO_PROTOCOLS_AVAILABLE" in text.upper() else False
            except (OSError, ValueError):
                offered[name] = None
        old = [v for v in ("TLSv1.1", "TLSv1") if offered[v]]
        good = offered["TLSv1.3"] or offered["TLSv1.2"]
        summary = ", ".join(
            f"{v} {'accepted' if a else 'refused' if a is False else 'not tested here'}"
            for v, a in offered.items()
        )
        self.step(
            "tls-versions",
            bool(good) and not old,
            summary,
            versions={k: v for k, v in offered.items()},
        )

    def chain(self) -> None:
        with self._tls(tls.client_context()) as sock:
            chain = tls.peer_chain(sock)
        self.leaf = chain[0] if chain else None
        anchors = self.anchors or system_anchors()
        validation = validate_server_chain(
            chain,
            self.host,
            anchors=anchors,
            revocation=self.revocation,
            force_revocation_check=self.forced,
        )
        decision = apply_policy(validation.result, chain, self.host, self.port, self.policy)
        verdict = decision.result
        certificates: list[dict[str, Any]] = []
        for index, der in enumerate(chain):
            try:
                certificates.append(describe_certificate(x509.load_der_x509_certificate(der)))
            except ValueError:
                certificates.append({"subject": f"certificate {index}: cannot be parsed"})
        accepted = decision.question is None and is_acceptable(
            verdict, revocation_forced=self.forced
        )
        fields = verdict.to_json()
        lines = [f"{name}={fields[name]}" for name in FIELD_NAMES]
        self.step(
            "chain",
            accepted,
            f"{len(chain)} certificate(s) for host {self.host!r} against the "
            f"{validation.trust_source}: "
            + ", ".join(lines)
            + (
                ""
                if accepted
                else " -> a client refuses it: "
                "XR_REMOTING_DISCONNECT_REASON_HANDSHAKE_CONNECTION_FAILED_MSFT"
            ),
            certificates=certificates,
            validation=fields,
        )
        if not self.printer.as_json:
            for info in certificates:
                self.printer.text(
                    f"       {info['subject']} (issuer {info.get('issuer')}, "
                    f"until {info.get('notAfter')})"
                )
            for name in FIELD_NAMES:
                self.printer.text(
                    f"       {name}: {fields[name]} - {fields['reasons'].get(name, '')}"
                )

    def _exchange(self, sock: socket.socket, core: ClientHandshake) -> object:
        while True:
            event = core.next_event()
            if event is not None:
                return event
            data = core.data_to_send()
            if data:
                sock.sendall(data)
            try:
                received = sock.recv(READ_CHUNK)
            except (TimeoutError, OSError, ssl.SSLError):
                core.handle_timer(time.monotonic() + self.timeout * 2)
                continue
            core.receive_data(received, time.monotonic())

    def handshake(self, secure: bool) -> None:
        for role in (self.args.role, "player" if self.args.role == "remote" else "remote"):
            with self._open(secure) as sock:
                core = ClientHandshake(
                    host=self.host,
                    port=self.port,
                    role=role,
                    now=time.monotonic(),
                    timeout=self.timeout,
                    probe=True,  # a refusal of the doctor never ends the listen
                )
                event = self._exchange(sock, core)
                if isinstance(event, HandshakeFailed) and "both ends" in event.detail:
                    self.step("role", None, f"the listener is the {role} too; trying the other")
                    continue
                if isinstance(event, ChallengeReceived):
                    self.step("challenge", True, f'Bearer realm="{event.realm}"', realm=event.realm)
                    if self.token is None:
                        self.step(
                            "transport",
                            None,
                            "the transport port is revealed only "
                            "after authentication: give --token-file (or set "
                            "HOLOREMOTE_TOKEN) to check it",
                        )
                        return
                    core.send_token(self.token)
                    event = self._exchange(sock, core)
                elif secure is False and isinstance(event, HandshakeAccepted):
                    self.step("challenge", None, "plain mode: no challenge, no token")
                self._after_handshake(event, secure)
                return

    def _open(self, secure: bool) -> socket.socket:
        return self._tls(tls.client_context()) if secure else self._connect(self.port)

    def _after_handshake(self, event: object, secure: bool) -> None:
        if isinstance(event, HandshakeFailed):
            self.step(
                "handshake",
                False,
                f"{event.reason.spec_name}: {event.detail}",
                reason=event.reason.spec_name,
            )
            return
        if isinstance(event, HandshakeTimedOut):
            self.step("handshake", False, "no answer in time (REMOTING_HANDSHAKE_TIMEOUT)")
            return
        assert isinstance(event, HandshakeAccepted)
        self.step(
            "handshake",
            True,
            f"admitted as the peer of a {event.role}; protocol "
            f"version {event.version}; transport port {event.transport_port}",
            transportPort=event.transport_port,
            role=event.role,
        )
        self.transport(event, secure)

    def transport(self, accepted: HandshakeAccepted, secure: bool) -> None:
        port = accepted.transport_port
        try:
            raw = self._connect(port)
        except OSError as exc:
            self.step(
                "transport",
                False,
                f"port {port}: {describe_connect_error(exc)} -> TRANSPORT_UNREACHABLE",
            )
            return
        with raw:
            sock: socket.socket = raw
            if secure:
                sock = tls.client_context().wrap_socket(raw, server_hostname=self.host)
                chain = tls.peer_chain(sock)
                if not chain or chain[0] != self.leaf:
                    self.step("transport", False, f"port {port} presents another certificate")
                    return
            now = time.monotonic()
            core = TransportConnection(
                "client",
                now=now,
                session_open_timeout=self.timeout,
                heartbeat_interval=1,
                heartbeat_timeout=5,
                disconnect_wait=1,
            )
            core.send_hello(accepted.session_id)
            opened = False
            while True:
                sock.sendall(core.data_to_send())
                event = core.next_event()
                if isinstance(event, SessionOpened):
                    opened = True
                    core.request_disconnect(time.monotonic())
                    continue
                if isinstance(event, TransportEnded):
                    break
                if event is not None:
                    continue
                try:
                    data = sock.recv(READ_CHUNK)
                except (TimeoutError, OSError, ssl.SSLError):
                    core.handle_timer(time.monotonic() + 60)
                    continue
                core.receive_data(data, time.monotonic())
        if opened:
            self.step("transport", True, f"port {port}: session opened, then closed on request")
        else:
            self.step("transport", False, f"port {port}: {event.detail} ({event.reason.spec_name})")


def run(args: argparse.Namespace) -> int:
    printer = EventPrinter(as_json=args.json)
    try:
        doctor = Doctor(args, printer)
    except HoloremoteError as exc:
        return report_usage_error("doctor", exc)
    try:
        return doctor.run()
    except UsageError as exc:
        return report_usage_error("doctor", exc)

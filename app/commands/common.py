"""What `listen`, `connect`, `demo` and `doctor` share: their options, turning the
flags into the endpoint service's settings (`app.endpoint.service`, which decides;
see docs/architecture.md), and printing session events (text or one JSON object per
line).

Secrets never come from argv alone: tokens from --token-file or $HOLOREMOTE_TOKEN,
key passphrases from --key-passphrase-file or $HOLOREMOTE_KEY_PASSPHRASE.

Exit status (README.md): 0 connected and closed cleanly, 2 usage or bad input (the
message names the flag or file and the fix), 3 the connection failed (the reason by
its specification name, with explanation and fix).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, TextIO

from app.commands._certificate_cli import PASSPHRASE_ENV, read_passphrase, report_error
from app.commands.record_text import callback_summary
from app.defaults import (
    DEFAULT_HANDSHAKE_PORT,
    DEFAULT_REALM,
    DEFAULT_TRANSPORT_PORT,
    DISCONNECT_WAIT_S,
    HANDSHAKE_TIMEOUT_S,
    SESSION_OPEN_TIMEOUT_S,
    known_hosts_file,
)
from app.endpoint import providers, service
from app.endpoint.callbacks import CertificateValidator
from app.endpoint.events import (
    CallbacksCalled,
    CallStarted,
    ChannelClosed,
    ChannelOpened,
    Connected,
    Disconnected,
    HandshakeStage,
    Listening,
    Note,
    SessionEvent,
    StateChanged,
    record_json,
)
from app.endpoint.failure import COMMAND_LINE, refusal_lines
from app.endpoint.providers import (
    JWT_ALGORITHMS,
    ClientAuthSettings,
    ServerAuthSettings,
    SettingsError,
)
from app.endpoint.service import EndpointSettings, Timeouts
from app.endpoint.session import Session
from app.errors import HoloremoteError, InputError
from app.remoting.builtin import BuiltinOptions
from app.security.client_policy import ClientPolicy
from app.security.revocation import RevocationOptions
from app.security.tokens import DEFAULT_TOKEN_ENV, token_from_env, token_from_file
from app.security.trust import TrustAnchors
from app.xr.records import CallbackRecord

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_CONNECTION_FAILED = 3


class UsageError(InputError):
    """Bad flags or input files: exit status 2."""


# --- options ------------------------------------------------------------------------------


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0..65535)")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{value:g} s is outside 0..3600")
    return value


def parse_endpoint(text: str, default_port: int = DEFAULT_HANDSHAKE_PORT) -> tuple[str, int]:
    """HOST, HOST:PORT, [IPv6]:PORT or a bare IPv6 address."""
    host, port = text, default_port
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise UsageError("HOST[:PORT]", f"{text!r} has no closing ']'")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise UsageError("HOST[:PORT]", f"unexpected {rest!r} after ']'")
            port = _endpoint_port(rest[1:])
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = _endpoint_port(port_text)
    if not host:
        raise UsageError("HOST[:PORT]", "the host is empty", fix="e.g. 192.168.1.20:8265")
    return host, port


def _endpoint_port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 65535:
        raise UsageError("HOST[:PORT]", f"{text!r} is not a port (1..65535)")
    return int(text)


def add_common_arguments(parser: argparse.ArgumentParser, *, side: str) -> None:
    """`side` is "listen", "connect" or "demo"."""
    parser.allow_abbrev = False
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--secure",
        dest="secure",
        action="store_true",
        default=True,
        help="TLS + certificate + token (the default)",
    )
    mode.add_argument(
        "--plain", dest="secure", action="store_false", help="no TLS, no authentication"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per event line")
    if side == "demo":
        return
    parser.add_argument(
        "--role",
        choices=("remote", "player"),
        default="player" if side == "listen" else "remote",
        help="which end this is (default: %(default)s); the peer must be the other",
    )
    parser.add_argument(
        "--runtime",
        choices=("auto", "builtin", "openxr"),
        default="auto",
        help="built-in runtime, OpenXR runtime, or the OpenXR one when present (default)",
    )
    parser.add_argument(
        "--runtime-json", metavar="FILE", help="OpenXR runtime manifest (XR_RUNTIME_JSON)"
    )
    parser.add_argument(
        "--token-file",
        metavar="FILE",
        help=f"the token (client) or the accepted token (server); else ${DEFAULT_TOKEN_ENV}",
    )
    parser.add_argument(
        "--handshake-timeout",
        type=_seconds,
        default=HANDSHAKE_TIMEOUT_S,
        metavar="S",
        help=f"default {HANDSHAKE_TIMEOUT_S:g}",
    )
    parser.add_argument(
        "--session-open-timeout",
        type=_seconds,
        default=SESSION_OPEN_TIMEOUT_S,
        metavar="S",
        help=f"default {SESSION_OPEN_TIMEOUT_S:g}",
    )
    parser.add_argument(
        "--disconnect-wait",
        type=_seconds,
        default=DISCONNECT_WAIT_S,
        metavar="S",
        help=f"default {DISCONNECT_WAIT_S:g}",
    )
    if side == "listen":
        parser.add_argument("--port", type=_port, default=DEFAULT_HANDSHAKE_PORT)
        parser.add_argument("--transport-port", type=_port, default=DEFAULT_TRANSPORT_PORT)
        parser.add_argument(
            "--ephemeral-port",
            action="store_true",
            help="bind any free ports (port 0) and print the ones chosen",
        )
        parser.add_argument(
            "--listen-interface",
            default="0.0.0.0",  # noqa: S104 - a listener is meant to be reachable
            metavar="ADDR",
            help="default 0.0.0.0",
        )
        parser.add_argument("--cert-store", metavar="FILE", help="PKCS#12 (.pfx/.p12) store")
        parser.add_argument(
            "--subject-name",
            help="friendly name or subject CN of the certificate in the store "
            "(default: the store's only certificate with a key)",
        )
        parser.add_argument(
            "--key-passphrase-file",
            metavar="FILE",
            help=f"the store's passphrase; else ${PASSPHRASE_ENV}",
        )
        parser.add_argument("--realm", default=DEFAULT_REALM, help="default %(default)s")
        parser.add_argument("--jwks", metavar="FILE", help="accept JWTs signed by these keys")
        parser.add_argument("--jwt-issuer")
        parser.add_argument("--jwt-audience")
        parser.add_argument(
            "--jwt-algorithm",
            action="append",
            default=[],
            metavar="ALG",
            help="allowed JWT algorithm (repeatable; default RS256 and ES256)",
        )
        parser.add_argument(
            "--once", action="store_true", help="serve one connection, exit with its outcome"
        )
    else:
        add_client_trust_arguments(parser)


def add_client_trust_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ca-file", metavar="F", help="trust these CAs, not the system store")
    parser.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="SHA256:HEX",
        help="accept exactly this server certificate (repeatable)",
    )
    parser.add_argument(
        "--known-hosts",
        metavar="FILE",
        help="refuse servers not remembered in FILE; with --trust-on-first-use, remember "
        f"them there (default with it: {known_hosts_file()})",
    )
    parser.add_argument("--allow-name-mismatch", action="store_true", help="escape hatch (warns)")
    parser.add_argument(
        "--allow-unverified-chain", action="store_true", help="escape hatch (warns)"
    )
    parser.add_argument(
        "--check-revocation",
        action="store_true",
        help="ask the CRL distribution points and OCSP responders the certificates name",
    )
    parser.add_argument(
        "--force-revocation-check",
        action="store_true",
        help="as forceRevocationCheck: refuse a server whose revocation cannot be determined",
    )
    parser.add_argument(
        "--crl",
        action="append",
        default=[],
        metavar="FILE",
        help="a CRL file consulted offline (repeatable)",
    )


# --- secrets and files --------------------------------------------------------------------


def read_token(args: argparse.Namespace, *, required: bool) -> str | None:
    try:
        if args.token_file:
            return token_from_file(args.token_file)
        if DEFAULT_TOKEN_ENV in os.environ or required:
            return token_from_env()
    except HoloremoteError as exc:
        raise UsageError("--token-file", exc.message, fix=exc.fix) from None
    return None


def read_key_passphrase(path: str | None) -> str | None:
    return read_passphrase(path, "--key-passphrase-file")


# What the command line calls each setting: the one table in app.endpoint.failure.
CLI_NAMES = COMMAND_LINE.names


def _in_cli_terms(exc: SettingsError) -> InputError:
    return COMMAND_LINE.input_error(exc, UsageError)


def server_auth_settings(args: argparse.Namespace) -> ServerAuthSettings:
    """--cert-store, --subject-name, the passphrase and the accepted tokens (the
    token of --token-file or $HOLOREMOTE_TOKEN, JWTs with --jwks)."""
    # Without a store the settings refuse that first; no need to ask for a token.
    token = read_token(args, required=not args.jwks) if args.cert_store else None
    try:
        return ServerAuthSettings(
            store_path=args.cert_store or "",
            passphrase=read_key_passphrase(args.key_passphrase_file),
            subject_name=args.subject_name,
            shared_secrets=(token,) if token is not None else (),
            jwt_key_path=args.jwks,
            jwt_issuer=args.jwt_issuer,
            jwt_audience=args.jwt_audience,
            jwt_algorithms=tuple(args.jwt_algorithm or JWT_ALGORITHMS),
        )
    except SettingsError as exc:
        raise _in_cli_terms(exc) from None


def client_auth_settings(args: argparse.Namespace, token: str = "") -> ClientAuthSettings:
    try:
        return ClientAuthSettings(
            token=token,
            ca_file=args.ca_file,
            pins=tuple(args.pin),
            known_hosts=args.known_hosts,
            trust_on_first_use=bool(getattr(args, "trust_on_first_use", False)),
            allow_name_mismatch=args.allow_name_mismatch,
            allow_unverified_chain=args.allow_unverified_chain,
            check_revocation=bool(getattr(args, "check_revocation", False)),
            force_revocation_check=bool(getattr(args, "force_revocation_check", False)),
            crl_files=tuple(getattr(args, "crl", None) or ()),
        )
    except SettingsError as exc:
        raise _in_cli_terms(exc) from None


def trust_anchors(args: argparse.Namespace) -> TrustAnchors | None:
    try:
        return providers.trust_anchors(client_auth_settings(args))
    except SettingsError as exc:
        raise _in_cli_terms(exc) from None


def revocation_settings(args: argparse.Namespace) -> RevocationOptions:
    """--check-revocation, --force-revocation-check and --crl as the validator's
    revocation options (a bad --crl is a usage error naming it)."""
    try:
        return providers.revocation_settings(client_auth_settings(args))
    except SettingsError as exc:
        raise _in_cli_terms(exc) from None


def client_policy(args: argparse.Namespace) -> ClientPolicy:
    return client_auth_settings(args).policy()


def certificate_validator(args: argparse.Namespace, port: int) -> CertificateValidator:
    """`app.endpoint.providers.certificate_validator` on the flags. The command line cannot
    ask a person, so --trust-on-first-use is the answer given in advance."""
    try:
        return providers.certificate_validator(client_auth_settings(args), port)
    except SettingsError as exc:
        raise _in_cli_terms(exc) from None


def timeouts(args: argparse.Namespace) -> Timeouts:
    return Timeouts(
        handshake_s=args.handshake_timeout,
        session_open_s=args.session_open_timeout,
        disconnect_wait_s=args.disconnect_wait,
    )


def builtin_options(args: argparse.Namespace, *, role: str) -> BuiltinOptions:
    try:
        return service.builtin_options(
            role,
            ca_file=getattr(args, "ca_file", None),
            timeouts=timeouts(args),
            force_revocation_check=bool(getattr(args, "force_revocation_check", False)),
        )
    except SettingsError as exc:
        raise _in_cli_terms(exc) from None


def open_session(
    args: argparse.Namespace,
    printer: EventPrinter,
    settings: EndpointSettings,
    *,
    server: Callable[[], ServerAuthSettings] | None = None,
    client: Callable[[], ClientAuthSettings] | None = None,
    runtime_reason: str | None = None,
) -> Session:
    """The session `listen` or `connect` runs, from the endpoint service (a bad value
    names its flag); the runtime in use is said on the printer, or `runtime_reason`
    when the command chose it itself (`demo` has no --runtime flag to name)."""
    if settings.runtime == "builtin" and settings.runtime_json:
        raise UsageError("--runtime-json", "is only used with --runtime openxr or auto")
    opened = service.open_endpoint(
        settings, face=COMMAND_LINE, kind=UsageError, server=server, client=client
    )
    runtime = opened.session.runtime
    description = opened.runtime_description
    if runtime_reason is not None:
        description = runtime_reason
    printer.info(f"runtime: {description}", runtime=runtime.display_name)
    return opened.session


def interrupted() -> asyncio.Event:
    """An event set by Ctrl+C or SIGTERM (where this loop can take signal handlers)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    return stop


# --- output ------------------------------------------------------------------------------------


class EventPrinter:
    """Prints session events as text lines or JSON lines (spec names). What a failure
    means (a refused certificate, its checks and fixes) comes with the event."""

    def __init__(self, *, as_json: bool, out: TextIO | None = None, prefix: str = "") -> None:
        self.as_json = as_json
        self.out = out or sys.stdout
        self.prefix = prefix

    def json(self, data: dict[str, Any]) -> None:
        if self.prefix:
            data = {"side": self.prefix, **data}
        print(json.dumps(data, sort_keys=False, default=str), file=self.out, flush=True)

    def text(self, line: str) -> None:
        label = f"[{self.prefix}] " if self.prefix else ""
        print(f"{label}{line}", file=self.out, flush=True)

    def info(self, message: str, **fields: Any) -> None:
        if self.as_json:
            self.json({"event": "info", "message": message, **fields})
        else:
            self.text(message)

    def event(self, event: SessionEvent) -> None:
        if isinstance(event, HandshakeStage | CallStarted):
            return  # the window draws these; the command line's output stays as it was
        if isinstance(event, CallbacksCalled):
            for record in event.records:
                self.record(record)
            return
        if self.as_json:
            self.json(event.to_json())
            return
        match event:
            case StateChanged(state=state):
                self.text(f"state: {state.spec_name}")
            case Listening(port=port, transport_port=transport_port):
                extra = f", transport port {transport_port}" if transport_port else ""
                self.text(f"listening: handshake port {port}{extra}")
            case Connected():
                self.text("connected")
            case Disconnected():
                self._disconnected(event)
            case Note(level=level, message=message):
                self.text(f"{level}: {message}")
            case ChannelOpened(channel_id=channel_id, by_peer=by_peer):
                who = "created by the peer" if by_peer else "created here"
                self.text(f"data channel {channel_id} open ({who})")
            case ChannelClosed(channel_id=channel_id, reason=reason, detail=detail):
                self.text(
                    f"data channel {channel_id} closed: "
                    f"XR_REMOTING_DATA_CHANNEL_CLOSED_REASON_{reason}_MSFT"
                    + (f" ({detail})" if detail else "")
                )

    def _disconnected(self, event: Disconnected) -> None:
        if event.refusal is not None:
            why = event.refusal.summary()
            self.text(f"disconnected: {event.reason.spec_name} ({int(event.reason)}): {why}")
            fixes = [fix for _, _, fix in event.refusal.lines(COMMAND_LINE) if fix]
            for fix in fixes or [event.fix]:
                self.text(f"  fix: {fix}")
            return
        self.text(f"disconnected: {event.reason.spec_name} ({int(event.reason)})")
        if event.detail:
            self.text(f"  {event.detail}")
        self.text(f"  {event.explanation}")
        if event.failed:
            self.text(f"  fix: {event.fix}")

    def record(self, record: CallbackRecord) -> None:
        """One callback record: a line (or a JSON object) of its own."""
        if self.as_json:
            self.json(record_json(record))
            return
        summary = callback_summary(record)
        self.text(
            f"callback {record.callback} ({record.side}) -> {record.result_name} "
            f"in {record.duration_s * 1000:.2f} ms"
            + (f": {summary}" if summary else "")
            + (f" ({record.error})" if record.error else "")
        )
        verdict = record.outputs.get("validationResultOut")
        for warning in verdict.get("warnings", []) if isinstance(verdict, dict) else []:
            self.text(f"  warning: {warning}")
        for line in refusal_lines(record):
            self.text(line)


def report_usage_error(command: str, error: HoloremoteError) -> int:
    report_error(command, error)
    return EXIT_USAGE


async def print_events(session: Session, printer: EventPrinter) -> None:
    async for event in session.events():
        printer.event(event)


def exit_status(event: SessionEvent | None, *, was_connected: bool) -> int:
    if isinstance(event, Disconnected) and was_connected and not event.failed:
        return EXIT_OK
    return EXIT_CONNECTION_FAILED

"""The one module in `ui` that calls into `app`.

Why one module: the widgets must hold no protocol or crypto logic, so every call the
window makes into `app` is listed here, with plain-value inputs and outputs the
widgets can show. Functions here may block (files, crypto, keyring, the OpenXR
loader); callers run them with `ui.jobs.run_blocking`, never on the UI thread.

The callback providers are `app.endpoint.providers`', as for the command line, from the
window's fields instead of its flags: see "callback providers" below. Heavy `app`
modules are imported inside the functions that need them, so that opening the
window stays fast.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from app import defaults
from app.errors import HoloremoteError
from app.xr.records import CALLBACK_NAMES, CallbackRecord
from app.xr.validation_result import FIELD_NAMES, ValidationResult
from app.xr.values import (
    ConnectionState,
    DisconnectReason,
    Result,
)

if TYPE_CHECKING:
    from app.endpoint import service as service_types
    from app.endpoint.providers import ClientAuthSettings, ServerAuthSettings
    from app.endpoint.session import Session, SessionConfig
    from app.security.client_policy import TofuQuestion

__all__ = [
    "CALLBACK_NAMES",
    "FIELD_NAMES",
    "CallbackRecord",
    "CertificateInfo",
    "CheckRow",
    "ClientSettings",
    "ConnectionState",
    "DisconnectReason",
    "EndpointSettings",
    "HoloremoteError",
    "Result",
    "ServerSettings",
    "StoreSummary",
    "ValidationResult",
]

Role = Literal["remote", "player"]
Mode = Literal["connect", "listen"]
RuntimeChoice = Literal["auto", "builtin", "openxr"]
TokenMode = Literal["shared", "jwt"]

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - a listener is meant to be reachable
LOOPBACK_INTERFACE = "127.0.0.1"


def explain_error(exc: BaseException) -> tuple[str, str]:
    """(message, fix) for any failure, for a message box or the status bar.

    The app's own errors already name the thing and the remedy; anything else is
    shown by type and text (which never contains a secret: the engine does not put
    secrets in exceptions)."""
    from app.endpoint.failure import WINDOW, in_words_of

    if isinstance(exc, HoloremoteError):
        return in_words_of(WINDOW, exc.message), in_words_of(WINDOW, exc.fix or "")
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}", "check the path and its permissions"
    return f"{type(exc).__name__}: {exc}", ""


# --- what the window's fields hold, as plain values -----------------------------------


@dataclass(frozen=True)
class ServerSettings:
    store_path: str = ""
    key_path: str = ""  # the key file of a PEM pair; empty for a .pfx or a PEM with both
    passphrase: str = field(default="", repr=False)
    subject_name: str = ""
    realm: str = defaults.DEFAULT_REALM
    token_mode: TokenMode = "shared"  # noqa: S105 - a mode name
    shared_secrets: tuple[str, ...] = field(default=(), repr=False)
    jwt_key_path: str = ""  # a JWKS file or a PEM public key
    jwt_issuer: str = ""
    jwt_audience: str = ""


@dataclass(frozen=True)
class ClientSettings:
    token: str = field(default="", repr=False)
    system_validation: bool = True
    ca_file: str = ""
    pin: str = ""
    trust_on_first_use: bool = False
    known_hosts: str = ""
    allow_name_mismatch: bool = False
    allow_unverified_chain: bool = False
    check_revocation: bool = False
    force_revocation_check: bool = False
    crl_files: str = ""  # paths separated by ';'


def crl_paths(text: str) -> tuple[str, ...]:
    """The CRL files field: paths separated by ';', blanks ignored."""
    return tuple(p.strip() for p in text.split(";") if p.strip())


@dataclass(frozen=True)
class EndpointSettings:
    role: Role = "remote"
    mode: Mode = "connect"
    host: str = "127.0.0.1"
    port: int = defaults.DEFAULT_HANDSHAKE_PORT
    transport_port: int = defaults.DEFAULT_TRANSPORT_PORT
    secure: bool = True
    # Listening: the interface (all of them by default, as `holoremote listen`), and
    # whether to stop after one session instead of listening again.
    listen_interface: str = ALL_INTERFACES
    listen_once: bool = False
    runtime: RuntimeChoice = "auto"
    runtime_json: str = ""
    server: ServerSettings = field(default_factory=ServerSettings)
    client: ClientSettings = field(default_factory=ClientSettings)


# --- certificates, for the server panel and the inspector ---------------------------


@dataclass(frozen=True)
class CertificateInfo:
    """One certificate as the inspector shows it: a title and labelled fields."""

    title: str
    subject: str
    fields: tuple[tuple[str, str], ...]
    sha256: str
    sha1: str
    pin: str
    has_private_key: bool = False
    pem: str = ""
    der: bytes = field(default=b"", repr=False)
    expiry: str = ""  # "expires in N days", "expired N days ago"
    expiry_severity: str = ""  # "ok", "warning" (under 30 days) or "error" (expired)


@dataclass(frozen=True)
class StoreSummary:
    """What the server panel needs from a loaded store (no key material)."""

    source: str
    format: str
    names: tuple[str, ...]
    certificates: tuple[CertificateInfo, ...]
    warnings: tuple[str, ...]


def _read_inputs(store_path: str, key_path: str) -> bytes:
    from app.security.certstore import read_bounded_file

    data = read_bounded_file(store_path, what="certificate store")
    if key_path:
        # A PEM pair: the loader matches keys to certificates inside one PEM text.
        key = read_bounded_file(key_path, what="private key file")
        data = data.rstrip(b"\n") + b"\n" + key
    return data


def load_store(store_path: str, passphrase: str, key_path: str = "") -> StoreSummary:
    """Open a .pfx/.p12, PEM or DER store (or a PEM certificate + key pair). Blocking."""
    from app.security.certstore import load_certificate_store

    data = _read_inputs(store_path, key_path)
    store = load_certificate_store(data, passphrase or None, source=store_path)
    infos = tuple(
        describe_certificate(entry.certificate, index, entry.friendly_name, entry.private_key)
        for index, entry in enumerate(store.entries)
    )
    return StoreSummary(
        source=store.source,
        format=store.format,
        names=tuple(store.names()),
        certificates=infos,
        warnings=tuple(store.warnings),
    )


def inspect_file(path: str, passphrase: str = "") -> StoreSummary:
    """Tools > Inspect certificate file. Blocking."""
    return load_store(path, passphrase)


# Labels for the security module's certificate listing (app.security.certinfo), in
# the order the inspector shows them.
_FIELD_LABELS = (
    ("friendlyName", "Friendly name"),
    ("subject", "Subject"),
    ("issuer", "Issuer"),
    ("serial", "Serial number"),
    ("version", "Version"),
    ("notBefore", "Not before"),
    ("notAfter", "Not after"),
    ("dnsNames", "DNS names (SAN)"),
    ("ipAddresses", "IP addresses (SAN)"),
    ("keyUsage", "Key usage"),
    ("extendedKeyUsage", "Extended key usage"),
    ("basicConstraints", "Basic constraints"),
    ("keyType", "Key type"),
    ("keySize", "Key size (bits)"),
    ("signatureAlgorithm", "Signature algorithm"),
    ("sha256", "SHA-256 thumbprint"),
    ("sha1", "SHA-1 thumbprint (Windows)"),
    ("hasPrivateKey", "Private key"),
)


def _display(key: str, value: Any) -> str:
    if value is None:
        return "(absent)"
    if isinstance(value, bool):
        return ("present" if value else "absent") if key == "hasPrivateKey" else str(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "(none)"
    if isinstance(value, dict) and key == "basicConstraints":
        text = "CA" if value.get("ca") else "not a CA"
        if value.get("pathLength") is not None:
            text += f", path length {value['pathLength']}"
        return text
    return str(value)


def describe_certificate(
    cert: Any,
    index: int = 0,
    friendly_name: str | None = None,
    private_key: object | None = None,
) -> CertificateInfo:
    """Every field the security module lists for a certificate, as labelled text."""
    from cryptography.x509.oid import NameOID

    from app.security import cert_extensions as extensions
    from app.security import certinfo
    from app.security import thumbprints as thumbs

    info: dict[str, Any] = certinfo.describe_certificate(cert, friendly_name)
    if private_key is not None:
        info["hasPrivateKey"] = True
    rows = tuple(
        (label, _display(key, info[key]))
        for key, label in _FIELD_LABELS
        if key in info and not (key == "friendlyName" and not info[key])
    )
    sha256 = thumbs.sha256_thumbprint(cert)
    role = "leaf" if index == 0 else f"issuer {index}"
    subject = str(info.get("subject") or "(empty subject)")
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    label = friendly_name or (str(common[0].value) if common else subject)
    days = extensions.days_left(cert, dt.datetime.now(dt.UTC))
    rows = rows + extensions.describe_extensions(cert)
    return CertificateInfo(
        title=f"{role}: {label}",
        subject=subject,
        fields=rows,
        sha256=sha256,
        sha1=str(info.get("sha1") or thumbs.sha1_thumbprint(cert)),
        pin=thumbs.sha256_pin(cert),
        has_private_key=private_key is not None,
        pem=extensions.to_pem(cert),
        der=extensions.to_der(cert),
        expiry=extensions.expiry_text(days),
        expiry_severity=extensions.expiry_severity(days),
    )


def describe_chain(chain: Sequence[bytes]) -> tuple[CertificateInfo, ...]:
    """The DER chain a ValidateServerCertificate call received, leaf first. A
    certificate that does not parse is shown as such (it is what arrived)."""
    from cryptography import x509

    from app.security import thumbprints as thumbs

    infos = []
    for index, der in enumerate(chain):
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            sha256 = thumbs.der_sha256(der)
            infos.append(
                CertificateInfo(
                    title=f"certificate {index}: unparseable",
                    subject="(unparseable)",
                    fields=(("Problem", f"not a valid DER certificate: {exc}"),),
                    sha256=sha256,
                    sha1=thumbs.der_sha1(der),
                    pin=thumbs.PIN_PREFIX_SHA256 + sha256,
                    der=der,
                )
            )
            continue
        infos.append(describe_certificate(cert, index))
    return tuple(infos)


# --- the seven checks ------------------------------------------------------------------


@dataclass(frozen=True)
class CheckRow:
    """One of the seven validation fields: spec name, pass/fail, value and reason."""

    name: str
    passed: bool
    value: str
    reason: str


def check_rows(
    verdict: ValidationResult | dict[str, Any], *, revocation_forced: bool = False
) -> tuple[CheckRow, ...]:
    """The seven fields of a verdict (a `ValidationResult`, or its JSON as a callback
    record carries it) with a pass mark each, by the app's acceptance rule: a failed
    revocation check fails only when the revocation check was forced (as the record's
    forceRevocationCheck says), as the command line and the runtime decide."""
    result = verdict if isinstance(verdict, ValidationResult) else verdict_from_json(verdict)
    failed = set(result.failed_fields(revocation_forced=revocation_forced))
    values = result.to_json()
    rows = []
    for name in FIELD_NAMES:
        value = values[name]
        text = str(value) if not isinstance(value, bool) else ("true" if value else "false")
        if name == "nameMismatch":
            text = result.name_mismatch.name.replace("_", " ").lower()
        rows.append(CheckRow(name, name not in failed, text, result.reasons.get(name, "")))
    return tuple(rows)


def verdict_from_json(data: dict[str, Any]) -> ValidationResult:
    """Rebuild a verdict from the spec-named JSON a callback record carries (fail
    closed: a missing field reads as failed)."""
    return ValidationResult.from_json(data)


def validate_chain_file(
    chain_path: str, host: str, ca_file: str = "", passphrase: str = ""
) -> tuple[tuple[CertificateInfo, ...], ValidationResult]:
    """Tools > Verify a chain for a host: the chain (leaf first) and the verdict a
    client with the default policy would reach (`holoremote verify`'s core). Blocking."""
    from app.security.chain_file import verify_chain_file

    check = verify_chain_file(
        chain_path,
        host,
        ca_file=ca_file or None,
        passphrase=passphrase or None,
        at=dt.datetime.now(dt.UTC),
    )
    return describe_chain(check.chain_der), check.validation.result


# --- tokens and the test PKI ------------------------------------------------------------


def generate_token() -> str:
    """A fresh random shared secret, from the security module."""
    from app.security.tokens import generate_shared_secret

    return generate_shared_secret()


def read_token_file(path: str) -> str:
    """A token from a file (bounded, trimmed) through the security module. Blocking."""
    from app.security.tokens import token_from_file

    return token_from_file(path)


@dataclass(frozen=True)
class TestPkiFiles:
    """What Tools > Create test certificates wrote (no secrets except the passphrase,
    which the dialog shows once and can copy into the server panel)."""

    paths: dict[str, str]
    friendly_name: str
    passphrase: str = field(repr=False)
    pin: str = ""
    sha1: str = ""


def create_test_pki(
    out_dir: str,
    hosts: Sequence[str],
    ips: Sequence[str],
    *,
    days: int,
    key_type: Literal["ecdsa", "rsa"],
    friendly_name: str,
    passphrase: str | None,
) -> TestPkiFiles:
    """Make a CA + server .pfx with the security module's test PKI and write them."""
    from app.security.testpki import create_test_pki as make_pki

    pki = make_pki(
        list(hosts),
        list(ips),
        days=days,
        key_type=key_type,
        friendly_name=friendly_name,
        passphrase=passphrase,
    )
    paths = pki.write(out_dir)
    return TestPkiFiles(
        paths={k: str(v) for k, v in paths.items()},
        friendly_name=pki.friendly_name,
        passphrase=pki.passphrase,
        pin=pki.pin,
        sha1=pki.sha1_thumbprint,
    )


# --- callback providers: app.endpoint.providers on the window's fields --------------------------
#
# The window's fields become app.endpoint.providers settings; the providers themselves (store
# loading, subject selection, token checks, system validation, the client policy,
# known hosts) are the command line's, so both front ends accept and refuse the same
# settings. Errors name the window's fields.

# app.security.client_policy.AskUser: called off the UI thread with a TofuQuestion.
TofuAsk = Callable[["TofuQuestion"], bool]
RecordSink = Callable[[CallbackRecord], None]


def server_auth_settings(server: ServerSettings) -> ServerAuthSettings:
    """The server panel's fields; the token check is one kind or the other."""
    from app.endpoint.providers import ServerAuthSettings

    jwt = server.token_mode == "jwt"  # noqa: S105 - a mode name
    return ServerAuthSettings(
        store_path=server.store_path,
        passphrase=server.passphrase or None,
        subject_name=server.subject_name or None,
        key_path=server.key_path or None,
        shared_secrets=() if jwt else server.shared_secrets,
        jwt_key_path=(server.jwt_key_path or None) if jwt else None,
        jwt_issuer=(server.jwt_issuer or None) if jwt else None,
        jwt_audience=(server.jwt_audience or None) if jwt else None,
    )


def client_auth_settings(client: ClientSettings) -> ClientAuthSettings:
    """The client panel's fields; the known-hosts file is used only with trust on
    first use (the window asks the person)."""
    from app.endpoint.providers import ClientAuthSettings

    tofu = client.trust_on_first_use
    return ClientAuthSettings(
        token=client.token,
        ca_file=client.ca_file or None,
        pins=(client.pin,) if client.pin else (),
        known_hosts=(client.known_hosts or default_known_hosts()) if tofu else None,
        trust_on_first_use=tofu,
        allow_name_mismatch=client.allow_name_mismatch,
        allow_unverified_chain=client.allow_unverified_chain,
        check_revocation=client.check_revocation,
        force_revocation_check=client.force_revocation_check,
        crl_files=crl_paths(client.crl_files),
    )


@contextlib.contextmanager
def _in_field_terms() -> Iterator[None]:
    """Settings errors name the window's fields."""
    from app.endpoint.failure import WINDOW
    from app.endpoint.providers import SettingsError
    from app.endpoint.session import ConfigError

    try:
        yield
    except (SettingsError, ConfigError) as exc:
        raise WINDOW.input_error(exc) from None


# --- runtime and session ------------------------------------------------------------------


def describe_runtime(choice: RuntimeChoice, runtime_json: str) -> str:
    """What "In use" says before the choice was checked (at start-up)."""
    if choice == "builtin":
        return "built-in runtime"
    if choice == "openxr":
        path = runtime_json or "XR_RUNTIME_JSON / the active OpenXR runtime"
        return f"OpenXR: {path}"
    if runtime_json:
        return f"automatic: OpenXR {runtime_json} if it offers the extension, else built-in"
    return "automatic: built-in unless an OpenXR runtime with the extension is found"


def check_runtime(choice: RuntimeChoice, runtime_json: str, role: str = "remote") -> str:
    """`app.endpoint.service.check_runtime`: the sentence a session with this choice
    would show, without keeping the runtime. Blocking."""
    from app.endpoint import service
    from app.endpoint.failure import WINDOW, in_words_of

    with _in_field_terms():
        return in_words_of(WINDOW, service.check_runtime(choice, runtime_json or None, role))


def endpoint_settings(settings: EndpointSettings) -> service_types.EndpointSettings:
    """The endpoint service's settings from the window's fields."""
    from app.endpoint.service import EndpointSettings as ServiceSettings

    listen = settings.mode == "listen"
    return ServiceSettings(
        mode=settings.mode,
        role=settings.role,
        host="" if listen else settings.host,
        port=settings.port,
        transport_port=settings.transport_port,
        listen_interface=(settings.listen_interface or ALL_INTERFACES) if listen else "",
        secure=settings.secure,
        realm=settings.server.realm,
        perform_system_validation=settings.client.system_validation,
        runtime=settings.runtime,
        runtime_json=settings.runtime_json or None,
    )


def session_config_for(settings: EndpointSettings) -> SessionConfig:
    """`app.endpoint.session.SessionConfig` from the window's fields (errors name
    the fields)."""
    from app.endpoint import service

    with _in_field_terms():
        return service.session_config(endpoint_settings(settings))


def open_session(
    settings: EndpointSettings,
    *,
    ask_trust_on_first_use: TofuAsk,
) -> tuple[Session, str]:
    """`app.endpoint.service.open_endpoint` on the window's fields: the session and
    the sentence saying which runtime is in use. Blocking (reads files, opens the
    runtime); refusals name the window's fields and the fix."""
    from app.endpoint import service
    from app.endpoint.failure import WINDOW, in_words_of

    opened = service.open_endpoint(
        endpoint_settings(settings),
        face=WINDOW,
        server=lambda: server_auth_settings(settings.server),
        client=lambda: client_auth_settings(settings.client),
        ask=ask_trust_on_first_use,
    )
    return opened.session, in_words_of(WINDOW, opened.runtime_description)


def is_clean_disconnect(reason: int) -> bool:
    """Ended on a request (ours or the peer's): information, not an error."""
    from app.endpoint.events import CLEAN_REASONS

    return reason in {int(r) for r in CLEAN_REASONS}


def served_certificate(server: ServerSettings) -> CertificateInfo:
    """The certificate a listener with these fields serves (the store's entry the
    subject name selects, as the server's own provider chooses it). Blocking."""
    from app.security.certstore import load_certificate_store, select_server_certificate

    data = _read_inputs(server.store_path, server.key_path)
    with _in_field_terms():
        store = load_certificate_store(data, server.passphrase or None, source=server.store_path)
        entry = select_server_certificate(store, server.subject_name or "")
    return describe_certificate(entry.certificate, 0, entry.friendly_name, entry.private_key)


def share_info(
    interface: str, port: int, pin: str, listener_role: str, machine_addresses: Sequence[str]
) -> Any:
    """`app.share.ShareInfo`: what the Share panel shows for this listener."""
    from app.share import ShareInfo, reachable_addresses

    return ShareInfo(
        addresses=reachable_addresses(interface, machine_addresses),
        port=port,
        pin=pin,
        listener_role=listener_role,
    )


def default_known_hosts() -> str:
    return str(defaults.known_hosts_file())


# --- data channels (the Session tab) ------------------------------------------------
# The session's ChannelHub is asyncio code on Qt's loop (its runtime calls run on worker
# threads); these are the app pieces the Session tab uses, with plain values.


def own_channel_ids(role: str) -> range:
    """The channel ids this end may create (the specification: remote 0..63, player
    64..127)."""
    from app.xr.values import PLAYER_CHANNEL_IDS, REMOTE_CHANNEL_IDS

    return REMOTE_CHANNEL_IDS if role == "remote" else PLAYER_CHANNEL_IDS


def channel_services(hub: Any, **options: Any) -> Any:
    """What answers the channels the peer opens (link tests, files, and `on_other`)."""
    from app.endpoint.link_test import ChannelServices

    return ChannelServices(hub, **options)


async def run_link_test(
    hub: Any, channel_id: int, seconds: float, message_size: int, progress: Any
) -> Any:
    from app.endpoint.link_test import run_link_test as run

    return await run(hub, channel_id, seconds=seconds, message_size=message_size, progress=progress)


async def send_file(hub: Any, channel_id: int, path: str) -> Any:
    from pathlib import Path

    from app.endpoint.link_test import send_file as send

    return await send(hub, channel_id, Path(path))


def stream_protocol() -> Any:
    """The test stream's wire helpers (app.endpoint.test_stream)."""
    from app.endpoint import test_stream

    return test_stream


# --- known hosts (Settings > Known hosts) ------------------------------------------------


def known_host_entries(path: str) -> list[tuple[str, str]]:
    """(host:port, SHA-256 hex) of every remembered server, sorted. Blocking."""
    from app.security.known_hosts import load_known_hosts

    return sorted(load_known_hosts(path).entries.items())


def remove_known_host(path: str, endpoint: str) -> list[tuple[str, str]]:
    """Forget one server (as `ssh-keygen -R`); the file is replaced atomically.
    Returns the entries left. Blocking."""
    from types import MappingProxyType

    from app.security.known_hosts import KnownHosts, load_known_hosts

    hosts = load_known_hosts(path)
    if endpoint not in hosts.entries:
        raise HoloremoteError(
            f"{endpoint} is not in {path}", fix="reload the list: the file changed meanwhile"
        )
    kept = {name: digest for name, digest in hosts.entries.items() if name != endpoint}
    KnownHosts(MappingProxyType(kept)).save(path)
    return sorted(kept.items())


def replace_known_host(path: str, endpoint: str, sha256: str) -> list[tuple[str, str]]:
    """Remember a new certificate for a server the person checked. Blocking."""
    from app.security.known_hosts import load_known_hosts

    digest = normalize_sha256(sha256)
    if not digest:
        raise HoloremoteError(
            "the new fingerprint is not a SHA-256 thumbprint",
            fix="paste the 64 hex digits the server's owner gave you, or fetch them",
        )
    updated = load_known_hosts(path).with_entry(endpoint, digest)
    updated.save(path)
    return sorted(updated.entries.items())


def normalize_sha256(text: str) -> str:
    """Lower-case hex of a SHA-256 thumbprint typed any usual way (`SHA256:` prefix,
    colons, spaces, base64 after the prefix), or "" if it is not one."""
    from app.security.thumbprints import parse_pin

    if not text.strip():
        return ""
    try:
        pin = parse_pin(text)
    except HoloremoteError:
        return ""
    return pin.digest.hex() if pin.algorithm == "sha256" else ""


# How long Fetch from the server waits for the TCP connect and the TLS handshake.
FETCH_TIMEOUT_S = 10.0


def fetch_certificate_sha256(endpoint: str, timeout: float = FETCH_TIMEOUT_S) -> str:
    """The SHA-256 of the certificate `host:port` presents now (as `ssh-keyscan`:
    nothing is trusted or sent, the person compares it with what the owner says).
    Blocking: the network."""
    import socket
    import ssl

    from app.security.thumbprints import der_sha256

    host, _, port_text = endpoint.rpartition(":")
    host = host.strip("[]")
    if not host or not port_text.isdigit():
        raise HoloremoteError(f"{endpoint!r} is not host:port", fix="pick an entry of the list")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # reading the certificate, not trusting it
    try:
        with (
            socket.create_connection((host, int(port_text)), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls_socket,
        ):
            der = tls_socket.getpeercert(binary_form=True)
    except OSError as exc:
        raise HoloremoteError(
            f"could not read the certificate of {endpoint}: {exc.strerror or exc}",
            fix="check that the server is listening there",
        ) from None
    if not der:
        raise HoloremoteError(
            f"{endpoint} presented no certificate", fix="is it a secure listener?"
        )
    return der_sha256(der)


def chain_pem(infos: Sequence[CertificateInfo]) -> str:
    """The chain (as shown, leaf first) as one PEM text."""
    return "".join(info.pem for info in infos if info.pem)


def write_export(path: str, data: bytes) -> None:
    """Write an exported certificate or chain. Blocking."""
    from pathlib import Path

    Path(path).write_bytes(data)

"""The one module in `ui` that calls into `app`.

Why one module: the widgets must hold no protocol or crypto logic, so every call the
window makes into `app` is listed here, with plain-value inputs and outputs the
widgets can show. Functions here may block (files, crypto, keyring, the OpenXR
loader); callers run them with `ui.jobs.run_blocking`, never on the UI thread.

The callback providers are built exactly as the command line builds them
(`app/commands/common.py`), from the window's fields instead of an argparse
namespace: see "callback providers" below. Heavy `app` modules are imported inside
the functions that need them, so that opening the window stays fast.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from app.errors import HoloremoteError, InputError
from app.security.records import CALLBACK_NAMES, CallbackRecord
from app.security.verdict import FIELD_NAMES, ValidationResult
from app.xr.values import (
    CertificateNameValidationResult,
    ConnectionState,
    DisconnectReason,
    Result,
)

if TYPE_CHECKING:
    from app.remoting.contract import RemotingRuntime
    from app.security.callbacks import (
        CertificateValidator,
        ServerCertificateProvider,
        TokenValidator,
    )

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

DEFAULT_HANDSHAKE_PORT = 8265
DEFAULT_TRANSPORT_PORT = 8266


def explain_error(exc: BaseException) -> tuple[str, str]:
    """(message, fix) for any failure, for a message box or the status bar.

    The app's own errors already name the thing and the remedy; anything else is
    shown by type and text (which never contains a secret: the engine does not put
    secrets in exceptions)."""
    if isinstance(exc, HoloremoteError):
        return exc.message, exc.fix or ""
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
    realm: str = "holoremote"
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


@dataclass(frozen=True)
class EndpointSettings:
    role: Role = "remote"
    mode: Mode = "connect"
    host: str = "127.0.0.1"
    port: int = DEFAULT_HANDSHAKE_PORT
    transport_port: int = DEFAULT_TRANSPORT_PORT
    secure: bool = True
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
    return CertificateInfo(
        title=f"{index}: {role}: {label}",
        subject=subject,
        fields=rows,
        sha256=sha256,
        sha1=str(info.get("sha1") or thumbs.sha1_thumbprint(cert)),
        pin=thumbs.sha256_pin(cert),
        has_private_key=private_key is not None,
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
                    title=f"{index}: unparseable certificate",
                    subject="(unparseable)",
                    fields=(("Problem", f"not a valid DER certificate: {exc}"),),
                    sha256=sha256,
                    sha1=thumbs.der_sha1(der),
                    pin=thumbs.PIN_PREFIX_SHA256 + sha256,
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


def check_rows(verdict: ValidationResult | dict[str, Any]) -> tuple[CheckRow, ...]:
    """The seven fields of a verdict (a `ValidationResult`, or its JSON as a callback
    record carries it) with a pass mark each, using the app's acceptance rule."""
    result = verdict if isinstance(verdict, ValidationResult) else verdict_from_json(verdict)
    failed = set(result.failed_fields(revocation_forced=True))
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
    """Rebuild a verdict from the spec-named JSON a callback record carries."""
    name = data.get("nameMismatch", CertificateNameValidationResult.NOT_CHECKED.spec_name)
    if isinstance(name, str):
        match = next(
            (m for m in CertificateNameValidationResult if m.spec_name == name),
            CertificateNameValidationResult.NOT_CHECKED,
        )
    else:
        match = CertificateNameValidationResult(int(name))
    return ValidationResult(
        trusted_root=bool(data.get("trustedRoot", False)),
        revoked=bool(data.get("revoked", False)),
        expired=bool(data.get("expired", False)),
        wrong_usage=bool(data.get("wrongUsage", False)),
        name_mismatch=match,
        revocation_check_failed=bool(data.get("revocationCheckFailed", False)),
        invalid_cert_or_chain=bool(data.get("invalidCertOrChain", False)),
        reasons=dict(data.get("reasons", {})),
        warnings=tuple(data.get("warnings", ())),
    )


def validate_chain_file(
    chain_path: str, host: str, ca_file: str = "", passphrase: str = ""
) -> tuple[tuple[CertificateInfo, ...], ValidationResult]:
    """Tools > Verify a chain for a host: the chain (leaf first) and the verdict a
    client with the default policy would reach (as `holoremote verify`). Blocking."""
    from app.security.certstore import load_certificate_store, read_bounded_file
    from app.security.system_validation import validate_server_chain
    from app.security.trust import anchors_from_file, system_anchors

    data = read_bounded_file(chain_path, what="chain file")
    store = load_certificate_store(data, passphrase or None, source=chain_path)
    chain = tuple(entry.der for entry in store.entries)
    anchors = anchors_from_file(ca_file) if ca_file else system_anchors()
    checked = validate_server_chain(chain, host, anchors=anchors, at=dt.datetime.now(dt.UTC))
    return describe_chain(chain), checked.result


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


# --- callback providers: the command line's, on the window's fields -------------------
#
# Each function here is the counterpart of one in app/commands/common.py (named in its
# docstring): the same app.security calls in the same order, on the window's plain
# values instead of an argparse namespace, so both front ends accept and refuse the
# same settings. They are glue only; the decisions (store loading, subject selection,
# token checks, system validation, the client policy, known hosts) are app.security's.

# The command line's default for --jwt-algorithm.
JWT_ALGORITHMS = ("RS256", "ES256")

# app.security.client_policy.AskUser: called off the UI thread with a TofuQuestion.
TofuAsk = Callable[[Any], bool]
RecordSink = Callable[[CallbackRecord], None]


def server_certificate_provider(server: ServerSettings) -> ServerCertificateProvider:
    """common.server_certificate_provider: the store is checked now, so a wrong
    passphrase or subject name is reported on Listen naming the file, not as
    NO_SERVER_CERTIFICATE after a client tried; the runtime then gets the same bytes."""
    from app.security.callback_types import ServerCertificateMaterial
    from app.security.callbacks import fixed_server_certificate
    from app.security.certstore import (
        load_certificate_store,
        select_server_certificate,
        server_tls_material,
    )

    if not server.store_path:
        raise InputError(
            "Certificate store",
            "secure listening needs a certificate store",
            fix="choose a .pfx/.p12 (or PEM) file, or use Tools \u2192 Create test certificates",
        )
    data = _read_inputs(server.store_path, server.key_path)
    passphrase = server.passphrase or None
    store = load_certificate_store(data, passphrase, source=server.store_path)
    entry = select_server_certificate(store, server.subject_name)
    subject = server.subject_name or entry.friendly_name or entry.common_name or ""
    server_tls_material(data, passphrase, subject, source=server.store_path)
    return fixed_server_certificate(ServerCertificateMaterial(data, server.passphrase, subject))


def token_validator(server: ServerSettings) -> TokenValidator:
    """common.token_validator: the accepted shared secrets, or JWTs signed by the keys
    of a JWKS file (or one PEM public key) with the issuer and audience given."""
    import time

    from app.security.token_validation import (
        JwtValidator,
        SharedSecretValidator,
        validate_token_any,
    )

    validator: SharedSecretValidator | JwtValidator
    try:
        if server.token_mode == "jwt":  # noqa: S105 - a mode name
            validator = JwtValidator(
                key=_jwt_key(server.jwt_key_path),
                algorithms=JWT_ALGORITHMS,
                issuer=server.jwt_issuer or None,
                audience=server.jwt_audience or None,
            )
        else:
            validator = SharedSecretValidator(server.shared_secrets)
    except InputError:
        raise
    except HoloremoteError as exc:
        label = "JWT settings" if server.token_mode == "jwt" else "Accepted tokens"  # noqa: S105
        raise InputError(label, exc.message, fix=exc.fix) from None

    def validate(presented: str) -> bool:
        try:
            validate_token_any(presented, (validator,), now=time.time())
        except HoloremoteError:
            return False
        return True

    return validate


def _jwt_key(path: str) -> Any:
    from app.security.certstore import read_bounded_file
    from app.security.token_validation import jwt_key_from_jwks_file, jwt_key_from_pem

    if not path:
        raise InputError(
            "JWT key", "JWT checking needs a JWKS file or a public key", fix="choose the key file"
        )
    if path.lower().endswith(".json"):
        return jwt_key_from_jwks_file(path)
    return jwt_key_from_pem(read_bounded_file(path, what="JWT key file"), source=path)


def certificate_validator(client: ClientSettings, port: int, ask: TofuAsk) -> CertificateValidator:
    """common.certificate_validator, with a person to ask on first use: system
    validation (against the CA file when one is given, or when the runtime passed no
    system result), then the client policy (pin, known hosts, escape hatches)."""
    from app.security.client_policy import ClientPolicy, decide
    from app.security.known_hosts import load_known_hosts
    from app.security.system_validation import validate_server_chain
    from app.security.thumbprints import parse_pin
    from app.security.trust import anchors_from_file, system_anchors

    policy = ClientPolicy(
        pins=(parse_pin(client.pin),) if client.pin else (),
        known_hosts=(
            Path(client.known_hosts or default_known_hosts()) if client.trust_on_first_use else None
        ),
        allow_name_mismatch=client.allow_name_mismatch,
        allow_unverified_chain=client.allow_unverified_chain,
    )
    anchors = anchors_from_file(client.ca_file) if client.ca_file else None
    known = load_known_hosts(policy.known_hosts) if policy.known_hosts is not None else None

    def validate(request: Any) -> ValidationResult:
        host = request.host_name or ""
        system = request.system_result
        if anchors is not None or system is None:
            system = validate_server_chain(
                request.chain,
                host,
                anchors=anchors or system_anchors(),
                force_revocation_check=request.force_revocation_check,
            ).result
        decision = decide(system, request.chain, host, port, policy, known_hosts=known, ask=ask)
        if decision.known_hosts is not None and policy.known_hosts is not None:
            policy.known_hosts.parent.mkdir(parents=True, exist_ok=True)
            decision.known_hosts.save(policy.known_hosts)
        result: ValidationResult = decision.result
        return result

    return validate


def callback_providers(settings: EndpointSettings, ask: TofuAsk) -> dict[str, Any]:
    """`SecureConnectionCallbacks` keyword arguments for the side this end plays."""
    if not settings.secure:
        return {}
    if settings.mode == "listen":
        return {
            "server_certificate_provider": server_certificate_provider(settings.server),
            "token_validator": token_validator(settings.server),
        }
    from app.security.callbacks import fixed_token

    client = settings.client
    if not client.token:
        raise InputError(
            "Token",
            "secure connecting needs the token the server accepts",
            fix="paste the server's token, or load it from a file",
        )
    return {
        "token_provider": fixed_token(client.token),
        "certificate_validator": certificate_validator(client, settings.port, ask),
    }


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


def builtin_options(role: str, ca_file: str = "") -> Any:
    """common.builtin_options: the built-in runtime trusts the CA file (PEM) for its
    own system validation."""
    from app.remoting.builtin import BuiltinOptions
    from app.security.certstore import read_bounded_file

    ca_pem = read_bounded_file(ca_file, what="CA file") if ca_file else None
    return BuiltinOptions(
        role=role,  # type: ignore[arg-type]
        trust_ca_pem=ca_pem if ca_pem and b"-----BEGIN" in ca_pem else None,
    )


# One runtime selection at a time: a check of the combo and a session's start may run
# on two worker threads at once, and the OpenXR loader (XR_RUNTIME_JSON is process-wide)
# and runtimes are not made for concurrent instance creation.
_RUNTIME_SELECTION = threading.Lock()


def open_runtime(
    choice: RuntimeChoice, runtime_json: str, options: Any
) -> tuple[RemotingRuntime, str]:
    """`app.remoting.selection.create_runtime`: the runtime and the sentence saying
    which one and why. Blocking (the OpenXR loader); raises the selection's errors
    (missing or invalid manifest, no runtime, runtime without the extension), which
    carry the fix."""
    from app.remoting.selection import create_runtime

    with _RUNTIME_SELECTION:
        return create_runtime(choice, runtime_json or None, options)


def check_runtime(choice: RuntimeChoice, runtime_json: str, role: str = "remote") -> str:
    """The sentence `open_runtime` gives for this choice, without keeping the runtime
    (the window shows it when the choice changes, before any session). Blocking."""
    from app.remoting.selection import create_runtime

    with _RUNTIME_SELECTION:
        runtime, description = create_runtime(choice, runtime_json or None, builtin_options(role))
        runtime.close()
    return description


def session_config_for(settings: EndpointSettings) -> Any:
    """`app.session.SessionConfig` from the window's fields."""
    from app.session import SessionConfig

    listen = settings.mode == "listen"
    return SessionConfig(
        mode=settings.mode,
        host="" if listen else settings.host,
        port=settings.port,
        transport_port=settings.transport_port,
        listen_interface=settings.host if listen else "",
        secure=settings.secure,
        role=settings.role,
        realm=settings.server.realm,
        perform_system_validation=settings.client.system_validation,
    )


def open_session(
    settings: EndpointSettings,
    *,
    ask_trust_on_first_use: TofuAsk,
) -> tuple[Any, str]:
    """The runtime, the callbacks with their providers and the session, from the
    window's fields. Blocking (reads files, opens the runtime); refuses bad fields
    with the app's errors (which name the field and the fix). Returns (session,
    the sentence saying which runtime is in use)."""
    from app.session import Session

    config = session_config_for(settings)
    providers = callback_providers(settings, ask_trust_on_first_use)
    ca_file = settings.client.ca_file if settings.mode == "connect" else ""
    options = builtin_options(settings.role, ca_file)
    runtime, description = open_runtime(settings.runtime, settings.runtime_json, options)
    try:
        session = Session.with_callbacks(config, runtime, **providers)
    except BaseException:
        runtime.close()
        raise
    return session, description


def reason_text(reason: int) -> tuple[str, str, str]:
    """(spec name, explanation, fix) of a disconnect reason."""
    from app.remoting.reasons import explain

    text = explain(reason)
    return text.spec_name, text.explanation, text.fix


def default_known_hosts() -> str:
    return str(Path.home() / ".config" / "holoremote" / "known_hosts")

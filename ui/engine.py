"""The one module in `ui` that calls into `app`.

Why one module: the widgets must hold no protocol or crypto logic, and the engine is
being built in parallel, so every call the window makes into `app` is listed here,
with plain-value inputs and outputs the widgets can show. Functions here may block
(files, crypto, keyring); callers run them with `ui.jobs.run_blocking`, never on the
UI thread.

Engine parts that are not in this build yet raise `EngineUnavailable`, which the
window shows as a message instead of crashing.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from app.errors import HoloremoteError
from app.security.records import CALLBACK_NAMES, CallbackRecord
from app.security.verdict import FIELD_NAMES, ValidationResult
from app.xr.values import CertificateNameValidationResult, ConnectionState, DisconnectReason

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
    "EngineUnavailable",
    "HoloremoteError",
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


class EngineUnavailable(HoloremoteError):
    """A part of the engine this window needs is not in this build."""


def _module(name: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise EngineUnavailable(
                f"{what} is not available in this build ({name} is missing)",
                fix="update holoremote, or use the command line for this step",
            ) from None
        raise


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
    certstore = _module("app.security.certstore", "Loading certificate stores")
    data: bytes = certstore.read_bounded_file(store_path, what="certificate store")
    if key_path:
        # A PEM pair: the loader matches keys to certificates inside one PEM text.
        key: bytes = certstore.read_bounded_file(key_path, what="private key file")
        data = data.rstrip(b"\n") + b"\n" + key
    return data


def load_store(store_path: str, passphrase: str, key_path: str = "") -> StoreSummary:
    """Open a .pfx/.p12, PEM or DER store (or a PEM certificate + key pair). Blocking."""
    certstore = _module("app.security.certstore", "Loading certificate stores")
    data = _read_inputs(store_path, key_path)
    store = certstore.load_certificate_store(data, passphrase or None, source=store_path)
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
    certinfo = _module("app.security.certinfo", "Certificate listing")
    thumbs = _module("app.security.thumbprints", "Certificate thumbprints")
    info: dict[str, Any] = certinfo.describe_certificate(cert, friendly_name)
    if private_key is not None:
        info["hasPrivateKey"] = True
    rows = tuple(
        (label, _display(key, info[key]))
        for key, label in _FIELD_LABELS
        if key in info and not (key == "friendlyName" and not info[key])
    )
    sha256: str = thumbs.sha256_thumbprint(cert)
    role = "leaf" if index == 0 else f"issuer {index}"
    subject = str(info.get("subject") or "(empty subject)")
    common = cert.subject.get_attributes_for_oid(_common_name_oid())
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


def _common_name_oid() -> Any:
    from cryptography.x509.oid import NameOID

    return NameOID.COMMON_NAME


def describe_chain(chain: Sequence[bytes]) -> tuple[CertificateInfo, ...]:
    """The DER chain a ValidateServerCertificate call received, leaf first. A
    certificate that does not parse is shown as such (it is what arrived)."""
    from cryptography import x509

    thumbs = _module("app.security.thumbprints", "Certificate thumbprints")
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
    certstore = _module("app.security.certstore", "Loading certificate stores")
    validation = _module("app.security.system_validation", "Chain validation")
    trust = _module("app.security.trust", "Trust anchors")
    data = certstore.read_bounded_file(chain_path, what="chain file")
    store = certstore.load_certificate_store(data, passphrase or None, source=chain_path)
    chain = tuple(entry.der for entry in store.entries)
    anchors = trust.anchors_from_file(ca_file) if ca_file else trust.system_anchors()
    checked = validation.validate_server_chain(
        chain, host, anchors=anchors, at=dt.datetime.now(dt.UTC)
    )
    return describe_chain(chain), checked.result


# --- tokens and the test PKI ------------------------------------------------------------


def generate_token() -> str:
    """A fresh random shared secret, from the security module."""
    tokens = _module("app.security.tokens", "Token generation")
    token: str = tokens.generate_shared_secret()
    return token


def read_token_file(path: str) -> str:
    """A token from a file (bounded, trimmed) through the security module. Blocking."""
    tokens = _module("app.security.tokens", "Reading tokens from files")
    token: str = tokens.token_from_file(path)
    return token


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
    testpki = _module("app.security.testpki", "The test PKI")
    pki = testpki.create_test_pki(
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


# --- runtime and session ------------------------------------------------------------------


def describe_runtime(choice: RuntimeChoice, runtime_json: str) -> str:
    """What the window shows as "runtime in use" before a session starts."""
    if choice == "builtin":
        return "built-in (pure Python over TLS)"
    if choice == "openxr":
        path = runtime_json or "XR_RUNTIME_JSON / the active OpenXR runtime"
        return f"OpenXR: {path}"
    if runtime_json:
        return f"auto: OpenXR {runtime_json} if it offers the extension, else built-in"
    return "auto: built-in unless an OpenXR runtime with the extension is found"


# app.security.client_policy.AskUser: called off the UI thread with a TofuQuestion.
TofuAsk = Callable[[Any], bool]
RecordSink = Callable[[CallbackRecord], None]


def session_config_for(settings: EndpointSettings) -> Any:
    """`app.session.SessionConfig` from the window's fields."""
    session_mod = _module("app.session", "The session engine")
    listen = settings.mode == "listen"
    return session_mod.SessionConfig(
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
    """Build the runtime, the callbacks with their providers and the session from the
    window's fields. Blocking (reads files, opens the runtime); refuses bad fields
    with the app's errors (which name the field and the fix). Returns (session,
    runtime description)."""
    session_mod = _module("app.session", "The session engine")
    config = session_config_for(settings)
    providers = _providers(settings, ask_trust_on_first_use)
    runtime, description = _open_runtime(settings)
    session = session_mod.Session.with_callbacks(config, runtime, **providers)
    return session, description


def _providers(settings: EndpointSettings, ask: TofuAsk) -> dict[str, Any]:
    """The callbacks' providers, from the security module (as the command line
    builds them); only the side this end plays gets any."""
    if not settings.secure:
        return {}
    from app.security import callbacks

    if settings.mode == "listen":
        return {
            "server_certificate_provider": callbacks.fixed_server_certificate(
                _server_material(settings.server)
            ),
            "token_validator": _token_validator(settings.server),
        }
    client = settings.client
    return {
        "token_provider": callbacks.fixed_token(client.token) if client.token else None,
        "certificate_validator": _certificate_validator(settings, ask),
    }


def _server_material(server: ServerSettings) -> Any:
    from app.security.callback_types import ServerCertificateMaterial

    if not server.store_path:
        raise HoloremoteError(
            "secure listening needs a certificate store",
            fix="choose a .pfx/.p12 (or PEM) file, or use Tools \u2192 Create test certificates",
        )
    data = _read_inputs(server.store_path, server.key_path)
    certstore = _module("app.security.certstore", "Loading certificate stores")
    # Checked now, so a wrong passphrase or subject name is reported on Listen, naming
    # the file, instead of as NO_SERVER_CERTIFICATE after a client tried.
    store = certstore.load_certificate_store(
        data, server.passphrase or None, source=server.store_path
    )
    certstore.select_server_certificate(store, server.subject_name)
    return ServerCertificateMaterial(data, server.passphrase, server.subject_name)


def _token_validator(server: ServerSettings) -> Callable[[str], bool]:
    import time

    validation = _module("app.security.token_validation", "Token validation")
    validators: list[Any] = []
    if server.token_mode == "jwt":  # noqa: S105 - a mode name
        path = server.jwt_key_path
        if not path:
            raise HoloremoteError(
                "JWT checking needs a JWKS file or a public key", fix="choose the key file"
            )
        if path.lower().endswith(".json"):
            key = validation.jwt_key_from_jwks_file(path)
            algorithms = tuple(sorted(validation.PUBLIC_KEY_ALGORITHMS))
        else:
            certstore = _module("app.security.certstore", "Loading keys")
            pem = certstore.read_bounded_file(path, what="JWT key file")
            key = validation.jwt_key_from_pem(pem, source=path)
            algorithms = tuple(sorted(validation.PUBLIC_KEY_ALGORITHMS))
        validators.append(
            validation.JwtValidator(
                key=key,
                algorithms=algorithms,
                issuer=server.jwt_issuer or None,
                audience=server.jwt_audience or None,
            )
        )
    else:
        validators.append(validation.SharedSecretValidator(accepted=server.shared_secrets))

    def validate(token: str) -> bool:
        errors = _module("app.security.errors", "Token validation")
        try:
            validation.validate_token_any(token, validators, now=time.time())
        except errors.TokenRejected:
            return False
        return True

    return validate


def _certificate_validator(settings: EndpointSettings, ask: TofuAsk) -> Callable[[Any], Any]:
    policy_mod = _module("app.security.client_policy", "Client certificate policy")
    thumbs = _module("app.security.thumbprints", "Certificate pins")
    client = settings.client
    known_path = (
        Path(client.known_hosts or default_known_hosts()) if client.trust_on_first_use else None
    )
    policy = policy_mod.ClientPolicy(
        pins=(thumbs.parse_pin(client.pin),) if client.pin else (),
        known_hosts=known_path,
        allow_name_mismatch=client.allow_name_mismatch,
        allow_unverified_chain=client.allow_unverified_chain,
    )
    host, port = settings.host, settings.port

    def validate(request: Any) -> ValidationResult:
        system = request.system_result
        if system is None:
            system = ValidationResult(
                reasons={name: "not checked: system validation is off" for name in FIELD_NAMES}
            )
        known = None
        if known_path is not None:
            known_hosts_mod = _module("app.security.known_hosts", "Known hosts")
            known = known_hosts_mod.load_known_hosts(known_path)
        decision = policy_mod.decide(
            system,
            request.chain,
            request.host_name or host,
            port,
            policy,
            known_hosts=known,
            ask=ask,
        )
        if decision.known_hosts is not None and known_path is not None:
            known_path.parent.mkdir(parents=True, exist_ok=True)
            decision.known_hosts.save(known_path)
        result: ValidationResult = decision.result
        return result

    return validate


def _open_runtime(settings: EndpointSettings) -> tuple[Any, str]:
    if settings.runtime == "openxr":
        raise EngineUnavailable(
            "the OpenXR runtime is not available in this build",
            fix="choose the built-in runtime",
        )
    builtin = _module("app.remoting.builtin", "The built-in runtime")
    trust_pem = None
    if settings.mode == "connect" and settings.client.ca_file:
        trust = _module("app.security.trust", "Trust anchors")
        anchors = trust.anchors_from_file(settings.client.ca_file)
        from cryptography.hazmat.primitives.serialization import Encoding

        trust_pem = b"".join(c.public_bytes(Encoding.PEM) for c in anchors.certificates)
    options = builtin.BuiltinOptions(role=settings.role, trust_ca_pem=trust_pem)
    runtime = builtin.BuiltinRuntime(options)
    text = "built-in (pure Python over TLS)"
    if trust_pem is not None:
        text += f"; system validation trusts {settings.client.ca_file}"
    return runtime, text


def reason_text(reason: int) -> tuple[str, str, str]:
    """(spec name, explanation, fix) of a disconnect reason."""
    from app.remoting.reasons import explain

    text = explain(reason)
    return text.spec_name, text.explanation, text.fix


def default_known_hosts() -> str:
    return str(Path.home() / ".config" / "holoremote" / "known_hosts")

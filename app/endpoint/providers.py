"""The `SecureConnectionCallbacks` providers, built from plain settings.

Both front ends build the same providers here: the command line from its flags
(`app/commands/common.py`), the window from its fields (`ui/session_opening.py`). Each is a
thin adapter that reads secrets the way its front end does (files and environment
variables, or masked fields) and fills a settings value; everything that decides
(store loading, subject selection, token checks, this app's own chain validation
merged with the runtime's system result, the client policy, known hosts) is here
or below, once.

Settings values refuse contradictions when built (pyca style) and every failure is
a `SettingsError`: an `InputError` whose `setting` is the settings field at fault,
with a neutral wording. `SettingsError.named` rewords it with the front end's names
for the settings (`--cert-store`, "Certificate store"), so the command line names
its flag and the window its field. Secrets are `repr=False` and never appear in
an error: errors carry paths, names and sizes, never values.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from app import defaults
from app.endpoint.callbacks import (
    CertificateValidator,
    ServerCertificateProvider,
    TokenProvider,
    TokenValidator,
    fixed_server_certificate,
    fixed_token,
)
from app.errors import HoloremoteError, InputError
from app.remoting.builtin.options import BuiltinOptions
from app.remoting.builtin.protocol import Role
from app.security.acceptance import combine_with_runtime
from app.security.certstore import (
    load_certificate_store,
    read_bounded_file,
    select_server_certificate,
    server_tls_material,
)
from app.security.client_policy import (
    DEFAULT_ASK_TIMEOUT_SECONDS,
    AskUser,
    ClientPolicy,
    decide,
)
from app.security.known_hosts import KnownHosts, load_known_hosts
from app.security.revocation import RevocationOptions, with_revocation_warning
from app.security.revocation_fetch import live_revocation_options
from app.security.system_validation import validate_server_chain
from app.security.thumbprints import parse_pin
from app.security.token_validation import (
    JwtValidator,
    SharedSecretValidator,
    jwt_key_from_jwks_file,
    jwt_key_from_pem,
    validate_token_any,
)
from app.security.trust import TrustAnchors, anchors_from_file, system_anchors
from app.xr.callback_types import (
    CallbackRefusal,
    CertificateValidationRequest,
    ServerCertificateMaterial,
)
from app.xr.validation_result import ValidationResult

__all__ = [
    "JWT_ALGORITHMS",
    "SETTING_NAMES",
    "ClientAuthSettings",
    "ServerAuthSettings",
    "SettingsError",
    "builtin_options",
    "certificate_validator",
    "client_providers",
    "server_certificate_provider",
    "server_providers",
    "token_provider",
    "token_validator",
    "trust_anchors",
]

# What an identity provider signs with, when nothing else is said (RFC 7518 3.1
# recommends RS256 and ES256; HS* would need the shared secret on both ends).
JWT_ALGORITHMS = ("RS256", "ES256")

# The neutral name of each setting, used in messages until a front end renames it.
SETTING_NAMES: Mapping[str, str] = {
    "store_path": "certificate store",
    "key_path": "private key file",
    "passphrase": "key passphrase",
    "subject_name": "subject name",
    "shared_secrets": "accepted tokens",
    "jwt_key_path": "JWT key",
    "jwt_settings": "JWT settings",
    "token": "token",
    "ca_file": "CA file",
    "pins": "pinned thumbprint",
    "known_hosts": "known-hosts file",
    "trust_on_first_use": "trust on first use",
    "crl_files": "CRL file",
    "policy": "client policy",
    "timeouts": "timeouts",
}


def _literal(text: str) -> str:
    """Text from elsewhere (a path, another error) kept as-is by `str.format_map`."""
    return text.replace("{", "{{").replace("}", "}}")


class SettingsError(InputError):
    """A setting is unusable or contradicts another.

    `setting` is the settings field at fault (a key of `SETTING_NAMES`); `value` a
    path worth naming beside it. The message and fix may name other settings as
    `{setting}` fields, filled with the neutral names here and with a front end's own
    names by `named`."""

    def __init__(
        self, setting: str, message: str, *, fix: str | None = None, value: str | None = None
    ) -> None:
        self.setting = setting
        self.value = value
        self._message, self._fix = message, fix
        subject, text, fix_text = self._render(SETTING_NAMES)
        super().__init__(subject, text, fix=fix_text)

    def _render(self, names: Mapping[str, str]) -> tuple[str, str, str | None]:
        subject = names[self.setting] + (f" {self.value}" if self.value else "")
        fix = self._fix.format_map(names) if self._fix is not None else None
        return subject, self._message.format_map(names), fix

    def named(self, names: Mapping[str, str], kind: type[InputError] = InputError) -> InputError:
        """The same error as a `kind`, naming settings as a front end does (names it
        does not give keep the neutral ones)."""
        subject, text, fix = self._render({**SETTING_NAMES, **names})
        return kind(subject, text, fix=fix)

    @classmethod
    def wrapping(
        cls, setting: str, error: HoloremoteError, *, value: str | None = None
    ) -> SettingsError:
        """An error from the security module, attributed to a setting."""
        message = error.message
        if value and message.startswith(f"{value}: "):
            message = message[len(value) + 2 :]  # the subject names the path already
        fix = _literal(error.fix) if error.fix else None
        return cls(setting, _literal(message), fix=fix, value=value)


def _absent(text: str | None) -> bool:
    return text is None or not text.strip()


# --- server side ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerAuthSettings:
    """What a secure listener needs: its certificate and the tokens it accepts.

    store_path: a .pfx/.p12, PEM or DER store; with `key_path`, the certificate of a
        PEM pair whose private key is in that file.
    subject_name: friendly name or subject CN of the certificate to present; None or
        "" picks the store's only certificate with a private key.
    shared_secrets: accepted shared secrets (several during a rotation).
    jwt_key_path: accept JWTs signed by these keys: a JWKS (.json) or a PEM public
        key; `jwt_issuer` / `jwt_audience` are then required claims.
    Shared secrets and a JWT key may be given together: either kind is accepted."""

    store_path: str
    passphrase: str | None = field(default=None, repr=False)
    subject_name: str | None = None
    key_path: str | None = None
    shared_secrets: tuple[str, ...] = field(default=(), repr=False)
    jwt_key_path: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: tuple[str, ...] = JWT_ALGORITHMS

    def __post_init__(self) -> None:
        if _absent(self.store_path):
            raise SettingsError(
                "store_path",
                "secure listening needs a certificate store",
                fix="make a test one with 'holoremote certs create' (in the window: Tools "
                "\u2192 Create test certificates), or listen without security",
            )
        jwt_claims = not _absent(self.jwt_issuer) or not _absent(self.jwt_audience)
        if _absent(self.jwt_key_path) and (jwt_claims or self.jwt_algorithms != JWT_ALGORITHMS):
            raise SettingsError(
                "jwt_key_path",
                "JWT checking (issuer, audience or algorithms given) needs the keys the "
                "tokens are signed with",
                fix="give {jwt_key_path}: a JWKS (.json) file or a PEM public key",
            )
        if not self.shared_secrets and _absent(self.jwt_key_path):
            raise SettingsError(
                "shared_secrets",
                "no token would be accepted",
                fix="give {shared_secrets} (generate one), or {jwt_key_path} to accept JWTs",
            )


def _store_bytes(s: ServerAuthSettings) -> bytes:
    try:
        data = read_bounded_file(s.store_path, what="certificate store")
    except HoloremoteError as exc:
        raise SettingsError.wrapping("store_path", exc, value=s.store_path) from None
    if _absent(s.key_path):
        return data
    assert s.key_path is not None
    try:
        key = read_bounded_file(s.key_path, what="private key file")
    except HoloremoteError as exc:
        raise SettingsError.wrapping("key_path", exc, value=s.key_path) from None
    # A PEM pair: the loader matches keys to certificates inside one PEM text.
    return data.rstrip(b"\n") + b"\n" + key


def server_certificate_provider(s: ServerAuthSettings) -> ServerCertificateProvider:
    """Load and check the store now, so that a wrong passphrase or subject name is
    reported before any socket is opened (naming the file), not as
    NO_SERVER_CERTIFICATE after a client tried; the runtime then gets the same bytes."""
    data = _store_bytes(s)
    passphrase = s.passphrase or None
    try:
        store = load_certificate_store(data, passphrase, source=s.store_path)
    except HoloremoteError as exc:
        raise SettingsError.wrapping("store_path", exc, value=s.store_path) from None
    try:
        entry = select_server_certificate(store, s.subject_name or "")
    except HoloremoteError as exc:
        raise SettingsError.wrapping("subject_name", exc) from None
    subject = (s.subject_name or "").strip() or entry.friendly_name or entry.common_name or ""
    if not subject:
        raise SettingsError(
            "subject_name",
            "the store's only certificate with a key has neither a friendly name nor a "
            "subject common name",
            fix="give the certificate a friendly name (export the .pfx again with one)",
        )
    try:
        server_tls_material(data, passphrase, subject, source=s.store_path)
    except HoloremoteError as exc:
        raise SettingsError.wrapping("store_path", exc, value=s.store_path) from None
    return fixed_server_certificate(ServerCertificateMaterial(data, s.passphrase or "", subject))


def _jwt_key(path: str) -> Any:
    try:
        if path.lower().endswith(".json"):
            return jwt_key_from_jwks_file(path)
        return jwt_key_from_pem(read_bounded_file(path, what="JWT key file"), source=path)
    except HoloremoteError as exc:
        raise SettingsError.wrapping("jwt_key_path", exc, value=path) from None


def token_validator(s: ServerAuthSettings) -> TokenValidator:
    """Accepts a presented token that equals one of the shared secrets (constant
    time) or is a JWT signed by the JWT key with the required claims."""
    validators: list[SharedSecretValidator | JwtValidator] = []
    try:
        if s.shared_secrets:
            validators.append(SharedSecretValidator(s.shared_secrets))
    except HoloremoteError as exc:
        raise SettingsError.wrapping("shared_secrets", exc) from None
    if s.jwt_key_path and s.jwt_key_path.strip():
        key = _jwt_key(s.jwt_key_path)
        try:
            validators.append(
                JwtValidator(
                    key=key,
                    algorithms=s.jwt_algorithms,
                    issuer=s.jwt_issuer or None,
                    audience=s.jwt_audience or None,
                )
            )
        except HoloremoteError as exc:
            raise SettingsError.wrapping("jwt_settings", exc) from None

    def validate(presented: str) -> bool:
        try:
            validate_token_any(presented, validators, now=time.time())
        except HoloremoteError:
            return False
        return True

    return validate


def server_providers(s: ServerAuthSettings) -> dict[str, Any]:
    """`SecureConnectionCallbacks` keyword arguments for a secure listener."""
    return {
        "server_certificate_provider": server_certificate_provider(s),
        "token_validator": token_validator(s),
    }


# --- client side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientAuthSettings:
    """What a secure client needs: its token and how it decides about the server.

    ca_file: trust these CAs (PEM) instead of the operating system's store.
    pins: accept exactly these server certificates (`SHA256:...` or SHA-1).
    known_hosts: remember servers here; an unknown one is refused unless
        `trust_on_first_use` (then accepted, after a yes from `ask` when one is given).
        None with `trust_on_first_use`: the per-user file (`known_hosts_path`).
    allow_name_mismatch / allow_unverified_chain: the sample's escape hatches.
    check_revocation: ask the CRL distribution points and OCSP responders the
        certificates name (over HTTP, bounded, cached until nextUpdate).
    force_revocation_check: as forceRevocationCheck: a certificate whose revocation
        cannot be determined is refused (the built-in runtime sets the flag from it).
    crl_files: CRLs (DER or PEM) read once, consulted offline."""

    token: str = field(default="", repr=False)
    ca_file: str | None = None
    pins: tuple[str, ...] = ()
    known_hosts: str | None = None
    trust_on_first_use: bool = False
    allow_name_mismatch: bool = False
    allow_unverified_chain: bool = False
    check_revocation: bool = False
    force_revocation_check: bool = False
    crl_files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.policy()

    @property
    def known_hosts_path(self) -> Path | None:
        """The known-hosts file: the one given; with trust on first use and none
        given, the per-user one (`app.defaults.known_hosts_file`). The window always
        defaulted so and the command line refused instead; both faces now remember a
        server in the same file unless told otherwise."""
        if not _absent(self.known_hosts):
            return Path(str(self.known_hosts))
        return defaults.known_hosts_file() if self.trust_on_first_use else None

    def policy(self) -> ClientPolicy:
        pins = []
        for text in self.pins:
            try:
                pins.append(parse_pin(text))
            except (HoloremoteError, ValueError) as exc:
                raise SettingsError("pins", _literal(str(exc))) from None
        try:
            return ClientPolicy(
                pins=tuple(pins),
                known_hosts=self.known_hosts_path,
                allow_name_mismatch=self.allow_name_mismatch,
                allow_unverified_chain=self.allow_unverified_chain,
            )
        except (HoloremoteError, ValueError) as exc:
            raise SettingsError("policy", _literal(str(exc))) from None


def token_provider(s: ClientAuthSettings) -> TokenProvider:
    if not s.token:
        raise SettingsError(
            "token",
            "secure connecting needs the token the server accepts",
            fix="give the server's token (from a file, or pasted)",
        )
    return fixed_token(s.token)


def trust_anchors(s: ClientAuthSettings) -> TrustAnchors | None:
    if _absent(s.ca_file):
        return None
    assert s.ca_file is not None
    try:
        return anchors_from_file(s.ca_file)
    except HoloremoteError as exc:
        raise SettingsError.wrapping("ca_file", exc, value=s.ca_file) from None


def revocation_settings(s: ClientAuthSettings) -> RevocationOptions:
    """What the client consults for revocation; the CRL files are read here, once,
    so an unreadable one is a settings error before any connection."""
    crls: list[x509.CertificateRevocationList] = []
    for path in s.crl_files:
        try:
            crls += live_revocation_options((path,)).crls
        except InputError as exc:
            message = exc.message.removeprefix(f"{exc.subject}: ")
            fix = _literal(exc.fix) if exc.fix else None
            raise SettingsError("crl_files", _literal(message), fix=fix, value=path) from None
    online = live_revocation_options(check=s.check_revocation, forced=s.force_revocation_check)
    return dataclasses.replace(online, crls=tuple(crls))


def certificate_validator(
    s: ClientAuthSettings,
    port: int,
    *,
    ask: AskUser | None = None,
    ask_timeout: float = DEFAULT_ASK_TIMEOUT_SECONDS,
) -> CertificateValidator:
    """This app's own validation of the chain, merged with the runtime's system
    result, then the client policy (pins, known hosts, escape hatches).

    Our own `validate_server_chain` always runs (trust: the CA file, else the OS
    store), because only it can say *why* a field failed: the C struct that carries
    the runtime's result has no text. With a CA file our validation decides. Without
    one, when the runtime supplied a system result, that result decides each field (a
    runtime such as Microsoft's uses the Windows store, which we cannot see) and our
    reasons are attached where our check agrees (`combine_with_runtime`).

    `port` is the endpoint's port for the known-hosts file; `ask` is called (in a
    worker thread, bounded by `ask_timeout`, no answer = no) on a first use."""
    policy = s.policy()
    anchors = trust_anchors(s)
    revocation = revocation_settings(s)
    known: KnownHosts | None = None
    if policy.known_hosts is not None:
        try:
            known = load_known_hosts(policy.known_hosts)
        except HoloremoteError as exc:
            raise SettingsError.wrapping(
                "known_hosts", exc, value=str(policy.known_hosts)
            ) from None
    lock = threading.Lock()  # the OS store is loaded once
    remembering = threading.Lock()  # one known-hosts update at a time
    loaded: list[TrustAnchors | HoloremoteError] = []

    def our_anchors() -> TrustAnchors:
        """The CA file, else the OS store (loaded once, on first use)."""
        if anchors is not None:
            return anchors
        with lock:
            if not loaded:
                try:
                    loaded.append(system_anchors())
                except HoloremoteError as exc:
                    loaded.append(exc)
            found = loaded[0]
        if isinstance(found, HoloremoteError):
            raise found
        return found

    def validate(request: CertificateValidationRequest) -> ValidationResult:
        nonlocal known
        host = request.host_name or ""
        own: ValidationResult | None = None
        try:
            checked = validate_server_chain(
                request.chain,
                host,
                anchors=our_anchors(),
                revocation=revocation,
                force_revocation_check=request.force_revocation_check or s.force_revocation_check,
            )
            own, source = checked.result, checked.trust_source
        except HoloremoteError as exc:
            source = f"no trust store ({exc.message})"
        runtime = request.system_result
        if anchors is None and runtime is not None:
            system = combine_with_runtime(runtime, own, source)
        elif own is not None:
            system = own
        else:
            raise CallbackRefusal(
                f"the certificate cannot be validated: {source}; give the CA file "
                "or pin the server's certificate"
            )
        with remembering:
            decision = decide(
                system,
                request.chain,
                host,
                port,
                policy,
                known_hosts=known,
                ask=ask,
                ask_timeout=ask_timeout,
                trust_on_first_use=s.trust_on_first_use,
            )
            if decision.known_hosts is not None and policy.known_hosts is not None:
                policy.known_hosts.parent.mkdir(parents=True, exist_ok=True)
                decision.known_hosts.save(policy.known_hosts)
                known = decision.known_hosts
        forced = request.force_revocation_check or s.force_revocation_check
        # its reasons and warnings travel in the callback record
        return with_revocation_warning(decision.result, forced=forced)

    return validate


def client_providers(
    s: ClientAuthSettings,
    port: int,
    *,
    ask: AskUser | None = None,
    ask_timeout: float = DEFAULT_ASK_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """`SecureConnectionCallbacks` keyword arguments for a secure client."""
    return {
        "token_provider": token_provider(s),
        "certificate_validator": certificate_validator(s, port, ask=ask, ask_timeout=ask_timeout),
    }


# --- the built-in runtime -------------------------------------------------------------------


def builtin_options(
    role: Role | str,
    *,
    ca_file: str | None = None,
    handshake_timeout: float = defaults.HANDSHAKE_TIMEOUT_S,
    session_open_timeout: float = defaults.SESSION_OPEN_TIMEOUT_S,
    disconnect_wait: float = defaults.DISCONNECT_WAIT_S,
    force_revocation_check: bool = False,
) -> BuiltinOptions:
    """The built-in runtime's options; it trusts the CA file (when PEM) for its own
    system validation, and sets forceRevocationCheck from the client's setting, as
    Microsoft's runtime does from its own."""
    ca_pem = None
    if not _absent(ca_file):
        assert ca_file is not None
        try:
            ca_pem = read_bounded_file(ca_file, what="CA file")
        except HoloremoteError as exc:
            raise SettingsError.wrapping("ca_file", exc, value=ca_file) from None
    try:
        return BuiltinOptions(
            role=role,  # type: ignore[arg-type]  # BuiltinOptions refuses other roles
            handshake_timeout=handshake_timeout,
            session_open_timeout=session_open_timeout,
            disconnect_wait=disconnect_wait,
            trust_ca_pem=ca_pem if ca_pem and b"-----BEGIN" in ca_pem else None,
            force_revocation_check=force_revocation_check,
        )
    except ValueError as exc:
        raise SettingsError("timeouts", _literal(str(exc))) from None

"""Why an attempt failed, in the words of the face the person is using.

One place decides what a failed connection means and what to do about it, for the
command line and the window alike:

- `refused_checks`: whether this client refused the server's certificate, and
  which of the seven checks failed (the runtime's disconnect reason,
  HANDSHAKE_CONNECTION_FAILED, cannot say so; the ValidateServerCertificate record
  can). The session attaches the result to the `Disconnected` event as a
  `CertificateRefusal`.
- `fix_for` / `refusal_lines`: per failed check, the reason and the fix, with the
  facts from the chain (the names the certificate holds, its dates, its pin).
- `Face`: how each front end names a setting (a flag, a field), the one table the
  fixes and the settings errors are phrased through.
- `error_text`: any failure as (message, fix) in a face's words, for both faces.

The reasons cannot cross the C struct: `XrRemotingCertificateValidationResultMSFT`
has seven values and no text; `app.security.acceptance.combine_with_runtime` puts
them back from this app's own validation of the same chain.
None of it ever shows a secret: records are masked when they are made.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.errors import HoloremoteError, InputError
from app.security.acceptance import is_acceptable
from app.security.thumbprints import sha256_pin
from app.xr.records import CallbackRecord
from app.xr.validation_result import FIELD_NAMES, ValidationResult

if TYPE_CHECKING:
    from cryptography import x509


@dataclass(frozen=True)
class Face:
    """A front end: how it names each setting, and how it says "set it to this" and
    "turn it on". The keys are `app.endpoint.providers.SETTING_NAMES`' and the
    session configuration's field names, plus `inspect` (where to look at a store)."""

    names: Mapping[str, str]
    set_pattern: str  # "{name} {value}" on the command line
    on_pattern: str  # "{name}" on the command line

    def name(self, setting: str) -> str:
        return self.names.get(setting, setting.replace("_", " "))

    def set_to(self, setting: str, value: str) -> str:
        return self.set_pattern.format(name=self.name(setting), value=value)

    def turn_on(self, setting: str) -> str:
        return self.on_pattern.format(name=self.name(setting))

    def input_error(self, error: InputError, kind: type[InputError] = InputError) -> InputError:
        """A `SettingsError` or `ConfigError` naming the setting as this face does."""
        named = getattr(error, "named", None)
        if named is not None:
            result: InputError = named(self.names, kind)
            return result
        return kind(self.name(error.subject), error.message.split(": ", 1)[-1], fix=error.fix)


COMMAND_LINE = Face(
    names={
        "store_path": "--cert-store",
        "passphrase": "--key-passphrase-file",
        "subject_name": "--subject-name",
        "shared_secrets": "--token-file",
        "jwt_key_path": "--jwks",
        "jwt_settings": "--jwks / --jwt-*",
        "token": "--token-file",
        "ca_file": "--ca-file",
        "pins": "--pin",
        "known_hosts": "--known-hosts",
        "trust_on_first_use": "--trust-on-first-use",
        "crl_files": "--crl",
        "allow_name_mismatch": "--allow-name-mismatch",
        "policy": "--pin / --known-hosts / --allow-*",
        "timeouts": "--handshake-timeout / --session-open-timeout / --disconnect-wait",
        "host": "HOST[:PORT]",
        "port": "--port",
        "transport_port": "--transport-port",
        "listen_interface": "--listen-interface",
        "realm": "--realm",
        "role": "--role",
        "mode": "the command",
        "runtime": "--runtime",
        "runtime_json": "--runtime-json",
        "inspect": "'holoremote inspect FILE'",
    },
    set_pattern="{name} {value}",
    on_pattern="{name}",
)

WINDOW = Face(
    names={
        "store_path": "Certificate store",
        "key_path": "Key (PEM pair)",
        "passphrase": "Passphrase",
        "subject_name": "Subject name",
        "shared_secrets": "Accepted tokens",
        "jwt_key_path": "JWT key / JWKS",
        "jwt_settings": "JWT settings",
        "token": "Token",
        "ca_file": "CA file",
        "pins": "Pinned thumbprint",
        "known_hosts": "Known hosts",
        "trust_on_first_use": "Trust on first use",
        "crl_files": "CRL files",
        "allow_name_mismatch": "Allow name mismatch",
        "policy": "Client policy",
        "timeouts": "timeouts",
        "host": "Host",
        "port": "Handshake port",
        "transport_port": "Transport port",
        "listen_interface": "Listen on",
        "realm": "Realm",
        "role": "Role",
        "mode": "Mode",
        "runtime": "Runtime",
        "runtime_json": "OpenXR runtime manifest",
        "inspect": "Tools > Inspect certificate file",
    },
    set_pattern="{value} in the {name} field",
    on_pattern="the {name} option",
)


# Engine sentences (runtime choice, store, token and OpenXR errors) are written once,
# in command-line words; `in_words_of` says them in another face's words, so the window
# names its fields instead of flags and environment variables.
_FLAG_SETTINGS: dict[str, str] = {
    flag: setting
    for setting, flag in COMMAND_LINE.names.items()
    if re.fullmatch(r"--[a-z][a-z-]*", flag)
} | {"--passphrase-file": "passphrase", "--key-file": "key_path"}
_CHOICE_WORDS = {"auto": "Automatic", "builtin": "Built-in", "openxr": "OpenXR"}
_ENV_SETTINGS = {"HOLOREMOTE_TOKEN": "token", "HOLOREMOTE_KEY_PASSPHRASE": "passphrase"}
_FLAG = r"--[a-z][a-z-]*(?: (?:[A-Z][A-Za-z_]*(?:/[\w.]+)?|auto|builtin|openxr)\b)?"
_ENV = r"\$?HOLOREMOTE_[A-Z_]+"
# "(--token-file or HOLOREMOTE_TOKEN)": one thing said two ways on the command line.
_ALTERNATIVES = re.compile(rf"({_FLAG})(?:,? or {_ENV})")
_FLAG_RE = re.compile(_FLAG)
_ENV_RE = re.compile(_ENV)


def _field_phrase(face: Face, match: re.Match[str]) -> str:
    flag, _, value = match.group(0).partition(" ")
    value = _CHOICE_WORDS.get(value, value)
    setting = _FLAG_SETTINGS.get(flag)
    name = face.name(setting) if setting else flag.removeprefix("--").replace("-", " ")
    if value and not value.isupper() and not value.split("/")[0].isupper():
        return face.set_to(setting or name, value) if setting else f"{value} in the {name} field"
    if value and "/" in value:  # PATH/RemotingXR.json: keep the file the user looks for
        return face.set_to(setting, value) if setting else f"the {name} field"
    return f"the {name} field"


def in_words_of(face: Face, text: str) -> str:
    """`text` (an engine sentence in command-line words) in `face`'s words: each
    `--flag [VALUE]` and HOLOREMOTE_* variable becomes the field that sets it."""
    if face is COMMAND_LINE or not text:
        return text
    text = _ALTERNATIVES.sub(lambda m: _FLAG_RE.sub(lambda f: _field_phrase(face, f), m[1]), text)
    text = _FLAG_RE.sub(lambda m: _field_phrase(face, m), text)
    return _ENV_RE.sub(
        lambda m: f"the {face.name(_ENV_SETTINGS.get(m[0].lstrip('$'), 'token'))} field", text
    )


def error_text(face: Face, error: BaseException) -> tuple[str, str]:
    """(message, fix) of any failure, in `face`'s words: the one rule by which the
    command line prints an error ("holoremote CMD: message", "  fix: ...") and the
    window fills a message box or the status bar.

    The app's own errors already name the thing and the remedy; a file error names
    the file; anything else is shown by type and text (which never contains a
    secret: the engine puts none in exceptions)."""
    if isinstance(error, HoloremoteError):
        return in_words_of(face, error.message), in_words_of(face, error.fix or "")
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}", "check the path and its permissions"
    return f"{type(error).__name__}: {error}", ""


@dataclass(frozen=True)
class CertificateRefusal:
    """This client refused the server's certificate: the failed checks (spec field
    names, or the callback's own failure) and the record that says why."""

    checks: tuple[str, ...]
    record: CallbackRecord = field(repr=False)

    def summary(self) -> str:
        return f"this client refused the server's certificate ({', '.join(self.checks)})"

    def lines(self, face: Face) -> list[tuple[str, str, str]]:
        """(check, reason, fix) per failed check, the fix in `face`'s words."""
        return refusal_details(self.record, face)

    @classmethod
    def of(cls, record: CallbackRecord) -> CertificateRefusal | None:
        checks = refused_checks(record)
        return cls(tuple(checks), record) if checks else None


def verdict_from_json(data: Mapping[str, Any]) -> ValidationResult:
    """A `ValidationResult.to_json()` back into a value (from a callback record)."""
    return ValidationResult.from_json(data)


def refused_checks(record: CallbackRecord) -> list[str] | None:
    """For a ValidateServerCertificate record: the spec names of the failed checks
    (or the callback's own failure) when the client refused the certificate; None
    when it was accepted or the record is another callback."""
    if record.callback != "ValidateServerCertificate":
        return None
    if record.result != 0:
        return [f"ValidateServerCertificate returned {record.result_name}"]
    result = record.validation_result()
    if result is None:
        return ["ValidateServerCertificate reported no verdict"]
    forced = record.inputs.get("forceRevocationCheck") is True
    if is_acceptable(result, revocation_forced=forced):
        return None
    return result.failed_fields(revocation_forced=forced)


def _leaf(record: CallbackRecord) -> x509.Certificate | None:
    if not record.chain:
        return None
    # Imported here, when a failure is explained: the window imports this module
    # and is shown without the X.509 stack (docs/benchmarks.md, window start).
    from cryptography import x509

    try:
        return x509.load_der_x509_certificate(record.chain[0])
    except ValueError:
        return None


def _names(leaf: x509.Certificate | None) -> list[str]:
    if leaf is None:
        return []
    from cryptography import x509

    try:
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    names: list[str] = list(sans.get_values_for_type(x509.DNSName))
    addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [
        a
        for a in sans.get_values_for_type(x509.IPAddress)
        if isinstance(a, ipaddress.IPv4Address | ipaddress.IPv6Address)
    ]
    return names + [str(a) for a in addresses]


def fix_for(check: str, record: CallbackRecord, reason: str = "", face: Face = COMMAND_LINE) -> str:
    """What to do about one failed check, with the facts from the record's chain
    (and, for trustedRoot, from its reason: a pin or a remembered key that no longer
    matches is not fixed by a CA), naming settings as `face` does."""
    leaf = _leaf(record)
    if check == "trustedRoot":
        value = sha256_pin(leaf) if leaf is not None else "SHA256:<thumbprint>"
        pin = face.set_to("pins", value)
        if "pinned thumbprint" in reason:
            return (
                "the server presents another certificate than the pin: if it was replaced "
                f"on purpose, pin the new one with {pin} (check it out of band first)"
            )
        if "CHANGED since it was first trusted" in reason:
            return (
                "do not connect unless the server's certificate was replaced on purpose; "
                "then delete its line from the known-hosts file and connect again"
            )
        if "first connection" in reason:
            return (
                f"check the pin {value} out of band, then connect with "
                f"{face.turn_on('trust_on_first_use')} to remember it, or with {pin}"
            )
        return (
            "give the CA that issued the server's certificate with "
            f"{face.set_to('ca_file', 'CA.pem')}, or accept exactly this certificate with {pin}"
        )
    if check == "nameMismatch":
        names = _names(leaf)
        host = record.inputs.get("hostName") or "this host name"
        allow = face.turn_on("allow_name_mismatch")
        if names:
            return (
                f"connect by a name the certificate holds ({', '.join(names)}) instead of "
                f"{host}, re-issue it for {host}, or (tests only) {allow}"
            )
        return f"re-issue the certificate with {host} in its SANs, or {allow}"
    if check == "expired":
        until = (
            f" (the server's certificate is valid {leaf.not_valid_before_utc:%Y-%m-%d} to "
            f"{leaf.not_valid_after_utc:%Y-%m-%d})"
            if leaf is not None
            else ""
        )
        return f"renew the expired certificate{until}, and check both machines' clocks"
    if check == "wrongUsage":
        return (
            "re-issue the server's certificate with the serverAuth extended key usage "
            "('holoremote certs create' does)"
        )
    if check == "revoked":
        return "the issuer revoked this certificate: give the server a new one"
    if check == "revocationCheckFailed":
        return (
            "make the CRL / OCSP responder reachable from this machine, or connect "
            "without forcing the revocation check"
        )
    if check == "invalidCertOrChain":
        return (
            "the server sends a malformed certificate or chain: check its store with "
            f"{face.name('inspect')} and export it again"
        )
    return "see the callback's error above"


def refusal_details(record: CallbackRecord, face: Face) -> list[tuple[str, str, str]]:
    """(check, reason, fix) per failed check of a refused certificate; the fix is
    empty where the check is the callback's own failure (its error says it all)."""
    checks = refused_checks(record) or []
    verdict = record.outputs.get("validationResultOut")
    reasons = verdict.get("reasons", {}) if isinstance(verdict, dict) else {}
    details = []
    for check in checks:
        if check not in FIELD_NAMES:
            details.append((check, record.error or "", ""))
            continue
        reason = str(reasons.get(check) or "") if isinstance(reasons, dict) else ""
        details.append((check, reason, fix_for(check, record, reason, face)))
    return details


def refusal_lines(record: CallbackRecord) -> list[str]:
    """One line per failed check, the command line's way: check, reason, fix."""
    lines = []
    for check, reason, fix in refusal_details(record, COMMAND_LINE):
        if not fix:
            lines.append(f"  refused: {check}" + (f": {reason}" if reason else ""))
            continue
        lines.append(f"  refused: {check}: {reason or 'failed'}")
        lines.append(f"    fix: {fix}")
    return lines

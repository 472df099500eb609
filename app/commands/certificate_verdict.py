"""What the command line says about a server certificate: the effective verdict with
a reason per field, and, when it was refused, which check failed and what to do.

The reasons cannot cross the C struct: `XrRemotingCertificateValidationResultMSFT`
has seven values and no text, so a runtime's system result arrives without them.
`app.security.acceptance.combine_with_runtime` puts them back from this app's own
validation of the same chain (the window does the same). `refusal_lines` turns a
refused verdict into one line per failed check with its fix; `callback_summary` is
the one-line summary of each callback record.
None of it ever shows a secret: records are masked when they are made.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from cryptography import x509

from app.security.acceptance import is_acceptable
from app.security.thumbprints import sha256_pin
from app.xr.records import CallbackRecord
from app.xr.validation_result import FIELD_NAMES, ValidationResult


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
    verdict = record.outputs.get("validationResultOut")
    if not isinstance(verdict, dict):
        return ["ValidateServerCertificate reported no verdict"]
    forced = record.inputs.get("forceRevocationCheck") is True
    result = verdict_from_json(verdict)
    if is_acceptable(result, revocation_forced=forced):
        return None
    return result.failed_fields(revocation_forced=forced)


def _leaf(record: CallbackRecord) -> x509.Certificate | None:
    if not record.chain:
        return None
    try:
        return x509.load_der_x509_certificate(record.chain[0])
    except ValueError:
        return None


def _names(leaf: x509.Certificate | None) -> list[str]:
    if leaf is None:
        return []
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


def fix_for(check: str, record: CallbackRecord, reason: str = "") -> str:
    """What to do about one failed check, with the facts from the record's chain
    (and, for trustedRoot, from its reason: a pin or a remembered key that no longer
    matches is not fixed by a CA)."""
    leaf = _leaf(record)
    if check == "trustedRoot":
        pin = f"--pin {sha256_pin(leaf)}" if leaf is not None else "--pin SHA256:<thumbprint>"
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
                f"check the pin {pin.removeprefix('--pin ')} out of band, then connect with "
                "--trust-on-first-use to remember it, or with " + pin
            )
        return (
            "give the CA that issued the server's certificate with --ca-file CA.pem, or "
            f"accept exactly this certificate with {pin}"
        )
    if check == "nameMismatch":
        names = _names(leaf)
        host = record.inputs.get("hostName") or "this host name"
        if names:
            return (
                f"connect by a name the certificate holds ({', '.join(names)}) instead of "
                f"{host}, re-issue it for {host}, or (tests only) --allow-name-mismatch"
            )
        return f"re-issue the certificate with {host} in its SANs, or --allow-name-mismatch"
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
            "'holoremote inspect FILE' and export it again"
        )
    return "see the callback's error above"


def refusal_lines(record: CallbackRecord) -> list[str]:
    """One line per failed check: the check, its reason, and the fix."""
    checks = refused_checks(record)
    if not checks:
        return []
    verdict = record.outputs.get("validationResultOut")
    reasons = verdict.get("reasons", {}) if isinstance(verdict, dict) else {}
    lines = []
    for check in checks:
        if check not in FIELD_NAMES:
            lines.append(f"  refused: {check}" + (f": {record.error}" if record.error else ""))
            continue
        reason = reasons.get(check) if isinstance(reasons, dict) else None
        lines.append(f"  refused: {check}: {reason or 'failed'}")
        lines.append(f"    fix: {fix_for(check, record, str(reason or ''))}")
    return lines


def callback_summary(record: CallbackRecord) -> str:
    """The record's inputs and outputs in a few words (sizes, verdicts; never a secret)."""
    inputs, outputs = record.inputs, record.outputs
    if record.callback == "RequestAuthenticationToken":
        return _sizes(inputs, outputs, (("token", "tokenCapacityIn", "tokenSizeOut"),))
    if record.callback == "RequestServerCertificate":
        text = _sizes(
            inputs,
            outputs,
            (
                ("certStore", "certStoreCapacityIn", "certStoreSizeOut"),
                ("keyPassphrase", "keyPassphraseCapacityIn", "keyPassphraseSizeOut"),
                ("subjectName", "subjectNameCapacityIn", "subjectNameSizeOut"),
            ),
        )
        subject = outputs.get("subjectName")
        return text + (f"; subjectName={subject!r}" if isinstance(subject, str) else "")
    if record.callback == "ValidateAuthenticationToken":
        valid = outputs.get("tokenValidOut")
        return "" if valid is None else f"tokenValidOut={str(valid).lower()}"
    if record.callback == "ValidateServerCertificate":
        count = inputs.get("numCertificates")
        text = f"hostName={inputs.get('hostName')}, {count} certificate(s)"
        system = inputs.get("systemValidationResult")
        text += ", with" if isinstance(system, dict) else ", without"
        text += " the runtime's system validation"
        if "validationResultOut" in outputs:
            checks = refused_checks(record)
            text += ": REFUSED (" + ", ".join(checks) + ")" if checks else ": accepted"
        return text
    return ""


def _sizes(
    inputs: Mapping[str, Any], outputs: Mapping[str, Any], fields: tuple[tuple[str, str, str], ...]
) -> str:
    parts = []
    for name, capacity, size in fields:
        if size in outputs:
            parts.append(f"{size}={outputs[size]} (capacity {inputs.get(capacity)})")
        elif capacity in inputs:
            parts.append(f"{name} capacity {inputs[capacity]}")
    return ", ".join(parts)

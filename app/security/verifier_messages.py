"""The one place that reads the wording of cryptography's path verifier.

`x509.verification.VerificationError` carries only a message: no code, no failed
rule, no certificate object (cryptography 45 to 50). Its texts are not an API, so
they never reach the user: `classify` turns one into the verdict field it concerns
and a reason in our words. Each rule below has a test that makes the verifier
produce its message with the installed version (tests/app/security/
test_verifier_messages.py), so a change of wording fails a test instead of
silently falling through to the general reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography import x509


@dataclass(frozen=True)
class VerifierRefusal:
    """The verdict field a refusal belongs to (the specification's name) and why,
    in our words."""

    field: str
    reason: str


# (words of the verifier, lower case) -> (field, our reason). First match wins.
_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "must be critical when subject is empty",
        "nameMismatch",
        "the server certificate has an empty subject, and then its subjectAltName must be "
        "marked critical (RFC 5280 4.2.1.6)",
    ),
    (
        "no matching subjectaltname",
        "nameMismatch",
        "the host is not among the server certificate's subjectAltNames",
    ),
    (
        "has no subjectaltname",
        "nameMismatch",
        "the server certificate has no subjectAltName extension",
    ),
    (
        "required eku not found",
        "wrongUsage",
        "a certificate on the path does not allow serverAuth in its extended key usage",
    ),
    (
        "not valid at validation time",
        "expired",
        "a certificate on the path is outside its validity period",
    ),
    (
        "exceeds max depth",
        "trustedRoot",
        "every path to a trusted root would be longer than the depth allowed",
    ),
    (
        "incorrect criticality",
        "invalidCertOrChain",
        "an extension is marked critical where the web PKI rules forbid it, or not critical "
        "where they require it",
    ),
    (
        "missing required extension",
        "invalidCertOrChain",
        "a certificate on the path lacks an extension the web PKI rules require",
    ),
    (
        "candidates exhausted",
        "trustedRoot",
        "no issuer candidate leads to a trusted root",
    ),
)

GENERAL = VerifierRefusal(
    "invalidCertOrChain", "the chain breaks a web PKI rule that has no check of its own here"
)

_OID = re.compile(r"\b(\d+(?:\.\d+){3,})\b")


def _extension_name(message: str) -> str | None:
    found = _OID.search(message)
    if found is None:
        return None
    oid = x509.ObjectIdentifier(found.group(1))
    name = getattr(oid, "_name", "Unknown OID")
    return found.group(1) if name == "Unknown OID" else name


def classify(message: str) -> VerifierRefusal:
    """The field and our reason for one verifier message; `GENERAL` when no rule
    knows it (the chain is refused all the same)."""
    lowered = message.lower()
    for words, field, reason in _RULES:
        if words in lowered:
            extension = _extension_name(message)
            if extension and field == "invalidCertOrChain":
                return VerifierRefusal(field, f"{reason} (extension {extension})")
            return VerifierRefusal(field, reason)
    return GENERAL

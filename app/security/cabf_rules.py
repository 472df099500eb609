"""CA/Browser Forum baseline rules that are stricter than RFC 5280, checked per
certificate so that each failure has its own reason.

cryptography's WebPKI verifier already enforces several of these while building a
path; we check them again here because the verdict must say *which* rule broke
even when the verifier stops at the first problem, and because a few (RSA sizes that
are not a multiple of 8, AKI/SKI consistency, the CN rule) are not all enforced there.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

from app.security.hostnames import common_name_problems

# CA/B BR 6.1.5: RSA moduli of at least 2048 bits, divisible by 8.
MIN_RSA_BITS = 2048
# CA/B BR 6.1.5 allows P-256, P-384 and P-521 only; anything smaller (P-192, P-224)
# is weak. Other curves are left to the verifier's algorithm allow-list.
MIN_EC_BITS = 256


def describe(cert: x509.Certificate) -> str:
    """A short label for messages: CN, else the whole subject."""
    from app.security.certstore import common_name

    return common_name(cert) or cert.subject.rfc4514_string() or "(empty subject)"


def key_problems(cert: x509.Certificate) -> list[str]:
    """Weak keys: RSA under 2048 bits or not a multiple of 8, DSA, P-192/P-224."""
    label = describe(cert)
    try:
        key = cert.public_key()
    except (ValueError, TypeError) as exc:
        return [f"'{label}' has a public key that cannot be read ({exc})"]
    if isinstance(key, rsa.RSAPublicKey):
        bits = key.key_size
        if bits < MIN_RSA_BITS:
            return [
                f"'{label}' has a {bits}-bit RSA key; at least {MIN_RSA_BITS} bits are required"
            ]
        if bits % 8:
            return [f"'{label}' has a {bits}-bit RSA key; the size must be a multiple of 8"]
    elif isinstance(key, dsa.DSAPublicKey):
        return [f"'{label}' has a DSA key; DSA is not allowed for TLS certificates"]
    elif isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < MIN_EC_BITS:
        return [f"'{label}' uses the weak curve {key.curve.name}; use P-256, P-384 or P-521"]
    return []


def version_problems(cert: x509.Certificate) -> list[str]:
    if cert.version != x509.Version.v3:
        return [
            f"'{describe(cert)}' is an X.509 {cert.version.name} certificate; only v3 is allowed"
        ]
    return []


def _ski(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def _aki(cert: x509.Certificate) -> x509.AuthorityKeyIdentifier | None:
    try:
        return cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return None


def key_identifier_problems(path: Sequence[x509.Certificate]) -> list[str]:
    """RFC 5280 4.2.1.1 and CA/B BR 7.1.2: a child's AKI keyIdentifier equals its
    issuer's SKI when both are present; a self-signed root's AKI, if present, carries
    a keyIdentifier equal to its own SKI and no issuer/serial fields."""
    problems: list[str] = []
    for index, cert in enumerate(path):
        try:
            aki = _aki(cert)
        except ValueError as exc:
            problems.append(f"'{describe(cert)}' has a malformed authorityKeyIdentifier ({exc})")
            continue
        if aki is None:
            continue
        self_signed = cert.issuer == cert.subject and index == len(path) - 1
        if self_signed:
            if aki.key_identifier is None:
                problems.append(
                    f"root '{describe(cert)}' has an authorityKeyIdentifier without keyIdentifier"
                )
            if (
                aki.authority_cert_issuer is not None
                or aki.authority_cert_serial_number is not None
            ):
                problems.append(
                    f"root '{describe(cert)}' has authorityCertIssuer/SerialNumber in its "
                    "authorityKeyIdentifier, which the baseline rules forbid"
                )
            own = _ski(cert)
            if aki.key_identifier is not None and own is not None and aki.key_identifier != own:
                problems.append(
                    f"root '{describe(cert)}' has an authorityKeyIdentifier that differs from "
                    "its own subjectKeyIdentifier"
                )
            continue
        if index + 1 < len(path):
            issuer_ski = _ski(path[index + 1])
            if (
                aki.key_identifier is not None
                and issuer_ski is not None
                and aki.key_identifier != issuer_ski
            ):
                problems.append(
                    f"'{describe(cert)}' names issuer key {aki.key_identifier.hex()} but its "
                    f"issuer '{describe(path[index + 1])}' has key {issuer_ski.hex()} "
                    "(authorityKeyIdentifier/subjectKeyIdentifier mismatch)"
                )
    return problems


def certificate_problems(path: Sequence[x509.Certificate]) -> list[str]:
    """Every baseline-rule violation on the path (leaf first), as reasons for
    `invalidCertOrChain`. Name rules that concern the host (wildcards over public
    suffixes) are reported by the name check instead."""
    problems: list[str] = []
    for cert in path:
        problems += version_problems(cert)
        problems += key_problems(cert)
    problems += key_identifier_problems(path)
    if path:
        problems += common_name_problems(path[0])
    return problems

"""CA/Browser Forum baseline rules that are stricter than RFC 5280, checked per
certificate so that each failure has its own reason.

cryptography's WebPKI verifier already enforces several of these while building a
path; we check them again here because the verdict must say *which* rule broke
even when the verifier stops at the first problem, and because a few (RSA sizes that
are not a multiple of 8, AKI/SKI consistency, the CN rule) are not all enforced there.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PSS, PKCS1v15

from app.security.hostnames import common_name_problems

# CA/B BR 6.1.5: RSA moduli of at least 2048 bits, divisible by 8.
MIN_RSA_BITS = 2048
# RFC 5280 4.1.2.2: serial numbers are positive and at most 20 octets long.
MAX_SERIAL_OCTETS = 20
# RFC 5280 4.2.1.10, 4.2.1.11 and 4.2.1.14: "Conforming CAs MUST mark this
# extension as critical." A name constraint that is not critical is ignored by a
# client that does not process constraints, so the CA's restriction would not hold
# everywhere; refused here, on every CA certificate including the trust anchor.
MUST_BE_CRITICAL: tuple[type[x509.ExtensionType], ...] = (
    x509.NameConstraints,
    x509.PolicyConstraints,
    x509.InhibitAnyPolicy,
)
# CA/B BR 6.1.5 allows P-256, P-384 and P-521 only; anything smaller (P-192, P-224)
# is weak. Other curves are left to the verifier's algorithm allow-list.
MIN_EC_BITS = 256


def describe(cert: x509.Certificate) -> str:
    """A short label for messages: CN, else the whole subject."""
    from app.security.certstore import common_name

    return common_name(cert) or cert.subject.rfc4514_string() or "(empty subject)"


class LazyDescription:
    """`describe(cert)`, computed only when a message is formatted with it: reading a
    subject name is most of the cost of these checks when nothing is wrong."""

    __slots__ = ("_cert",)

    def __init__(self, cert: x509.Certificate) -> None:
        self._cert = cert

    def __str__(self) -> str:
        return describe(self._cert)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def key_problems(cert: x509.Certificate) -> list[str]:
    """Weak keys: RSA under 2048 bits or not a multiple of 8, DSA, P-192/P-224."""
    try:
        key = cert.public_key()
    except (ValueError, TypeError) as exc:
        return [f"'{describe(cert)}' has a public key that cannot be read ({exc})"]
    label = LazyDescription(cert)
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


ExtensionT = TypeVar("ExtensionT", bound=x509.ExtensionType)


def find_extension(cert: x509.Certificate, kind: type[ExtensionT]) -> ExtensionT | None:
    """The value of the certificate's `kind` extension, or None if it has none; a
    malformed extension raises ValueError, as reading `cert.extensions` does.

    What `Extensions.get_extension_for_class` answers, at a fraction of the cost on
    the validation path (it runs a dozen times per chain): an exact type test
    instead of an ABC isinstance per extension, and no ExtensionNotFound raised
    for the absent ones."""
    for extension in cert.extensions:
        if type(extension.value) is kind:
            return extension.value
    return None


def _ski(cert: x509.Certificate) -> bytes | None:
    ski = find_extension(cert, x509.SubjectKeyIdentifier)
    return ski.digest if ski is not None else None


def _aki(cert: x509.Certificate) -> x509.AuthorityKeyIdentifier | None:
    return find_extension(cert, x509.AuthorityKeyIdentifier)


def serial_problems(cert: x509.Certificate) -> list[str]:
    """RFC 5280 4.1.2.2 / CA/B BR 7.1: a positive serial of at most 20 octets. Not
    applied to trust anchors: several roots in the Mozilla store have serial 0, and
    an anchor is trusted for its name and key, not for its encoding."""
    serial = cert.serial_number
    if serial <= 0:
        return [f"'{describe(cert)}' has serial number {serial}; serials must be positive"]
    if (serial.bit_length() + 8) // 8 > MAX_SERIAL_OCTETS:
        return [f"'{describe(cert)}' has a serial number longer than {MAX_SERIAL_OCTETS} octets"]
    return []


def criticality_problems(cert: x509.Certificate) -> list[str]:
    # One pass over the extensions (cryptography parses them once per certificate)
    # instead of a lookup per kind that raises ExtensionNotFound when, as usual,
    # the extension is absent.
    try:
        present = {type(e.value): e for e in cert.extensions}
    except ValueError:
        return []
    problems = []
    for kind in MUST_BE_CRITICAL:
        extension = present.get(kind)
        if extension is not None and not extension.critical:
            problems.append(
                f"'{describe(cert)}' has a non-critical {extension.oid._name} extension, "
                "which RFC 5280 requires to be critical"
            )
    return problems


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        constraints = find_extension(cert, x509.BasicConstraints)
    except ValueError:
        return False
    return constraints is not None and constraints.ca


@functools.lru_cache(maxsize=256)
def _signed_by_own_key(cert: x509.Certificate) -> bool:
    """(Cached: a signature check, asked of the same trust anchors on every
    validation; the answer depends on the certificate's bytes alone, which its
    hash and equality compare.)

    Whether the signature verifies with the certificate's own key: a
    "self-signed" certificate in RFC 5280 4.2.1.1's sense ("a CA distributes its
    public key in the form of a self-signed certificate"), whatever its issuer name.
    A key cryptography cannot read (explicit curve parameters) verifies nothing."""
    try:
        key = cert.public_key()
        algorithm = cert.signature_hash_algorithm
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            padding_ = cert.signature_algorithm_parameters
            if not isinstance(padding_, PSS | PKCS1v15):
                return False
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding_, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def ca_key_usage_problems(
    path: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate] = ()
) -> list[str]:
    """RFC 5280 4.2.1.3 and CA/B BR 7.1.2.10.7: a CA certificate whose key signs
    certificates carries keyUsage. Not applied to the trust anchor, which is trusted
    for its name and key only (RFC 5280 6.1.1(d))."""
    problems = []
    for index, cert in enumerate(path[1:], start=1):
        is_anchor = cert in anchors or index == len(path) - 1
        if is_anchor or not _is_ca(cert):
            continue
        try:
            key_usage = find_extension(cert, x509.KeyUsage)
        except ValueError:
            continue  # reported as a malformed extension
        if key_usage is None:
            problems.append(
                f"CA certificate '{describe(cert)}' has no keyUsage extension (RFC 5280 4.2.1.3)"
            )
    return problems


def key_identifier_problems(
    path: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate] = ()
) -> list[str]:
    """RFC 5280 4.2.1.1/4.2.1.2 and CA/B BR 7.1.2: every certificate that is not
    self-signed carries an authorityKeyIdentifier with a keyIdentifier (a trust
    anchor issued by another CA too), every CA certificate below the trust anchor a
    subjectKeyIdentifier; a child's AKI keyIdentifier equals its issuer's SKI when
    both are present; a self-signed root's AKI, if present, carries a keyIdentifier
    equal to its own SKI and no issuer/serial fields.

    RFC 5280 4.2.1.2: the SKI "MUST appear in all conforming CA certificates", the
    trust anchor included (a path to an anchor without one is refused; the key
    identifier is how a child names its issuer key)."""
    problems: list[str] = []
    for index, cert in enumerate(path):
        if _is_ca(cert) and _ski(cert) is None:
            problems.append(
                f"CA certificate '{describe(cert)}' has no subjectKeyIdentifier (RFC 5280 4.2.1.2)"
            )
        try:
            aki = _aki(cert)
        except ValueError as exc:
            problems.append(f"'{describe(cert)}' has a malformed authorityKeyIdentifier ({exc})")
            continue
        self_signed = index == len(path) - 1 and _signed_by_own_key(cert)
        if aki is None or aki.key_identifier is None:
            if not self_signed:
                problems.append(
                    f"'{describe(cert)}' has no authorityKeyIdentifier keyIdentifier, which "
                    "every certificate not self-signed must carry (RFC 5280 4.2.1.1)"
                )
            if aki is None:
                continue
        if self_signed and cert.issuer == cert.subject:
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


def _dns_within(name: str, subtree: str) -> bool:
    """RFC 5280 4.2.1.10: a DNS name is within a subtree when it equals it or ends
    with '.' + subtree (a leading '.' in the constraint means subdomains only)."""
    name, subtree = name.lower().rstrip("."), subtree.lower().rstrip(".")
    if subtree.startswith("."):
        return name.endswith(subtree)
    return name == subtree or name.endswith("." + subtree)


def wildcard_constraint_problems(path: Sequence[x509.Certificate]) -> list[str]:
    """A wildcard SAN must stay inside the DNS name constraints of every CA above the
    leaf for *every* name it can match, not only for the host asked for (RFC 5280
    4.2.1.10; the CVE-2025-61727 pattern: '*.example.com' under a CA permitted only
    'foo.example.com'). Some cryptography releases check the host alone, so the rule
    is ours: '*.base' is inside a permitted subtree only if 'base' is, and breaks an
    excluded subtree that 'base' lies in or that lies one label below 'base'."""
    if not path:
        return []
    try:
        san = find_extension(path[0], x509.SubjectAlternativeName)
    except ValueError:
        return []
    if san is None:
        return []
    wildcards = [d for d in san.get_values_for_type(x509.DNSName) if d.startswith("*.")]
    if not wildcards:  # the usual case: nothing to look up in the CAs
        return []
    problems: list[str] = []
    for ca in path[1:]:
        try:
            constraints = find_extension(ca, x509.NameConstraints)
        except ValueError:
            continue
        if constraints is None:
            continue
        permitted = [
            str(n.value)
            for n in constraints.permitted_subtrees or []
            if isinstance(n, x509.DNSName)
        ]
        excluded = [
            str(n.value) for n in constraints.excluded_subtrees or [] if isinstance(n, x509.DNSName)
        ]
        for pattern in wildcards:
            base = pattern[2:]
            if permitted and not any(_dns_within(base, p) for p in permitted):
                problems.append(
                    f"'{describe(path[0])}' has the wildcard SAN '{pattern}', which also matches "
                    f"names outside those '{describe(ca)}' is permitted to vouch for "
                    f"({', '.join(permitted)}; RFC 5280 4.2.1.10)"
                )
            for subtree in excluded:
                one_below = subtree.lower().endswith("." + base.lower()) and (
                    subtree.lower()[: -len(base) - 1].count(".") == 0
                )
                if _dns_within(base, subtree) or one_below:
                    problems.append(
                        f"'{describe(path[0])}' has the wildcard SAN '{pattern}', which can match "
                        f"'{subtree}', excluded by '{describe(ca)}' (RFC 5280 4.2.1.10)"
                    )
    return problems


@functools.lru_cache(maxsize=256)
def _own_problems(anchor: x509.Certificate) -> tuple[str, ...]:
    """A trust anchor's version, key and criticality problems. Cached: every
    validation against the same trust store asks them of the same anchors, and the
    answer depends on the certificate's bytes alone (its hash and equality)."""
    return (*version_problems(anchor), *key_problems(anchor), *criticality_problems(anchor))


def certificate_problems(
    path: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate] = ()
) -> list[str]:
    """Every baseline-rule violation on the path (leaf first), as reasons for
    `invalidCertOrChain`. `anchors` are the trusted certificates: rules about how a
    certificate was issued (serial numbers) are not applied to them. Name rules that
    concern the host (wildcards over public suffixes) are reported by the name check
    instead."""
    problems: list[str] = []
    for index, cert in enumerate(path):
        if anchors and cert in anchors:
            problems += _own_problems(cert)
            continue
        problems += version_problems(cert)
        problems += key_problems(cert)
        problems += criticality_problems(cert)
        # Without `anchors`, the top of a longer path is taken to be the anchor.
        is_anchor = not anchors and index > 0 and index == len(path) - 1
        if not is_anchor:
            problems += serial_problems(cert)
    problems += key_identifier_problems(path, anchors)
    problems += ca_key_usage_problems(path, anchors)
    if path:
        problems += common_name_problems(path[0])
    return problems

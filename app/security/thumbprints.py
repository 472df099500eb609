"""Certificate thumbprints and pins.

SHA-256 is what pins use; SHA-1 is what Windows calls "Thumbprint" in its
certificate dialogs, so both are shown and both may be pinned. Comparison ignores
case, colons and spaces, because people copy them from many tools.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.security.errors import PolicyError

if TYPE_CHECKING:
    from cryptography import x509

# cryptography is imported where a certificate object is at hand (the caller has
# loaded it already), not here: the window imports this module (pins, the TOFU
# question) and must come up without the X.509 stack (docs/benchmarks.md).

PIN_PREFIX_SHA256 = "SHA256:"
PIN_PREFIX_SHA1 = "SHA1:"
_SEPARATORS = re.compile(r"[\s:]")


def sha256_thumbprint(cert: x509.Certificate) -> str:
    """Lower-case hex SHA-256 of the DER certificate (as `openssl x509 -fingerprint
    -sha256`, without colons)."""
    from cryptography.hazmat.primitives import hashes

    return cert.fingerprint(hashes.SHA256()).hex()


def sha1_thumbprint(cert: x509.Certificate) -> str:
    """Upper-case hex SHA-1 of the DER certificate, as Windows shows the thumbprint."""
    from cryptography.hazmat.primitives import hashes

    return cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - a name, not a check


def colon_hex(hex_digest: str) -> str:
    """`AB:CD:...` upper case, as `openssl x509 -fingerprint` prints it."""
    upper = hex_digest.upper()
    return ":".join(upper[i : i + 2] for i in range(0, len(upper), 2))


def sha256_pin(cert: x509.Certificate) -> str:
    """The pin text given out of band (and put in the QR code): `SHA256:<hex>`."""
    return PIN_PREFIX_SHA256 + sha256_thumbprint(cert)


def der_sha256(der: bytes) -> str:
    """SHA-256 hex of DER bytes that may not even parse as a certificate."""
    return hashlib.sha256(der).hexdigest()


def der_sha1(der: bytes) -> str:
    # Windows' thumbprint, a name, not a check.
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


@dataclass(frozen=True)
class Pin:
    """One pinned certificate: the algorithm and the raw digest bytes."""

    algorithm: str  # "sha256" or "sha1"
    digest: bytes

    def matches_der(self, der: bytes) -> bool:
        actual = der_sha256(der) if self.algorithm == "sha256" else der_sha1(der)
        return hmac.compare_digest(bytes.fromhex(actual), self.digest)

    def __str__(self) -> str:
        prefix = PIN_PREFIX_SHA256 if self.algorithm == "sha256" else PIN_PREFIX_SHA1
        return prefix + self.digest.hex()


def parse_pin(text: str) -> Pin:
    """Parse `SHA256:<hex or base64>`, `SHA1:<hex>`, or a bare 40/64-digit hex
    thumbprint (with or without colons, any case).

    Raises `PolicyError` naming the expected forms; the pin is not secret, but is
    still not echoed in full (it may be very long garbage)."""
    raw = text.strip()
    upper = raw.upper()
    algorithm: str | None = None
    body = raw
    for prefix, name in (
        (PIN_PREFIX_SHA256, "sha256"),
        ("SHA-256:", "sha256"),
        (PIN_PREFIX_SHA1, "sha1"),
        ("SHA-1:", "sha1"),
    ):
        if upper.startswith(prefix):
            algorithm, body = name, raw[len(prefix) :]
            break
    compact = _SEPARATORS.sub("", body)
    digest: bytes | None = None
    if re.fullmatch(r"[0-9a-fA-F]+", compact) and len(compact) in (40, 64):
        digest = bytes.fromhex(compact)
    elif algorithm == "sha256":
        try:
            padded = body.strip() + "=" * (-len(body.strip()) % 4)
            digest = base64.b64decode(
                padded, altchars=b"-_" if "-" in body or "_" in body else None, validate=True
            )
        except (binascii.Error, ValueError):
            digest = None
    expected = {"sha256": 32, "sha1": 20}
    if digest is not None:
        if algorithm is None:
            algorithm = "sha256" if len(digest) == 32 else "sha1"
        if len(digest) == expected[algorithm]:
            return Pin(algorithm, digest)
    raise PolicyError(
        "the pin is not a SHA-256 or SHA-1 thumbprint",
        fix="give it as SHA256:<64 hex digits or base64> or as the 40-digit SHA-1 "
        "thumbprint Windows shows (colons and case do not matter)",
    )


def public_key_der(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

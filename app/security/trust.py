"""Where trust comes from: the operating system's store, or a CA file the user
names. The verdict's `trustedRoot` reason says which one was used.

The OS store is read per OS in `os_trust` (never certifi), so "trusted" means what
the machine trusts.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from app.security.certstore import read_bounded_file
from app.security.errors import TrustSourceError

_PEM_CERT = re.compile(
    rb"-----BEGIN (?:TRUSTED )?CERTIFICATE-----.*?-----END (?:TRUSTED )?CERTIFICATE-----",
    re.DOTALL,
)


@dataclass(frozen=True)
class TrustAnchors:
    """The trusted roots for one validation, and a sentence naming their source."""

    certificates: tuple[x509.Certificate, ...]
    description: str
    # Certificates the OS keeps for path building only (the Windows CA store): they
    # may complete a chain the server sent short, but are never anchors themselves.
    intermediates: tuple[x509.Certificate, ...] = ()

    def __post_init__(self) -> None:
        if not self.certificates:
            raise TrustSourceError(
                self.description,
                "holds no CA certificate",
                fix="name a PEM file with the CA certificate (--ca-file)",
            )


def parse_pem_bundle(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle; blocks that do not parse are skipped (OS
    bundles sometimes carry certificates an older parser rejects)."""
    found = []
    with warnings.catch_warnings():
        # Some OS bundles still carry old roots with non-positive serials; they are
        # the OS's choice to trust, not something the user can act on.
        warnings.simplefilter("ignore")
        for block in _PEM_CERT.findall(data):
            try:
                found.append(x509.load_pem_x509_certificate(block.replace(b"TRUSTED ", b"")))
            except ValueError:
                continue
    return found


def anchors_from_certificates(
    certificates: Sequence[x509.Certificate], description: str
) -> TrustAnchors:
    return TrustAnchors(tuple(certificates), description)


def anchors_from_file(path: str | os.PathLike[str]) -> TrustAnchors:
    """A user-named CA file: PEM (one or more certificates), DER, or a store."""
    from app.security.certstore import load_certificate_store

    data = read_bounded_file(path, what="CA file")
    source = str(path)
    certs = parse_pem_bundle(data) if b"-----BEGIN" in data else []
    if not certs:
        certs = list(load_certificate_store(data, None, source=source).certificates)
    return TrustAnchors(tuple(certs), f"CA file {source} ({len(certs)} certificate(s))")


def system_anchors(platform: str | None = None) -> TrustAnchors:
    """The operating system's trust store (`os_trust`: the distribution's bundle or
    SSL_CERT_FILE / SSL_CERT_DIR, the Windows ROOT and CA stores, the macOS system
    keychains)."""
    from app.security.os_trust import platform_store

    roots, intermediates, description = platform_store(platform)
    return TrustAnchors(roots, description, intermediates)

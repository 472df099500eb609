"""Where trust comes from: the operating system's CA bundle, or a CA file the user
names. The verdict's `trustedRoot` reason says which one was used.

The system bundle is found through `ssl.get_default_verify_paths()` (the same file
OpenSSL and Python's `ssl` use), not through certifi, so "trusted" means what the
machine trusts.
"""

from __future__ import annotations

import os
import re
import ssl
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from app.security.certstore import read_bounded_file
from app.security.errors import TrustSourceError

# System bundles are ~150 certificates (~220 KiB); a hashed directory can hold more.
# The cap keeps a stray directory of thousands of files from stalling validation.
MAX_SYSTEM_BUNDLE_BYTES = 8 * 1024 * 1024
MAX_DIRECTORY_FILES = 4096

_PEM_CERT = re.compile(
    rb"-----BEGIN (?:TRUSTED )?CERTIFICATE-----.*?-----END (?:TRUSTED )?CERTIFICATE-----",
    re.DOTALL,
)


@dataclass(frozen=True)
class TrustAnchors:
    """The trusted roots for one validation, and a sentence naming their source."""

    certificates: tuple[x509.Certificate, ...]
    description: str

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


def system_anchors() -> TrustAnchors:
    """The operating system's CA bundle (file, else hashed directory)."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            file = Path(candidate)
            if file.stat().st_size > MAX_SYSTEM_BUNDLE_BYTES:
                continue
            certs = parse_pem_bundle(file.read_bytes())
            if certs:
                return TrustAnchors(
                    tuple(certs), f"system CA bundle {file} ({len(certs)} certificates)"
                )
    for candidate in (paths.capath, paths.openssl_capath):
        if candidate and Path(candidate).is_dir():
            certs = []
            for index, entry in enumerate(sorted(Path(candidate).iterdir())):
                if index >= MAX_DIRECTORY_FILES:
                    break
                if entry.is_file() and entry.stat().st_size < 64 * 1024:
                    certs += parse_pem_bundle(entry.read_bytes())
            if certs:
                return TrustAnchors(
                    tuple(certs), f"system CA directory {candidate} ({len(certs)} certificates)"
                )
    raise TrustSourceError(
        "system CA store",
        "no CA bundle was found where OpenSSL looks for it "
        f"({paths.openssl_cafile}, {paths.openssl_capath})",
        fix="install the ca-certificates package, or name a CA file (--ca-file)",
    )

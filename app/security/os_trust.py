"""The operating system's trust store, one small function per OS, each around one
platform call that tests replace with certificates they made:

- Linux and the BSDs: the distribution's PEM bundle, or `SSL_CERT_FILE` /
  `SSL_CERT_DIR` when set (OpenSSL's own variables, so "trusted" means what
  OpenSSL on this machine trusts), else the paths `ssl.get_default_verify_paths()`
  names (file first, then hashed directory).
- Windows: `ssl.enum_certificates` over the ROOT store (anchors) and the CA store
  (intermediates the system keeps, used for path building only, never as
  anchors). Only X.509 ASN encodings are read, and a certificate counts only when
  its trust says "all purposes" or lists serverAuth; one the administrator
  restricted to other purposes is left out. A lab's private root imported into
  "Trusted Root Certification Authorities" is therefore trusted.
- macOS: the system keychains through `security find-certificate -a -p` (PEM out).

Each failure names the remedy of that OS.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from app.security.errors import TrustSourceError

# System bundles are ~150 certificates (~220 KiB); a hashed directory can hold more.
# The caps keep a stray directory of thousands of files from stalling validation.
MAX_SYSTEM_BUNDLE_BYTES = 8 * 1024 * 1024
MAX_DIRECTORY_FILES = 4096
MAX_DIRECTORY_FILE_BYTES = 64 * 1024
# `security` answers in well under a second; a hung keychain must not hang us.
SECURITY_TIMEOUT_SECONDS = 20.0
MACOS_KEYCHAINS = (
    "/System/Library/Keychains/SystemRootCertificates.keychain",
    "/Library/Keychains/System.keychain",
)
_SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH.dotted_string

Certificates = tuple[x509.Certificate, ...]


def _pem_certificates(data: bytes) -> list[x509.Certificate]:
    from app.security.trust import parse_pem_bundle

    return parse_pem_bundle(data)


def _der_certificate(data: bytes) -> x509.Certificate | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # old roots with serial 0: the OS's choice
        try:
            return x509.load_der_x509_certificate(data)
        except ValueError:
            return None


# --- Linux and BSD ------------------------------------------------------------------


def unix_store(
    environ: os._Environ[str] | dict[str, str] | None = None,
    paths: ssl.DefaultVerifyPaths | None = None,
) -> tuple[Certificates, str]:
    """(roots, where they came from). `SSL_CERT_FILE`, then `SSL_CERT_DIR`, then the
    OpenSSL defaults; a variable that is set but names nothing usable is an error
    (the user asked for it), not silently skipped."""
    env = os.environ if environ is None else environ
    found = ssl.get_default_verify_paths() if paths is None else paths
    if env.get("SSL_CERT_FILE"):
        file = Path(env["SSL_CERT_FILE"])
        certs = _bundle(file)
        if not certs:
            raise TrustSourceError(
                f"SSL_CERT_FILE={file}",
                "names no readable PEM bundle of CA certificates",
                fix="point SSL_CERT_FILE at a PEM bundle, or unset it",
            )
        return certs, f"CA bundle {file} (SSL_CERT_FILE)"
    if env.get("SSL_CERT_DIR"):
        for directory in env["SSL_CERT_DIR"].split(os.pathsep):
            certs = _directory(Path(directory))
            if certs:
                return certs, f"CA directory {directory} (SSL_CERT_DIR)"
        raise TrustSourceError(
            f"SSL_CERT_DIR={env['SSL_CERT_DIR']}",
            "holds no PEM CA certificates",
            fix="point SSL_CERT_DIR at a directory of PEM certificates, or unset it",
        )
    for candidate in (found.cafile, found.openssl_cafile):
        if candidate:
            certs = _bundle(Path(candidate))
            if certs:
                return certs, f"system CA bundle {candidate}"
    for candidate in (found.capath, found.openssl_capath):
        if candidate:
            certs = _directory(Path(candidate))
            if certs:
                return certs, f"system CA directory {candidate}"
    raise TrustSourceError(
        "system CA store",
        "no CA bundle was found where OpenSSL looks for it "
        f"({found.openssl_cafile}, {found.openssl_capath})",
        fix="install the distribution's CA certificates (Debian/Ubuntu: sudo apt-get "
        "install ca-certificates; Fedora: sudo dnf install ca-certificates), set "
        "SSL_CERT_FILE to a PEM bundle, or name a CA file",
    )


def _bundle(file: Path) -> Certificates:
    try:
        if not file.is_file() or file.stat().st_size > MAX_SYSTEM_BUNDLE_BYTES:
            return ()
        return tuple(_pem_certificates(file.read_bytes()))
    except OSError:
        return ()


def _directory(directory: Path) -> Certificates:
    certs: list[x509.Certificate] = []
    try:
        if not directory.is_dir():
            return ()
        for index, entry in enumerate(sorted(directory.iterdir())):
            if index >= MAX_DIRECTORY_FILES:
                break
            if entry.is_file() and entry.stat().st_size < MAX_DIRECTORY_FILE_BYTES:
                certs += _pem_certificates(entry.read_bytes())
    except OSError:
        return tuple(certs)
    return tuple(certs)


# --- Windows --------------------------------------------------------------------------

# ssl.enum_certificates(store) -> [(bytes, encoding, trust)], Windows only.
EnumCertificates = Callable[[str], list[tuple[bytes, str, Any]]]


def _trusted_for_servers(trust: object) -> bool:
    """`True` means all purposes; a set of OIDs must name serverAuth."""
    if trust is True:
        return True
    return isinstance(trust, set | frozenset) and _SERVER_AUTH in trust


def windows_store(
    enum_certificates: EnumCertificates | None = None,
) -> tuple[Certificates, Certificates, str]:
    """(roots, intermediates, description) from the ROOT and CA system stores."""
    enum = enum_certificates or getattr(ssl, "enum_certificates", None)
    if enum is None:
        raise TrustSourceError(
            "Windows certificate store", "cannot be read by this Python (no ssl.enum_certificates)"
        )

    def read(store: str) -> Certificates:
        try:
            entries = enum(store)
        except (OSError, PermissionError) as exc:
            raise TrustSourceError(
                f"Windows certificate store {store}",
                f"cannot be read ({exc})",
                fix="run as a user who may read the machine's certificate stores, "
                "or name a CA file",
            ) from None
        certs = []
        for data, encoding, trust in entries:
            if encoding != "x509_asn" or not _trusted_for_servers(trust):
                continue
            cert = _der_certificate(data)
            if cert is not None:
                certs.append(cert)
        return tuple(certs)

    roots, intermediates = read("ROOT"), read("CA")
    if not roots:
        raise TrustSourceError(
            "Windows certificate store",
            "holds no root trusted for server authentication",
            fix="import your CA into 'Trusted Root Certification Authorities' (certlm.msc, "
            "or: certutil -addstore Root ca.cer), or name a CA file",
        )
    description = (
        f"Windows certificate store (ROOT: {len(roots)}, CA: {len(intermediates)} certificates)"
    )
    return roots, intermediates, description


# --- macOS ------------------------------------------------------------------------------

SecurityCommand = Callable[[Sequence[str]], bytes]


def _run_security(args: Sequence[str]) -> bytes:
    completed = subprocess.run(
        ["/usr/bin/security", *args],
        capture_output=True,
        timeout=SECURITY_TIMEOUT_SECONDS,
        check=True,
    )
    return completed.stdout


def macos_store(security: SecurityCommand | None = None) -> tuple[Certificates, str]:
    """The system keychains' certificates, as `security find-certificate -a -p` prints
    them (PEM)."""
    run = security or _run_security
    certs: list[x509.Certificate] = []
    problems = []
    for keychain in MACOS_KEYCHAINS:
        try:
            certs += _pem_certificates(run(["find-certificate", "-a", "-p", keychain]))
        except (OSError, subprocess.SubprocessError) as exc:
            problems.append(f"{keychain}: {exc}")
    if not certs:
        detail = f" ({'; '.join(problems)})" if problems else ""
        raise TrustSourceError(
            "macOS system keychains",
            f"gave no CA certificates{detail}",
            fix="add your CA to the System keychain and trust it (Keychain Access, or: sudo "
            "security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain "
            "ca.pem), or name a CA file",
        )
    return tuple(certs), f"macOS system keychains ({len(certs)} certificates)"


def platform_store(platform: str | None = None) -> tuple[Certificates, Certificates, str]:
    """(anchors, intermediates, description) for this OS."""
    name = platform or sys.platform
    if name == "win32":
        return windows_store()
    if name == "darwin":
        roots, description = macos_store()
        return roots, (), description
    roots, description = unix_store()
    return roots, (), f"{description} ({len(roots)} certificates)"

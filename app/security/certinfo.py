"""Every field a person checks in a certificate, as plain values for the CLI
(`holoremote inspect`) and the window: one function, so both show the same thing."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from app.security.certstore import CertificateStore, StoreEntry
from app.security.thumbprints import colon_hex, sha1_thumbprint, sha256_thumbprint

_KEY_USAGE_FLAGS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def key_description(cert: x509.Certificate) -> tuple[str, int | None]:
    try:
        key = cert.public_key()
    except (ValueError, TypeError):
        return "unreadable", None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return type(key).__name__, None


def _extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> Any:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except ValueError as exc:
        return f"malformed ({exc})"


def _oid_name(oid: x509.ObjectIdentifier) -> str:
    name = getattr(oid, "_name", None)
    return name if name and name != "Unknown OID" else oid.dotted_string


def describe_certificate(
    cert: x509.Certificate, friendly_name: str | None = None
) -> dict[str, Any]:
    key_type, key_size = key_description(cert)
    san = _extension(cert, x509.SubjectAlternativeName)
    ku = _extension(cert, x509.KeyUsage)
    eku = _extension(cert, x509.ExtendedKeyUsage)
    bc = _extension(cert, x509.BasicConstraints)
    usages: list[str] | str | None = None
    if isinstance(ku, x509.KeyUsage):
        usages = [flag for flag in _KEY_USAGE_FLAGS if getattr(ku, flag)]
        if ku.key_agreement:
            usages += [f for f in ("encipher_only", "decipher_only") if getattr(ku, f)]
    elif isinstance(ku, str):
        usages = ku
    signature = cert.signature_algorithm_oid
    return {
        "friendlyName": friendly_name,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "X"),
        "version": cert.version.name,
        "notBefore": cert.not_valid_before_utc.isoformat(),
        "notAfter": cert.not_valid_after_utc.isoformat(),
        "dnsNames": [str(v) for v in san.get_values_for_type(x509.DNSName)]
        if isinstance(san, x509.SubjectAlternativeName)
        else [],
        "ipAddresses": [str(v) for v in san.get_values_for_type(x509.IPAddress)]
        if isinstance(san, x509.SubjectAlternativeName)
        else [],
        "keyUsage": usages,
        "extendedKeyUsage": [_oid_name(o) for o in eku]
        if isinstance(eku, x509.ExtendedKeyUsage)
        else eku,
        "basicConstraints": {"ca": bc.ca, "pathLength": bc.path_length}
        if isinstance(bc, x509.BasicConstraints)
        else bc,
        "keyType": key_type,
        "keySize": key_size,
        "signatureAlgorithm": _oid_name(signature),
        "sha256": colon_hex(sha256_thumbprint(cert)),
        "sha1": sha1_thumbprint(cert),
    }


def describe_entry(entry: StoreEntry) -> dict[str, Any]:
    info = describe_certificate(entry.certificate, entry.friendly_name)
    info["hasPrivateKey"] = entry.private_key is not None
    return info


def describe_store(store: CertificateStore) -> dict[str, Any]:
    return {
        "source": store.source,
        "format": store.format,
        "certificates": [describe_entry(e) for e in store.entries],
        "warnings": list(store.warnings),
    }

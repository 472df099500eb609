"""Certificates as the window shows them: labelled text for the server panel, the
inspector and Tools > Verify, computed by `app.security`. Functions here block
(files, parsing); callers run them with `ui.jobs.run_blocking`. Heavy `app` modules
are imported inside the functions, so opening the window stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ui.field_values import ServerSettings
from ui.session_opening import in_field_terms

if TYPE_CHECKING:
    from cryptography import x509

    from app.xr.validation_result import ValidationResult


@dataclass(frozen=True)
class CertificateInfo:
    """One certificate as the inspector shows it: a title and labelled fields."""

    title: str
    subject: str
    fields: tuple[tuple[str, str], ...]
    sha256: str
    sha1: str
    pin: str
    has_private_key: bool = False
    pem: str = ""
    der: bytes = field(default=b"", repr=False)
    expiry: str = ""  # "expires in N days", "expired N days ago"
    expiry_severity: str = ""  # "ok", "warning" (under 30 days) or "error" (expired)


@dataclass(frozen=True)
class StoreSummary:
    """What the server panel needs from a loaded store (no key material)."""

    source: str
    format: str
    names: tuple[str, ...]
    certificates: tuple[CertificateInfo, ...]
    warnings: tuple[str, ...]


def _read_inputs(store_path: str, key_path: str) -> bytes:
    from app.security.certstore import read_bounded_file

    data = read_bounded_file(store_path, what="certificate store")
    if key_path:
        # A PEM pair: the loader matches keys to certificates inside one PEM text.
        key = read_bounded_file(key_path, what="private key file")
        data = data.rstrip(b"\n") + b"\n" + key
    return data


def load_store(store_path: str, passphrase: str, key_path: str = "") -> StoreSummary:
    """Open a .pfx/.p12, PEM or DER store (or a PEM certificate + key pair). Blocking."""
    from app.security.certstore import load_certificate_store

    data = _read_inputs(store_path, key_path)
    store = load_certificate_store(data, passphrase or None, source=store_path)
    infos = tuple(
        describe_certificate(entry.certificate, index, entry.friendly_name, entry.private_key)
        for index, entry in enumerate(store.entries)
    )
    return StoreSummary(
        source=store.source,
        format=store.format,
        names=tuple(store.names()),
        certificates=infos,
        warnings=tuple(store.warnings),
    )


def inspect_file(path: str, passphrase: str = "") -> StoreSummary:
    """Tools > Inspect certificate file. Blocking."""
    return load_store(path, passphrase)


# Labels for the security module's certificate listing (app.security.certinfo), in
# the order the inspector shows them.
_FIELD_LABELS = (
    ("friendlyName", "Friendly name"),
    ("subject", "Subject"),
    ("issuer", "Issuer"),
    ("serial", "Serial number"),
    ("version", "Version"),
    ("notBefore", "Not before"),
    ("notAfter", "Not after"),
    ("dnsNames", "DNS names (SAN)"),
    ("ipAddresses", "IP addresses (SAN)"),
    ("keyUsage", "Key usage"),
    ("extendedKeyUsage", "Extended key usage"),
    ("basicConstraints", "Basic constraints"),
    ("keyType", "Key type"),
    ("keySize", "Key size (bits)"),
    ("signatureAlgorithm", "Signature algorithm"),
    ("sha256", "SHA-256 thumbprint"),
    ("sha1", "SHA-1 thumbprint (Windows)"),
    ("hasPrivateKey", "Private key"),
)


def _display(key: str, value: object) -> str:
    if value is None:
        return "(absent)"
    if isinstance(value, bool):
        return ("present" if value else "absent") if key == "hasPrivateKey" else str(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "(none)"
    if isinstance(value, dict) and key == "basicConstraints":
        text = "CA" if value.get("ca") else "not a CA"
        if value.get("pathLength") is not None:
            text += f", path length {value['pathLength']}"
        return text
    return str(value)


def describe_certificate(
    cert: x509.Certificate,
    index: int = 0,
    friendly_name: str | None = None,
    private_key: object | None = None,
) -> CertificateInfo:
    """Every field the security module lists for a certificate, as labelled text."""
    from cryptography.x509.oid import NameOID

    from app.security import cert_extensions as extensions
    from app.security import certinfo
    from app.security import thumbprints as thumbs

    info = certinfo.describe_certificate(cert, friendly_name)
    if private_key is not None:
        info["hasPrivateKey"] = True
    rows = tuple(
        (label, _display(key, info[key]))
        for key, label in _FIELD_LABELS
        if key in info and not (key == "friendlyName" and not info[key])
    )
    sha256 = thumbs.sha256_thumbprint(cert)
    role = "leaf" if index == 0 else f"issuer {index}"
    subject = str(info.get("subject") or "(empty subject)")
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    label = friendly_name or (str(common[0].value) if common else subject)
    import datetime as dt

    days = extensions.days_left(cert, dt.datetime.now(dt.UTC))
    rows = rows + extensions.describe_extensions(cert)
    return CertificateInfo(
        title=f"{role}: {label}",
        subject=subject,
        fields=rows,
        sha256=sha256,
        sha1=str(info.get("sha1") or thumbs.sha1_thumbprint(cert)),
        pin=thumbs.sha256_pin(cert),
        has_private_key=private_key is not None,
        pem=extensions.to_pem(cert),
        der=extensions.to_der(cert),
        expiry=extensions.expiry_text(days),
        expiry_severity=extensions.expiry_severity(days),
    )


def describe_chain(chain: Sequence[bytes]) -> tuple[CertificateInfo, ...]:
    """The DER chain a ValidateServerCertificate call received, leaf first. A
    certificate that does not parse is shown as such (it is what arrived)."""
    from cryptography import x509

    from app.security import thumbprints as thumbs

    infos = []
    for index, der in enumerate(chain):
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            sha256 = thumbs.der_sha256(der)
            infos.append(
                CertificateInfo(
                    title=f"certificate {index}: unparseable",
                    subject="(unparseable)",
                    fields=(("Problem", f"not a valid DER certificate: {exc}"),),
                    sha256=sha256,
                    sha1=thumbs.der_sha1(der),
                    pin=thumbs.PIN_PREFIX_SHA256 + sha256,
                    der=der,
                )
            )
            continue
        infos.append(describe_certificate(cert, index))
    return tuple(infos)


def validate_chain_file(
    chain_path: str, host: str, ca_file: str = "", passphrase: str = ""
) -> tuple[tuple[CertificateInfo, ...], ValidationResult]:
    """Tools > Verify a chain for a host: the chain (leaf first) and the verdict a
    client with the default policy would reach (`holoremote verify`'s core). Blocking."""
    import datetime as dt

    from app.security.chain_file import verify_chain_file

    check = verify_chain_file(
        chain_path,
        host,
        ca_file=ca_file or None,
        passphrase=passphrase or None,
        at=dt.datetime.now(dt.UTC),
    )
    return describe_chain(check.chain_der), check.validation.result


def served_certificate(server: ServerSettings) -> CertificateInfo:
    """The certificate a listener with these fields serves (the store's entry the
    subject name selects, as the server's own provider chooses it). Blocking."""
    from app.security.certstore import load_certificate_store, select_server_certificate

    data = _read_inputs(server.store_path, server.key_path)
    with in_field_terms():
        store = load_certificate_store(data, server.passphrase or None, source=server.store_path)
        entry = select_server_certificate(store, server.subject_name or "")
    return describe_certificate(entry.certificate, 0, entry.friendly_name, entry.private_key)


def chain_pem(infos: Sequence[CertificateInfo]) -> str:
    """The chain (as shown, leaf first) as one PEM text."""
    return "".join(info.pem for info in infos if info.pem)


def write_export(path: str, data: bytes) -> None:
    """Write an exported certificate or chain. Blocking."""
    from pathlib import Path

    Path(path).write_bytes(data)

"""The extensions a person checks when a chain does not build or a revocation check
fails (as browsers' certificate viewers, XCA and KeyStore Explorer list them), the
time left before expiry, and the PEM / DER forms for export.

Plain values only: the inspector and any other face show them as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID

from app.security.thumbprints import colon_hex

# Days before expiry from which a certificate is shown as expiring soon (a month: the
# usual renewal window of ACME clients and of CA reminder mails).
EXPIRY_WARNING_DAYS = 30


def _names(names: Sequence[x509.GeneralName]) -> str:
    return ", ".join(str(getattr(n, "value", n)) for n in names) or "(none)"


def describe_extensions(cert: x509.Certificate) -> tuple[tuple[str, str], ...]:
    """(label, value) for AKI, SKI, AIA, CRL distribution points and certificate
    policies, in that order; absent ones are left out, unparseable ones say so."""
    rows: list[tuple[str, str]] = []
    for oid, label in (
        (ExtensionOID.AUTHORITY_KEY_IDENTIFIER, "Authority key identifier (AKI)"),
        (ExtensionOID.SUBJECT_KEY_IDENTIFIER, "Subject key identifier (SKI)"),
        (ExtensionOID.AUTHORITY_INFORMATION_ACCESS, "Authority information access (AIA)"),
        (ExtensionOID.CRL_DISTRIBUTION_POINTS, "CRL distribution points"),
        (ExtensionOID.CERTIFICATE_POLICIES, "Certificate policies"),
    ):
        try:
            extension = cert.extensions.get_extension_for_oid(oid)
        except x509.ExtensionNotFound:
            continue
        except ValueError as exc:  # a malformed extension: show that, not nothing
            rows.append((label, f"(unreadable: {exc})"))
            continue
        critical = " (critical)" if extension.critical else ""
        rows.append((label, _value(extension.value) + critical))
    return tuple(rows)


def _value(value: x509.ExtensionType) -> str:
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return colon_hex(value.key_identifier.hex()) if value.key_identifier else "(no key id)"
    if isinstance(value, x509.SubjectKeyIdentifier):
        return colon_hex(value.digest.hex())
    if isinstance(value, x509.AuthorityInformationAccess):
        parts = []
        for description in value:
            method = description.access_method
            kind = (
                "OCSP"
                if method == AuthorityInformationAccessOID.OCSP
                else "CA issuers"
                if method == AuthorityInformationAccessOID.CA_ISSUERS
                else method.dotted_string
            )
            parts.append(f"{kind}: {description.access_location.value}")
        return "; ".join(parts) or "(empty)"
    if isinstance(value, x509.CRLDistributionPoints):
        points = [_names(p.full_name) for p in value if p.full_name]
        return "; ".join(points) or "(no full names)"
    if isinstance(value, x509.CertificatePolicies):
        return ", ".join(p.policy_identifier.dotted_string for p in value) or "(none)"
    return str(value)


def days_left(cert: x509.Certificate, now: dt.datetime) -> int:
    """Whole days until notAfter (negative once expired): the floor of the
    difference, so "expires in 0 days" means today."""
    remaining = cert.not_valid_after_utc - now
    return remaining.days


def expiry_text(days: int) -> str:
    if days < 0:
        return f"expired {-days} day{'s' if -days != 1 else ''} ago"
    if days == 0:
        return "expires today"
    return f"expires in {days} day{'s' if days != 1 else ''}"


def expiry_severity(days: int) -> str:
    """ "error" once expired, "warning" under `EXPIRY_WARNING_DAYS`, else "ok"."""
    if days < 0:
        return "error"
    return "warning" if days < EXPIRY_WARNING_DAYS else "ok"


def to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(Encoding.PEM).decode("ascii")


def to_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def chain_pem(ders: Sequence[bytes]) -> str:
    """The chain, leaf first, as one PEM text (what servers and `--ca-file` read)."""
    return "".join(to_pem(x509.load_der_x509_certificate(der)) for der in ders)

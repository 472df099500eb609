"""Helpers for the end-to-end tests of the OpenXR path: a client certificate policy
that does not depend on the runtime's system validation (a runtime may pass none),
and the PKI and token both ends share."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509 import verification

from app.security.callback_types import CertificateValidationRequest, ServerCertificateMaterial
from app.security.testpki import GeneratedPki, create_test_pki
from app.security.verdict import ValidationResult
from app.xr.values import CertificateNameValidationResult as NameCheck


def ca_validator(ca_pem: bytes):  # type: ignore[no-untyped-def]
    """Validate the chain against one CA with cryptography's verifier: the verdict the
    app's policy would give with --ca-file, whatever the runtime passed as system result."""
    roots = x509.load_pem_x509_certificates(ca_pem)
    store = verification.Store(roots)

    def validate(request: CertificateValidationRequest) -> ValidationResult:
        certs = [x509.load_der_x509_certificate(der) for der in request.chain]
        host = request.host_name or ""
        try:
            subject: verification.Subject = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            subject = x509.DNSName(host)
        verifier = (
            verification.PolicyBuilder()
            .store(store)
            .time(dt.datetime.now(dt.UTC))
            .build_server_verifier(subject)
        )
        try:
            verifier.verify(certs[0], certs[1:])
        except verification.VerificationError:
            return ValidationResult(trusted_root=False, name_mismatch=NameCheck.NOT_CHECKED)
        return ValidationResult(trusted_root=True, name_mismatch=NameCheck.MATCH)

    return validate


@dataclass(frozen=True)
class Secrets:
    pki: GeneratedPki = field(repr=False)
    token: str = field(repr=False)

    @property
    def material(self) -> ServerCertificateMaterial:
        return ServerCertificateMaterial(
            cert_store=self.pki.pfx,
            key_passphrase=self.pki.passphrase,
            subject_name=self.pki.friendly_name,
        )


def make_secrets() -> Secrets:
    pki = create_test_pki(["localhost"], ["127.0.0.1"], intermediate=True)
    return Secrets(pki=pki, token="tok-" + secrets.token_urlsafe(24))

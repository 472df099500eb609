"""Plain values passed between the trampolines and the callback providers."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.xr.validation_result import ValidationResult


@dataclass(frozen=True)
class CertificateValidationRequest:
    """What ValidateServerCertificate receives, decoded from the C struct."""

    host_name: str | None
    force_revocation_check: bool
    chain: tuple[bytes, ...] = field(repr=False)  # DER, leaf first
    system_result: ValidationResult | None


@dataclass(frozen=True)
class ServerCertificateMaterial:
    """What RequestServerCertificate hands the runtime: a PKCS#12 store, its
    passphrase and the name that picks the certificate inside it."""

    cert_store: bytes = field(repr=False)
    key_passphrase: str = field(repr=False)
    subject_name: str


class CallbackRefusal(Exception):
    """Raised inside a callback to refuse with a clear, secret-free reason.

    The trampoline records `reason` and returns `result` (a failure XrResult).
    """

    def __init__(self, reason: str, result: int = -2) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result = result

"""Conversions between `ValidationResult` and XrRemotingCertificateValidationResultMSFT.

Reading is fail-closed: a name-validation value outside the enum counts as a
mismatch, since a runtime or callback that writes garbage has not shown a match.
"""

from __future__ import annotations

from app.xr.structs import XrRemotingCertificateValidationResultMSFT
from app.xr.validation_result import ValidationResult
from app.xr.values import XR_FALSE, XR_TRUE, StructureType
from app.xr.values import CertificateNameValidationResult as NameCheck


def _b(value: bool) -> int:
    return XR_TRUE if value else XR_FALSE


def write_verdict(
    target: XrRemotingCertificateValidationResultMSFT, verdict: ValidationResult
) -> None:
    target.type = int(StructureType.REMOTING_CERTIFICATE_VALIDATION_RESULT_MSFT)
    target.next = None
    target.trustedRoot = _b(verdict.trusted_root)
    target.revoked = _b(verdict.revoked)
    target.expired = _b(verdict.expired)
    target.wrongUsage = _b(verdict.wrong_usage)
    target.nameMismatch = int(verdict.name_mismatch)
    target.revocationCheckFailed = _b(verdict.revocation_check_failed)
    target.invalidCertOrChain = _b(verdict.invalid_cert_or_chain)


def fail_closed_verdict() -> ValidationResult:
    """What `validationResultOut` holds before a callback writes it."""
    return ValidationResult(
        trusted_root=False,
        invalid_cert_or_chain=True,
        name_mismatch=NameCheck.NOT_CHECKED,
        reasons={
            "trustedRoot": "The validation callback did not report a verdict.",
            "invalidCertOrChain": "The validation callback did not report a verdict.",
        },
    )


def read_verdict(source: XrRemotingCertificateValidationResultMSFT) -> ValidationResult:
    try:
        name = NameCheck(source.nameMismatch)
        reasons: dict[str, str] = {}
    except ValueError:
        name = NameCheck.MISMATCH
        reasons = {
            "nameMismatch": f"Invalid name-validation value {source.nameMismatch}; "
            "treated as a mismatch."
        }
    return ValidationResult(
        trusted_root=bool(source.trustedRoot),
        revoked=bool(source.revoked),
        expired=bool(source.expired),
        wrong_usage=bool(source.wrongUsage),
        name_mismatch=name,
        revocation_check_failed=bool(source.revocationCheckFailed),
        invalid_cert_or_chain=bool(source.invalidCertOrChain),
        reasons=reasons,
    )

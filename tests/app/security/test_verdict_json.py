"""A verdict read back from a callback record's JSON fails closed."""

from __future__ import annotations

from app.security.acceptance import is_acceptable
from app.xr.validation_result import ValidationResult
from app.xr.values import CertificateNameValidationResult as NameCheck


def test_round_trip_keeps_every_field_and_reason() -> None:
    verdict = ValidationResult(
        trusted_root=True,
        expired=True,
        name_mismatch=NameCheck.MATCH,
        reasons={"expired": "the leaf expired yesterday"},
        warnings=("pinned",),
    )
    back = ValidationResult.from_json(verdict.to_json())
    assert back == verdict
    assert back.reasons == verdict.reasons
    assert back.warnings == verdict.warnings


def test_missing_or_damaged_fields_read_as_failed() -> None:
    back = ValidationResult.from_json({"trustedRoot": True})
    assert not is_acceptable(back, revocation_forced=True)
    assert back.failed_fields(revocation_forced=True) == [
        "revoked",
        "expired",
        "wrongUsage",
        "nameMismatch",
        "revocationCheckFailed",
        "invalidCertOrChain",
    ]
    assert ValidationResult.from_json({"trustedRoot": "yes"}).trusted_root is False
    assert (
        ValidationResult.from_json({"nameMismatch": "MATCH-ish"}).name_mismatch
        == NameCheck.MISMATCH
    )

"""The seven-field certificate verdict as a plain value.

`ValidationResult` mirrors `XrRemotingCertificateValidationResultMSFT` as an
immutable value, with a reason per field, so that system validation, client
policies, the callbacks, the CLI and the window all speak the same thing. It lives
with the C ABI because the trampolines read and write it; the rule that decides
acceptance is `app.security.acceptance.is_acceptable`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from app.xr.values import CertificateNameValidationResult as NameCheck

FIELD_NAMES = (
    "trustedRoot",
    "revoked",
    "expired",
    "wrongUsage",
    "nameMismatch",
    "revocationCheckFailed",
    "invalidCertOrChain",
)


@dataclass(frozen=True)
class ValidationResult:
    """One verdict. Booleans are True where the check *failed* (as in the C struct),
    except `trusted_root`, which is True where it passed."""

    trusted_root: bool = False
    revoked: bool = False
    expired: bool = False
    wrong_usage: bool = False
    name_mismatch: NameCheck = NameCheck.NOT_CHECKED
    revocation_check_failed: bool = False
    invalid_cert_or_chain: bool = False
    # Spec field name -> plain-language reason for that field's value.
    reasons: dict[str, str] = field(default_factory=dict, compare=False)
    # Warnings from client policies that overrode a failed check (shown, not fatal).
    warnings: tuple[str, ...] = ()

    def with_changes(self, **changes: Any) -> ValidationResult:
        return replace(self, **changes)

    def failed_fields(self, *, revocation_forced: bool = False) -> list[str]:
        """Spec names of the fields that make this verdict unacceptable."""
        failed = []
        if not self.trusted_root:
            failed.append("trustedRoot")
        if self.revoked:
            failed.append("revoked")
        if self.expired:
            failed.append("expired")
        if self.wrong_usage:
            failed.append("wrongUsage")
        if self.name_mismatch == NameCheck.MISMATCH:
            failed.append("nameMismatch")
        if revocation_forced and self.revocation_check_failed:
            failed.append("revocationCheckFailed")
        if self.invalid_cert_or_chain:
            failed.append("invalidCertOrChain")
        return failed

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ValidationResult:
        """Back from `to_json()` (a callback record carries the verdict as JSON).

        Fail closed: a field that is missing or not a boolean reads as failed, and
        an unknown name-check value as a mismatch, so a damaged record can never
        show a refused certificate as accepted."""
        try:
            name = NameCheck[
                str(data.get("nameMismatch", ""))
                .removeprefix("XR_REMOTING_CERTIFICATE_NAME_VALIDATION_RESULT_")
                .removesuffix("_MSFT")
            ]
        except KeyError:
            name = NameCheck.MISMATCH
        reasons = data.get("reasons")
        warnings = data.get("warnings")
        return cls(
            trusted_root=data.get("trustedRoot") is True,
            revoked=data.get("revoked") is not False,
            expired=data.get("expired") is not False,
            wrong_usage=data.get("wrongUsage") is not False,
            name_mismatch=name,
            revocation_check_failed=data.get("revocationCheckFailed") is not False,
            invalid_cert_or_chain=data.get("invalidCertOrChain") is not False,
            reasons=dict(reasons) if isinstance(reasons, dict) else {},
            warnings=tuple(warnings) if isinstance(warnings, list) else (),
        )

    def to_json(self) -> dict[str, Any]:
        """The seven fields under the specification's names, plus reasons."""
        return {
            "trustedRoot": self.trusted_root,
            "revoked": self.revoked,
            "expired": self.expired,
            "wrongUsage": self.wrong_usage,
            "nameMismatch": self.name_mismatch.spec_name,
            "revocationCheckFailed": self.revocation_check_failed,
            "invalidCertOrChain": self.invalid_cert_or_chain,
            "reasons": dict(self.reasons),
            "warnings": list(self.warnings),
        }

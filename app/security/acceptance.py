"""The one rule that decides whether a certificate verdict lets the client go on,
and the merge of the runtime's verdict with this app's own reasons.

The built-in runtime, `holoremote verify`, the providers and the window all call
these; nothing else re-states the rule.
"""

from __future__ import annotations

from app.xr.validation_result import FIELD_NAMES, ValidationResult
from app.xr.values import CertificateNameValidationResult as NameCheck


def is_acceptable(result: ValidationResult, *, revocation_forced: bool) -> bool:
    """The client goes on only if: trusted root, not revoked, not expired, right usage,
    name MATCH or NOT_CHECKED, chain well formed, and (when revocation was forced) the
    revocation check did not fail (docs/certificates.md)."""
    return not result.failed_fields(revocation_forced=revocation_forced)


# The reasons cannot cross the C struct: `XrRemotingCertificateValidationResultMSFT`
# has seven values and no text, so a runtime's system result arrives without them.
# `combine_with_runtime` puts them back from this app's own validation of the same
# chain, field by field, only where both agree; the runtime's values always decide
# (a runtime such as Microsoft's checks against the Windows store, which this app
# cannot see).

# Spec field name -> ValidationResult attribute.
_ATTRIBUTES = dict(
    zip(
        FIELD_NAMES,
        (
            "trusted_root",
            "revoked",
            "expired",
            "wrong_usage",
            "name_mismatch",
            "revocation_check_failed",
            "invalid_cert_or_chain",
        ),
        strict=True,
    )
)
RUNTIME_ONLY = "reported by the runtime's system validation"


def combine_with_runtime(
    runtime: ValidationResult, own: ValidationResult | None, own_source: str
) -> ValidationResult:
    """The runtime's system result, each field with this app's reason where our own
    check (against `own_source`) agrees, else "reported by the runtime's system
    validation" and what our check found. `own` is None when we could not check."""
    reasons: dict[str, str] = {}
    for name, attribute in _ATTRIBUTES.items():
        value = getattr(runtime, attribute)
        if name in runtime.reasons:
            reasons[name] = runtime.reasons[name]
        elif own is None:
            reasons[name] = f"{RUNTIME_ONLY} (this app could not check: {own_source})"
        elif getattr(own, attribute) == value:
            reasons[name] = own.reasons.get(name, RUNTIME_ONLY)
        else:
            found = own.reasons.get(name, _describe_value(name, getattr(own, attribute)))
            reasons[name] = f"{RUNTIME_ONLY}; this app's check against {own_source} found: {found}"
    return runtime.with_changes(reasons=reasons)


def _describe_value(name: str, value: object) -> str:
    if isinstance(value, NameCheck):
        return value.spec_name
    return f"{name}={value}"

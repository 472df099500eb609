"""The seven validation fields of a verdict as rows with a pass mark, for the
inspector and the timeline, by the app's acceptance rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.xr.validation_result import FIELD_NAMES, ValidationResult


@dataclass(frozen=True)
class CheckRow:
    """One of the seven validation fields: spec name, pass/fail, value and reason."""

    name: str
    passed: bool
    value: str
    reason: str


def check_rows(
    verdict: ValidationResult | Mapping[str, object], *, revocation_forced: bool = False
) -> tuple[CheckRow, ...]:
    """The seven fields of a verdict (a `ValidationResult`, or its JSON as a callback
    record carries it) with a pass mark each, by the app's acceptance rule: a failed
    revocation check fails only when the revocation check was forced (as the record's
    forceRevocationCheck says), as the command line and the runtime decide."""
    result = (
        verdict if isinstance(verdict, ValidationResult) else ValidationResult.from_json(verdict)
    )
    failed = set(result.failed_fields(revocation_forced=revocation_forced))
    values = result.to_json()
    rows = []
    for name in FIELD_NAMES:
        value = values[name]
        text = str(value) if not isinstance(value, bool) else ("true" if value else "false")
        if name == "nameMismatch":
            text = result.name_mismatch.name.replace("_", " ").lower()
        rows.append(CheckRow(name, name not in failed, text, result.reasons.get(name, "")))
    return tuple(rows)

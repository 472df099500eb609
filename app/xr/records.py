"""What one callback invocation looked like, as a plain value for events and the UI.

Inputs and outputs are already masked when a record is made (see
`app.xr.masking`); a record can be printed, logged or shown as it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from app.xr.validation_result import ValidationResult
from app.xr.values import result_name

CALLBACK_NAMES = (
    "RequestAuthenticationToken",
    "ValidateServerCertificate",
    "ValidateAuthenticationToken",
    "RequestServerCertificate",
)
CLIENT_CALLBACKS = frozenset(CALLBACK_NAMES[:2])


@dataclass(frozen=True)
class CallbackRecord:
    callback: str
    started_at: float  # wall clock, time.time()
    duration_s: float
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    result: int
    error: str | None = None
    # The DER chain a ValidateServerCertificate call received (public data), so the
    # chain inspector can show exactly what arrived.
    chain: tuple[bytes, ...] = field(default=(), repr=False)
    # A ValidateServerCertificate call's verdict as a value: parsed from the JSON in
    # `outputs["validationResultOut"]` on the first `validation_result()` and kept.
    # Whoever reads the verdict (the session for every record, the timeline, the CLI)
    # then reads a value instead of parsing the JSON again (docs/benchmarks.md, loop stall).
    verdict: ValidationResult | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def side(self) -> str:
        return "client" if self.callback in CLIENT_CALLBACKS else "server"

    @property
    def result_name(self) -> str:
        return result_name(self.result)

    def validation_result(self) -> ValidationResult | None:
        """The certificate verdict this record carries, None if it has none (another
        callback, or a call that wrote none). Parsed fail-closed
        (`ValidationResult.from_json`) at most once per record."""
        if self.verdict is None:
            data = self.outputs.get("validationResultOut")
            if not isinstance(data, dict):
                return None
            # A cache of a value derived from a field that never changes: the record
            # stays immutable to its readers.
            object.__setattr__(self, "verdict", ValidationResult.from_json(data))
        return self.verdict

    def to_json(self) -> dict[str, Any]:
        return {
            "callback": self.callback,
            "side": self.side,
            "startedAt": self.started_at,
            "durationMs": round(self.duration_s * 1000, 3),
            "inputs": self.inputs,
            "outputs": self.outputs,
            "result": self.result_name,
            "error": self.error,
        }

    def summary(self) -> str:
        """One line for a table cell or a terminal."""
        text = f"{self.callback} -> {self.result_name}"
        if self.error:
            text += f" ({self.error})"
        return text


def now() -> float:
    return time.time()

"""What one callback invocation looked like, as a plain value for events and the UI.

Inputs and outputs are already masked when a record is made (see
`app.xr.masking`); a record can be printed, logged or shown as it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

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

    @property
    def side(self) -> str:
        return "client" if self.callback in CLIENT_CALLBACKS else "server"

    @property
    def result_name(self) -> str:
        return result_name(self.result)

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

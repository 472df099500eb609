"""What one timeline row means: the outcome of a callback call or a connection event.

Why here and not in the window: "was this a refusal?" is a decision about the
connection. A refused token is an `XR_SUCCESS` call whose `tokenValidOut` is false; a
refused certificate is an `XR_SUCCESS` call whose verdict fails the acceptance rule;
the first call of the two-call idiom returns `XR_ERROR_SIZE_INSUFFICIENT` and is
normal. Reading the `XrResult` alone gets all three wrong, so the rule lives once,
here, for the window, `--json` consumers and tests alike.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.xr.records import CallbackRecord
from app.xr.values import Result

if TYPE_CHECKING:
    from app.endpoint.events import SessionEvent

# The event classes are imported where an event is at hand, not with this module: the
# window imports it to draw its timeline and must come up without the engine
# (docs/benchmarks.md, window start).


class Outcome(enum.Enum):
    """The kinds of row a person must tell apart at a glance."""

    SUCCESS = "success"
    REFUSED = "refused by policy"
    SIZE_QUERY = "size query"
    RUNTIME_ERROR = "runtime error"
    EVENT = "event"
    RUNNING = "running"

    @property
    def label(self) -> str:
        return self.value


@dataclass(frozen=True)
class Classified:
    """An outcome and the sentence that says why (empty for a plain success)."""

    outcome: Outcome
    reason: str = ""


SIZE_QUERY_REASON = "first call of the two-call idiom: the callback asked for a larger buffer"


def classify_record(record: CallbackRecord) -> Classified:
    """The outcome of one finished callback call. Fail closed: a call that raised,
    a token that was not accepted and a verdict that fails the acceptance rule are
    refusals whatever `XrResult` went back to the runtime."""
    if record.error:
        return Classified(Outcome.REFUSED, record.error)
    if record.result == int(Result.ERROR_SIZE_INSUFFICIENT):
        return Classified(Outcome.SIZE_QUERY, SIZE_QUERY_REASON)
    if record.result < 0:
        return Classified(Outcome.RUNTIME_ERROR, f"the call returned {record.result_name}")
    token_check = record.callback == "ValidateAuthenticationToken"
    if token_check and record.outputs.get("tokenValidOut") is not True:
        return Classified(Outcome.REFUSED, "the token was not accepted")
    if record.callback == "ValidateServerCertificate":
        verdict = record.validation_result()
        if verdict is None:
            return Classified(Outcome.REFUSED, "no certificate verdict was given")
        forced = record.inputs.get("forceRevocationCheck") is True
        failed = verdict.failed_fields(revocation_forced=forced)
        if failed:
            return Classified(Outcome.REFUSED, "the certificate failed " + ", ".join(failed))
    return Classified(Outcome.SUCCESS)


def event_title(event: SessionEvent) -> str:
    """A short name for a connection event row ("Listening on port 8265",
    "Disconnected: XR_REMOTING_DISCONNECT_REASON_..._MSFT"), by the event's class."""
    from app.endpoint.events import (
        CallbacksCalled,
        CallStarted,
        ChannelClosed,
        ChannelOpened,
        Connected,
        Disconnected,
        HandshakeStage,
        Listening,
        Note,
        StateChanged,
    )

    match event:
        case Listening(port=port):
            return f"Listening on port {port}"
        case Connected():
            return "Connected"
        case Disconnected(reason=reason):
            return f"Disconnected: {reason.spec_name}"
        case StateChanged(state=state):
            return f"State: {state.spec_name}"
        case HandshakeStage(stage=stage, side=side, duration_s=duration):
            return f"Stage {stage} ({side}): {round(duration * 1000, 3)} ms"
        case Note(level=level):
            return f"Note ({level})"
        case CallStarted(callback=callback):
            return f"{callback} started"
        case ChannelOpened(channel_id=channel_id):
            return f"Channel {channel_id} opened"
        case ChannelClosed(channel_id=channel_id, reason=reason):
            return f"Channel {channel_id} closed ({reason})"
        case CallbacksCalled(records=records):
            return f"{len(records)} callback call(s)"
    return type(event).__name__  # unreachable for the closed set; kept for mypy


def event_is_failure(event: SessionEvent) -> bool:
    """A disconnect that was not asked for by either side is shown as a failure; a
    clean one (ours or the peer's request) is information; a failed handshake stage
    is a failure."""
    from app.endpoint.events import Disconnected, HandshakeStage

    if isinstance(event, Disconnected):
        return event.failed
    if isinstance(event, HandshakeStage):
        return event.failed
    return False

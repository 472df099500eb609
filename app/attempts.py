"""Connection attempts as waterfalls: which stage took how long, on which side, and
where a failed attempt stopped.

Why here: what a stage is and when an attempt failed are facts about the connection,
decided once for every face. The built-in runtime reports its own handshake stages
(`HandshakeStage` events: TCP, TLS, certificate, challenge, token, authorized request,
transport); an OpenXR runtime reports none, so its attempts are built from what the
application sees (the four callbacks and the connection events) and say so.

`AttemptRecorder.feed` takes one session event at a time (with the wall-clock time
it arrived) and keeps the attempts; it owns no clock and no Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from app.endpoint.events import CallbacksCalled, Connected, Disconnected, StateChanged
from app.outcomes import Outcome, classify_record
from app.remoting.contract import HandshakeStage
from app.xr.records import CallbackRecord
from app.xr.values import ConnectionState

Side = Literal["client", "server", "network", "runtime"]
AttemptState = Literal["running", "connected", "failed"]
Source = Literal["runtime", "callbacks"]

# Attempts kept (the oldest are dropped): a listener running for days must not grow.
MAX_ATTEMPTS = 100

SOURCE_TEXT = {
    "runtime": "stages reported by the built-in runtime",
    "callbacks": "built from the callbacks and connection events the application sees "
    "(this runtime does not report its handshake stages)",
}


@dataclass(frozen=True)
class Span:
    """One bar of the waterfall."""

    name: str
    side: str  # a Side
    start_s: float  # from the attempt's start
    duration_s: float
    failed: bool = False
    detail: str = ""

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class Attempt:
    number: int
    started_at: float  # wall clock
    source: Source
    spans: tuple[Span, ...] = ()
    state: AttemptState = "running"
    failure: str = ""

    @property
    def total_s(self) -> float:
        return max((s.end_s for s in self.spans), default=0.0)

    @property
    def failed_span(self) -> Span | None:
        return next((s for s in reversed(self.spans) if s.failed), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "startedAt": self.started_at,
            "source": self.source,
            "state": self.state,
            "failure": self.failure,
            "stages": [
                {
                    "stage": s.name,
                    "side": s.side,
                    "startMs": round(s.start_s * 1000, 3),
                    "durationMs": round(s.duration_s * 1000, 3),
                    "failed": s.failed,
                    **({"detail": s.detail} if s.detail else {}),
                }
                for s in self.spans
            ],
        }


# What each callback is, as a stage seen from the application.
_CALLBACK_STAGES: dict[str, tuple[str, Side]] = {
    "RequestServerCertificate": ("server certificate", "server"),
    "ValidateServerCertificate": ("certificate check", "client"),
    "RequestAuthenticationToken": ("token", "client"),
    "ValidateAuthenticationToken": ("token check", "server"),
}


@dataclass
class AttemptRecorder:
    """Feeds on session events; `attempts` holds the finished and the running one."""

    attempts: list[Attempt] = field(default_factory=list)
    _count: int = 0

    @property
    def current(self) -> Attempt | None:
        last = self.attempts[-1] if self.attempts else None
        return last if last is not None and last.state == "running" else None

    def feed(self, event: Any, now: float) -> Attempt | None:
        """Update with one event; returns the attempt it changed (or None)."""
        if isinstance(event, StateChanged) and event.state == ConnectionState.CONNECTING:
            return self._start(now)
        if isinstance(event, HandshakeStage):
            attempt = self.current or self._start(event.started_at, source="runtime")
            if attempt.source != "runtime":  # the runtime speaks: its stages win
                attempt = replace(attempt, source="runtime", spans=())
            span = Span(
                event.stage,
                event.side,
                max(0.0, event.started_at - attempt.started_at),
                event.duration_s,
                event.failed,
                event.detail,
            )
            return self._put(replace(attempt, spans=(*attempt.spans, span)))
        if isinstance(event, CallbacksCalled):
            changed = None
            for record in event.records:
                changed = self._callback(record) or changed
            return changed
        running = self.current
        if running is None:
            return None
        if isinstance(event, Connected):
            # The runtime's own stages end where the session opened; the event's
            # arrival adds only the event pump's delay. Otherwise the arrival is all
            # the application knows.
            at = (
                running.total_s
                if running.source == "runtime"
                else max(now - running.started_at, running.total_s)
            )
            marker = Span("connected", "network", at, 0.0)
            return self._put(replace(running, spans=(*running.spans, marker), state="connected"))
        if isinstance(event, Disconnected):
            attempt = running
            if not event.failed and not attempt.spans:
                self.attempts.pop()  # canceled before anything happened: no attempt
                return None
            spans = attempt.spans
            failure = event.reason.spec_name
            if attempt.failed_span is None:
                # Nothing reported the failing stage: a last bar up to the disconnect.
                at = attempt.total_s
                spans = (
                    *spans,
                    Span(
                        "failed" if event.failed else "canceled",
                        "runtime",
                        at,
                        max(0.0, now - attempt.started_at - at),
                        True,
                        event.detail or event.explanation,
                    ),
                )
            return self._put(replace(attempt, spans=spans, state="failed", failure=failure))
        return None

    def _callback(self, record: CallbackRecord) -> Attempt | None:
        attempt = self.current or self._start(record.started_at)
        if attempt.source == "runtime":
            return None  # the runtime's own stages already hold the callbacks' time
        name, side = _CALLBACK_STAGES.get(record.callback, (record.callback, "runtime"))
        classified = classify_record(record)
        if classified.outcome is Outcome.SIZE_QUERY:
            name += " (size query)"
        span = Span(
            name,
            side,
            max(0.0, record.started_at - attempt.started_at),
            record.duration_s,
            classified.outcome in (Outcome.REFUSED, Outcome.RUNTIME_ERROR),
            classified.reason,
        )
        return self._put(replace(attempt, spans=(*attempt.spans, span)))

    def _start(self, at: float, source: Source = "callbacks") -> Attempt:
        self._count += 1
        attempt = Attempt(self._count, at, source)
        self.attempts.append(attempt)
        del self.attempts[:-MAX_ATTEMPTS]
        return attempt

    def _put(self, attempt: Attempt) -> Attempt:
        self.attempts[-1] = attempt
        return attempt

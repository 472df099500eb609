"""What a `Session` tells its listeners: small frozen values, one per happening.

The window (through qasync) and the command line consume the same stream. Every
event has `to_json()` giving a flat dict with the specification's names
(`XR_REMOTING_CONNECTION_STATE_CONNECTED_MSFT`, `XR_REMOTING_DISCONNECT_REASON_..._MSFT`,
`RequestAuthenticationToken`), which is what `--json` prints, one object per line.
No event ever holds a secret: callback records are masked when they are made.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from app.endpoint.failure import CertificateRefusal
from app.remoting.contract import HandshakeStage
from app.remoting.reasons import explain
from app.xr.records import CallbackRecord
from app.xr.values import ConnectionState, DisconnectReason

NoteLevel = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class StateChanged:
    """The connection state (xrRemotingGetConnectionStateMSFT) changed."""

    state: ConnectionState

    def to_json(self) -> dict[str, Any]:
        return {"event": "state", "state": self.state.spec_name}


@dataclass(frozen=True)
class Listening:
    """The listener is up. `port` is the handshake port actually bound (with an
    ephemeral port request, the one the OS chose); `transport_port` likewise when the
    runtime reports it (the built-in runtime does; the OpenXR event has no field for it).
    """

    port: int
    transport_port: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"event": "listening", "port": self.port}
        if self.transport_port is not None:
            data["transportPort"] = self.transport_port
        return data


@dataclass(frozen=True)
class Connected:
    """Fully connected: handshake done and the transport session open."""

    def to_json(self) -> dict[str, Any]:
        return {"event": "connected"}


@dataclass(frozen=True)
class Disconnected:
    """The connection (or the attempt, or the listener) ended, with the reason and the
    plain-language explanation and fix from `app.remoting.reasons`."""

    reason: DisconnectReason
    explanation: str
    fix: str
    # The runtime's own words about this disconnect, when it has any (e.g. which host
    # name did not resolve); never a secret. Empty for runtimes that say nothing more.
    detail: str = ""
    # This client refused the server's certificate in this attempt: which checks
    # failed and why (the reason code alone, HANDSHAKE_CONNECTION_FAILED, cannot say).
    refusal: CertificateRefusal | None = None

    @classmethod
    def of(
        cls,
        reason: DisconnectReason | int,
        detail: str = "",
        refusal: CertificateRefusal | None = None,
    ) -> Disconnected:
        text = explain(reason)
        try:
            value = DisconnectReason(reason)
        except ValueError:
            value = DisconnectReason.UNKNOWN
        if value != DisconnectReason.HANDSHAKE_CONNECTION_FAILED:
            refusal = None  # a refusal earlier in the attempt did not end it
        return cls(value, text.explanation, text.fix, detail, refusal)

    @property
    def failed(self) -> bool:
        """True unless the connection ended on a request (ours or the peer's)."""
        return self.reason not in CLEAN_REASONS

    @property
    def listener_cannot_run(self) -> bool:
        """The listener itself failed (no certificate, a port taken, an internal
        error): listening again would fail the same way."""
        return self.reason in LISTENER_FATAL_REASONS

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "disconnected",
            "reason": self.reason.spec_name,
            "code": int(self.reason),
            "explanation": self.explanation,
            "fix": self.fix,
            **({"runtimeDetail": self.detail} if self.detail else {}),
            **(
                {"detail": self.refusal.summary(), "failedChecks": list(self.refusal.checks)}
                if self.refusal is not None
                else {}
            ),
        }


# Reasons that end a connection that worked: nothing failed.
CLEAN_REASONS = frozenset(
    {
        DisconnectReason.NONE,
        DisconnectReason.DISCONNECT_REQUEST,
        DisconnectReason.PEER_DISCONNECT_REQUEST,
    }
)

# Reasons that end a listen because the listener cannot run, not because of a client.
LISTENER_FATAL_REASONS = frozenset(
    {
        DisconnectReason.NO_SERVER_CERTIFICATE,
        DisconnectReason.HANDSHAKE_PORT_BUSY,
        DisconnectReason.TRANSPORT_PORT_BUSY,
        DisconnectReason.INTERNAL_ERROR,
    }
)


def listens_again(
    last: Disconnected, *, connected: bool, once: bool = False, stop_requested: bool = False
) -> bool:
    """The one listen-again rule, for `holoremote listen` and the window: after each
    session or refused client a listener listens again on the same ports (as
    Microsoft's Player does), unless it was to serve once, its user asked it to stop,
    or the listener itself cannot run (a port taken, no certificate), where trying
    again would fail the same way."""
    if once or stop_requested:
        return False
    return connected or not last.listener_cannot_run


@dataclass(frozen=True)
class CallbacksCalled:
    """Secure-connection callbacks ran (inputs/outputs masked), in the order they ran.

    Records are made on the runtime's threads; the session's `RecordRelay` hands
    them to the loop one burst at a time, and each burst is one event. That is the
    only place records are batched: the command line prints them one line each, the
    window appends the burst to its timeline in one model insertion."""

    records: tuple[CallbackRecord, ...]

    def to_json(self) -> dict[str, Any]:
        return {"event": "callbacks", "records": [record_json(r) for r in self.records]}


def record_json(record: CallbackRecord) -> dict[str, Any]:
    """One record as the command line's `--json` prints it, one object per line."""
    return {"event": "callback", **record.to_json()}


def records_in(events: Iterable[SessionEvent]) -> list[CallbackRecord]:
    """Every callback record in `events`, in order."""
    return [r for e in events if isinstance(e, CallbacksCalled) for r in e.records]


@dataclass(frozen=True)
class CallStarted:
    """A secure-connection callback began; its record follows when it returns. A call
    that waits (a trust-on-first-use question, a slow policy) thus shows as running
    from its start, not only once it is over. Carries no input: nothing secret."""

    callback: str
    started_at: float  # wall clock, time.time()

    def to_json(self) -> dict[str, Any]:
        return {"event": "callStarted", "callback": self.callback, "startedAt": self.started_at}


@dataclass(frozen=True)
class Note:
    """Something worth telling the user that is not a state change."""

    level: NoteLevel
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"event": "note", "level": self.level, "message": self.message}


@dataclass(frozen=True)
class ChannelOpened:
    """A data channel is open: created here and accepted, or created by the peer."""

    channel: int
    channel_id: int
    by_peer: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "channelOpened",
            "channelId": self.channel_id,
            "createdBy": "peer" if self.by_peer else "this end",
        }


@dataclass(frozen=True)
class ChannelClosed:
    """A data channel closed: `reason` is the specification's PROTOCOL (the peer closed
    it) or ERROR (connection lost, or a limit this end enforced), as its name."""

    channel: int
    channel_id: int
    reason: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "channelClosed",
            "channelId": self.channel_id,
            "reason": self.reason,
            "detail": self.detail,
        }


# The closed set of events a session emits; consumers dispatch on the class (`match`).
SessionEvent = (
    StateChanged
    | Listening
    | Connected
    | Disconnected
    | CallbacksCalled
    | Note
    | ChannelOpened
    | ChannelClosed
    | HandshakeStage
    | CallStarted
)

__all__ = [
    "CLEAN_REASONS",
    "LISTENER_FATAL_REASONS",
    "CallStarted",
    "CallbacksCalled",
    "ChannelClosed",
    "ChannelOpened",
    "Connected",
    "Disconnected",
    "HandshakeStage",
    "Listening",
    "Note",
    "NoteLevel",
    "SessionEvent",
    "StateChanged",
    "listens_again",
    "record_json",
    "records_in",
]

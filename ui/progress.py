"""Connect progress: the stage under way and the time since Connect, for the status
bar and the button, until the attempt connects, fails or is canceled.

The stage comes from the engine: the built-in runtime's `HandshakeStage` events say
which stage finished, so the next one is under way; with a runtime that reports no
stages the callbacks say as much as is known.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from app.xr.records import CallbackRecord

if TYPE_CHECKING:  # ui.controller imports the session stack; only its type is needed
    from app.endpoint.events import SessionEvent
    from ui.controller import SessionController

# The built-in runtime's stages in order (app.remoting.builtin.client).
STAGE_ORDER = (
    "TCP",
    "TLS",
    "certificate",
    "challenge",
    "token",
    "authorized request",
    "transport",
)
STAGE_WORDS = {
    "TCP": "opening the connection",
    "TLS": "TLS handshake",
    "certificate": "checking the server's certificate",
    "challenge": "waiting for the server's challenge",
    "request": "waiting for the server",
    "token": "sending the token",
    "authorized request": "waiting for the server to accept the token",
    "transport": "opening the session",
}
CALLBACK_WORDS = {
    "ValidateServerCertificate": "checked the server's certificate; waiting for the runtime",
    "RequestAuthenticationToken": "sent the token; waiting for the server",
}
TICK_MS = 100


def next_stage(finished: str) -> str:
    if finished not in STAGE_ORDER:
        return "request" if finished == "request" else ""
    index = STAGE_ORDER.index(finished) + 1
    return STAGE_ORDER[index] if index < len(STAGE_ORDER) else ""


def elapsed_text(seconds: float) -> str:
    """Tenths of a second, rounded (never a ceiling of a float difference)."""
    return f"{round(seconds, 1):.1f} s"


class ConnectProgress(QObject):
    """Follows one endpoint's controller; `changed` carries the line to show (empty
    when no attempt is under way)."""

    changed = Signal(str)

    def __init__(self, controller: SessionController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._started: float | None = None
        self._stage = ""
        self._target = ""
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        controller.stateChanged.connect(self._state_changed)
        controller.sessionEvent.connect(self._event)
        controller.records.connect(self._records)

    @property
    def running(self) -> bool:
        return self._started is not None

    @property
    def stage(self) -> str:
        return self._stage

    def text(self) -> str:
        if self._started is None:
            return ""
        words = STAGE_WORDS.get(self._stage, self._stage) or "connecting"
        target = f" to {self._target}" if self._target else ""
        elapsed = elapsed_text(time.monotonic() - self._started)
        return f"Connecting{target}: {words}\u2026 {elapsed} (Esc cancels)"

    def set_target(self, target: str) -> None:
        self._target = target

    def _state_changed(self, state: str) -> None:
        connecting = getattr(self._controller, "mode", "") != "listen"
        if state in ("starting", "connecting") and connecting:
            if self._started is None:
                self._started = time.monotonic()
                self._stage = "TCP" if state == "connecting" else ""
                self._timer.start()
            elif state == "connecting" and not self._stage:
                self._stage = "TCP"
        else:
            self._started = None
            self._stage = ""
            self._timer.stop()
        self.changed.emit(self.text())

    def _event(self, event: SessionEvent) -> None:
        if self._started is None:
            return
        from app.endpoint.events import HandshakeStage

        if isinstance(event, HandshakeStage) and not event.failed:
            self._stage = next_stage(event.stage)
            self.changed.emit(self.text())

    def _records(self, records: tuple[CallbackRecord, ...]) -> None:
        if self._started is None or not records:
            return
        words = CALLBACK_WORDS.get(records[-1].callback)
        if words and self._stage not in STAGE_ORDER:
            self._stage = words
            self.changed.emit(self.text())

    def _tick(self) -> None:
        self.changed.emit(self.text())

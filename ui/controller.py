"""One session's driver on the qasync loop: builds it off the UI thread, pumps its
events, and re-emits them as Qt signals.

The session's asyncio code runs on Qt's own loop (qasync), so its events arrive on
the UI thread; blocking set-up (reading files, opening the runtime) runs on a worker
thread through `ui.jobs.run_blocking`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from PySide6.QtCore import QObject, Signal

from ui import engine
from ui.jobs import Jobs, run_blocking

log = logging.getLogger(__name__)

# What the window shows for each state (the session reports ConnectionState values;
# "listening" comes from the Listening event, "starting" is before the session exists).
STATE_TEXT = {
    "idle": "Disconnected",
    "starting": "Starting\u2026",
    "disconnected": "Disconnected",
    "connecting": "Connecting\u2026",
    "listening": "Listening",
    "connected": "Connected",
}


def state_name(state: object) -> str:
    """'connected' for ConnectionState.CONNECTED, the spec name or a plain string."""
    if isinstance(state, engine.ConnectionState):
        return state.name.lower()
    text = str(getattr(state, "name", state)).lower()
    for name in ("disconnected", "connecting", "connected", "listening"):
        if name in text:
            return name
    return text


class SessionController(QObject):
    stateChanged = Signal(str)  # a key of STATE_TEXT
    listening = Signal(int)  # the port actually listened on (ephemeral ports resolved)
    connected = Signal()
    disconnected = Signal(int, str, str, str)  # reason code, spec name, explanation, fix
    record = Signal(object)  # CallbackRecord
    note = Signal(str, str)  # level, message
    startFailed = Signal(str, str)  # message, fix
    runtimeInUse = Signal(str)
    # Every session event except the callback records (those go out as `record`), for
    # the timeline's event rows and the connect progress.
    event = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = Jobs(self)
        self._session: Any = None
        self._state = "idle"
        self.last_reason: tuple[int, str, str, str] | None = None
        self.listening_port: int | None = None
        self._stopping = False  # Disconnect was asked for: do not listen again
        self._mode = "connect"

    @property
    def state(self) -> str:
        return self._state

    @property
    def channels(self) -> Any:
        """The session's data channels (app.endpoint.channels.ChannelHub) while a
        session exists, else None."""
        session = self._session
        return None if session is None else session.channels

    @property
    def active(self) -> bool:
        return self._state not in ("idle", "disconnected")

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    def start(self, settings: engine.EndpointSettings, ask_tofu: engine.TofuAsk) -> None:
        if self.active:
            return
        self.last_reason = None
        self.listening_port = None
        self._stopping = False
        self._mode = settings.mode
        self._set_state("starting")
        self.jobs.spawn("session", self._run(settings, ask_tofu))

    def disconnect(self) -> None:
        self._stopping = True
        session = self._session
        if session is None:
            return
        self.jobs.spawn("disconnect", self._disconnect(session))

    async def _disconnect(self, session: Any) -> None:
        await session.disconnect()

    async def _run(self, settings: engine.EndpointSettings, ask_tofu: engine.TofuAsk) -> None:
        try:
            session, runtime_text = await run_blocking(
                engine.open_session, settings, ask_trust_on_first_use=ask_tofu
            )
        except Exception as exc:  # noqa: BLE001 - every set-up failure is shown, not raised
            message, fix = engine.explain_error(exc)
            self._set_state("idle")
            self.startFailed.emit(message, fix)
            return
        self._session = session
        self.runtimeInUse.emit(runtime_text)
        try:
            await session.start()
            await self.follow(session)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - shown in the status bar
            message, fix = engine.explain_error(exc)
            self.startFailed.emit(message, fix)
        finally:
            self._session = None
            try:
                await session.aclose()
            finally:
                self._set_state("idle")

    async def follow(self, session: Any) -> None:
        """Re-emit the session's events as signals until it reports the Disconnected
        that ends it.

        One attempt (or one listener's client) per session: the window starts a fresh
        session for the next Connect / Listen. A listener that refused a client
        (a wrong token, the same role, no common version) listens again on the same
        ports, as `holoremote listen` does; the refusal is shown, and Disconnect ends
        it."""
        connected = False
        async for event in session.events():
            kind = type(event).__name__
            if kind == "Disconnected" and self._listens_again(event, connected):
                self.event.emit(event)
                self._report_refusal(event)
                await session.listen_again()
                if self._stopping:  # Disconnect was pressed while restarting
                    await session.disconnect()
                continue
            self._dispatch(event)
            if kind == "Connected":
                connected = True
            elif kind == "Disconnected":
                break

    def _listens_again(self, event: Any, connected: bool) -> bool:
        return (
            self._mode == "listen"
            and not connected
            and not self._stopping
            and event.failed
            and not event.listener_cannot_run
        )

    def _report_refusal(self, event: Any) -> None:
        """A refused client: the reason goes out as a disconnect, the state stays
        Listening."""
        code = int(event.reason)
        spec, explanation, fix = engine.reason_text(code)
        self.last_reason = (code, spec, event.explanation or explanation, event.fix or fix)
        self.disconnected.emit(*self.last_reason)

    def _dispatch(self, event: object) -> None:
        kind = type(event).__name__
        if kind != "CallbackCalled":
            self.event.emit(event)
        if kind == "CallbackCalled":
            self.record.emit(event.record)  # type: ignore[attr-defined]
        elif kind == "StateChanged":
            name = state_name(event.state)  # type: ignore[attr-defined]
            # The Listening event says more than "disconnected" while waiting for a peer,
            # and a listener's Disconnected event says whether it listens again.
            if not (
                name == "disconnected" and (self._state == "listening" or self._mode == "listen")
            ):
                self._set_state(name)
        elif kind == "Listening":
            self.listening_port = int(event.port)  # type: ignore[attr-defined]
            self._set_state("listening")
            self.listening.emit(self.listening_port)
        elif kind == "Connected":
            self._set_state("connected")
            self.connected.emit()
        elif kind == "Disconnected":
            code = int(event.reason)  # type: ignore[attr-defined]
            spec, explanation, fix = engine.reason_text(code)
            explanation = getattr(event, "explanation", None) or explanation
            detail = getattr(event, "detail", "")
            if detail:  # the runtime's own words first: which address, which name
                explanation = f"{detail}. {explanation}"
            fix = getattr(event, "fix", None) or fix
            self.last_reason = (code, spec, explanation, fix)
            self._set_state("disconnected")
            self.disconnected.emit(code, spec, explanation, fix)
        elif kind == "Note":
            self.note.emit(str(event.level), str(event.message))  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        session = self._session
        if session is not None:
            try:
                await session.disconnect()
            except Exception:
                log.debug("disconnect while closing failed", exc_info=True)
        await self.jobs.wait_all()

"""One session's driver on the qasync loop: builds it off the UI thread, pumps its
events, and re-emits them as Qt signals.

The session's asyncio code runs on Qt's own loop (qasync), so its events arrive on
the UI thread; blocking set-up (reading files, opening the runtime) runs on a worker
thread through `ui.jobs.run_blocking`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from ui import field_values, session_opening
from ui.jobs import Jobs, run_blocking

if TYPE_CHECKING:
    from app.endpoint.channels import ChannelHub
    from app.endpoint.events import Disconnected, SessionEvent
    from app.endpoint.session import Session
    from app.xr.values import ConnectionState

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


def state_name(state: ConnectionState) -> str:
    """'connected' for ConnectionState.CONNECTED: a key of STATE_TEXT."""
    return state.name.lower()


def failure_text(event: Disconnected) -> tuple[str, str]:
    """(explanation, fix) of a disconnect in the window's words: a refused server
    certificate leads (which checks, why, what to set), then the runtime's own words
    (which address, which name), then the reason's explanation."""
    from app.endpoint.failure import WINDOW

    explanation, fix = event.explanation, event.fix
    if event.detail:
        explanation = f"{event.detail}. {explanation}"
    if event.refusal is not None:
        details = event.refusal.lines(WINDOW)
        checks = "; ".join(
            f"{check} ({reason})" if reason else check for check, reason, _ in details
        )
        explanation = f"The client refused the server's certificate: failed {checks}. {explanation}"
        fix = " ".join(f"{f[0].upper()}{f[1:]}." for _, _, f in details if f) or fix
    return explanation, fix


class SessionController(QObject):
    stateChanged = Signal(str)  # a key of STATE_TEXT
    listening = Signal(int)  # the port actually listened on (ephemeral ports resolved)
    connected = Signal()
    disconnected = Signal(int, str, str, str)  # reason code, spec name, explanation, fix
    records = Signal(tuple)  # tuple[CallbackRecord, ...]: one burst, in order
    note = Signal(str, str)  # level, message
    startFailed = Signal(str, str)  # message, fix
    runtimeInUse = Signal(str)
    # Every session event except the callback records (those go out as `records`), for
    # the timeline's event rows and the connect progress.
    # (Not named `event`: that would hide QObject.event, through which Qt delivers
    # every event to this object.)
    sessionEvent = Signal(object)  # SessionEvent

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = Jobs(self)
        self._session: Session | None = None
        self._state = "idle"
        self.last_reason: tuple[int, str, str, str] | None = None
        self.listening_port: int | None = None
        self._stopping = False  # Disconnect was asked for: do not listen again
        self._mode = "connect"
        self._once = False
        self.sessions_served = 0  # sessions a listener had before listening again
        # Which `start` the running `_run` belongs to. A session that ended is closed
        # (its runtime shut down) after the state says Disconnected, so Connect may be
        # pressed again while it closes: its end must not touch the newer session.
        self._run_id = 0

    @property
    def state(self) -> str:
        return self._state

    @property
    def channels(self) -> ChannelHub | None:
        """The session's data channels (app.endpoint.channels.ChannelHub) while a
        session exists, else None."""
        session = self._session
        return None if session is None else session.channels

    @property
    def mode(self) -> str:
        """ "connect" or "listen": what the current (or last) session does."""
        return self._mode

    @property
    def stop_requested(self) -> bool:
        """Disconnect / Cancel was pressed for the current session."""
        return self._stopping

    @property
    def active(self) -> bool:
        return self._state not in ("idle", "disconnected")

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    def start(
        self, settings: field_values.EndpointSettings, ask_tofu: session_opening.TofuAsk
    ) -> None:
        if self.active:
            return
        self.last_reason = None
        self.listening_port = None
        self._stopping = False
        self._mode = settings.mode
        self._once = settings.listen_once
        self.sessions_served = 0
        self._run_id += 1
        self._set_state("starting")
        self.jobs.spawn("session", self._run(self._run_id, settings, ask_tofu))

    def end(self) -> None:
        """Disconnect (or stop listening); the outcome arrives as a signal."""
        self._stopping = True
        session = self._session
        if session is None:
            return
        self.jobs.spawn("disconnect", self._disconnect(session))

    async def _disconnect(self, session: Session) -> None:
        await session.disconnect()

    async def _run(
        self,
        run_id: int,
        settings: field_values.EndpointSettings,
        ask_tofu: session_opening.TofuAsk,
    ) -> None:
        # The engine is imported when the first session starts, not with the window
        # (docs/benchmarks.md, window start).
        import asyncio

        from app.endpoint.failure import WINDOW, error_text

        try:
            session, runtime_text = await run_blocking(
                session_opening.open_session, settings, ask_trust_on_first_use=ask_tofu
            )
        except Exception as exc:  # noqa: BLE001 - every set-up failure is shown, not raised
            message, fix = error_text(WINDOW, exc)
            self._set_state("idle")
            self.startFailed.emit(message, fix)
            return
        self._session = session
        self.runtimeInUse.emit(runtime_text)
        if self._stopping:  # Cancel was pressed while the runtime was being opened
            self._session = None
            try:
                await session.aclose()
            finally:
                self._set_state("idle")
            return
        try:
            await session.start()
            await self.follow(session)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - shown in the status bar
            message, fix = error_text(WINDOW, exc)
            self.startFailed.emit(message, fix)
        finally:
            if run_id == self._run_id:
                self._session = None
            try:
                await session.aclose()
            finally:
                # Only if no newer session started while this one was closing.
                if run_id == self._run_id:
                    self._set_state("idle")

    async def follow(self, session: Session) -> None:
        """Re-emit the session's events as signals until it reports the Disconnected
        that ends it.

        A listener listens again on the same ports after each session and after each
        refused client (a wrong token, the same role, no common version), as
        `holoremote listen` does, by the one rule (`app.endpoint.events.listens_again`):
        not with "once", not after Disconnect, not when the listener itself cannot
        run. The session's end is shown (a refusal as a problem, a clean end as
        information) and the state goes back to Listening."""
        from app.endpoint.events import Connected, Disconnected, listens_again

        connected = False
        async for event in session.events():
            if isinstance(event, Disconnected) and self._mode == "listen":
                again = listens_again(
                    event, connected=connected, once=self._once, stop_requested=self._stopping
                )
                if again:
                    self.sessionEvent.emit(event)
                    self._report_refusal(event)
                    if connected:
                        self.sessions_served += 1
                        self._set_state("starting")
                    connected = False
                    # "Listening on port N" again only once the ports are bound anew
                    # (the Listening event): a client that connects earlier is refused.
                    self.listening_port = None
                    await session.listen_again()
                    if self._stopping:  # Disconnect was pressed while restarting
                        await session.disconnect()
                    continue
            self._dispatch(event)
            if isinstance(event, Connected):
                connected = True
            elif isinstance(event, Disconnected):
                break

    def _report_refusal(self, event: Disconnected) -> None:
        """A refused client or an ended session: the reason goes out as a
        disconnect, the state stays Listening."""
        explanation, fix = failure_text(event)
        self.last_reason = (int(event.reason), event.reason.spec_name, explanation, fix)
        self.disconnected.emit(*self.last_reason)

    def _dispatch(self, event: SessionEvent) -> None:
        from app.endpoint.events import (
            CallbacksCalled,
            Connected,
            Disconnected,
            Listening,
            Note,
            StateChanged,
        )

        if not isinstance(event, CallbacksCalled):
            self.sessionEvent.emit(event)
        match event:
            case CallbacksCalled(records=records):
                self.records.emit(records)
            case StateChanged(state=state):
                name = state_name(state)
                # The Listening event says more than "disconnected" while waiting for a
                # peer, and a listener's Disconnected event says whether it listens again.
                if not (
                    name == "disconnected"
                    and (self._state == "listening" or self._mode == "listen")
                ):
                    self._set_state(name)
            case Listening(port=port):
                self.listening_port = port
                self._set_state("listening")
                self.listening.emit(port)
            case Connected():
                self._set_state("connected")
                self.connected.emit()
            case Disconnected():
                explanation, fix = failure_text(event)
                code = int(event.reason)
                self.last_reason = (code, event.reason.spec_name, explanation, fix)
                self._set_state("disconnected")
                self.disconnected.emit(*self.last_reason)
            case Note(level=level, message=message):
                self.note.emit(level, message)

    async def aclose(self) -> None:
        session = self._session
        if session is not None:
            try:
                await session.disconnect()
            except Exception:
                log.debug("disconnect while closing failed", exc_info=True)
        await self.jobs.wait_all()

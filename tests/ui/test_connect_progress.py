"""Connect progress and Cancel, against a real socket on 127.0.0.1 that accepts the
connection and never answers (the TLS handshake would wait for the 60 s timeout)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from app.xr.values import DisconnectReason
from ui.progress import elapsed_text, next_stage
from ui.window import MainWindow


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections, reads and never writes a byte; closed at the end."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for conn in accepted:
        conn.close()
    listener.close()


def test_cancel_ends_a_connect_to_a_port_that_never_answers(
    qtbot, window: MainWindow, silent_server: int
) -> None:
    e = window.endpoint
    e.set_mode("connect")
    e.host.setText("127.0.0.1")
    e.port.setValue(silent_server)
    e.secure.setChecked(True)
    e.client_panel.token.setText("a-token-that-is-never-sent-0123456789")
    e.connect_button.click()
    # TCP connected; the TLS handshake hangs: the progress says so, with the time.
    qtbot.waitUntil(lambda: e.progress.stage == "TLS", timeout=10_000)
    assert e.connect_button.text() == "Cancel" and e.connect_button.isEnabled()
    assert window.status_progress.isVisible()
    text = window.status_progress.text()
    assert text.startswith(f"Connecting to 127.0.0.1:{silent_server}: TLS handshake")
    assert text.endswith(" s (Esc cancels)")
    e.connect_button.click()  # Cancel
    qtbot.waitUntil(lambda: not e.controller.active, timeout=10_000)
    # Ended by the cancel, not by the handshake timeout, and said as information.
    assert e.controller.last_reason is not None
    assert e.controller.last_reason[0] in (
        int(DisconnectReason.CANCELED),
        int(DisconnectReason.DISCONNECT_REQUEST),
    )
    assert e.reason_label.property("severity") == "info"
    assert "canceled" in e.problem_text()
    assert e.connect_button.text() == "Connect"
    assert not window.status_progress.isVisible()
    # The waterfall of the canceled attempt ends at the stage it was in.
    attempt = window.waterfall.shown()
    assert attempt is not None and attempt.state == "failed"
    assert [s.name for s in attempt.spans] == ["TCP", "TLS"] and attempt.spans[-1].failed


def test_escape_cancels_and_shortcuts_are_set(
    qtbot, window: MainWindow, silent_server: int
) -> None:
    shortcuts = {
        window.start_action: "Ctrl+Return",
        window.cancel_action: "Esc",
        window.stop_action: "Ctrl+D",
        window.inspect_action: "Ctrl+O",
        window.export_action: "Ctrl+E",
        window.help_action: "F1",
    }
    for action, keys in shortcuts.items():
        assert action.shortcut().toString() == QKeySequence(keys).toString(), action.text()
    e = window.endpoint
    e.set_mode("connect")
    e.host.setText("127.0.0.1")
    e.port.setValue(silent_server)
    e.client_panel.token.setText("a-token-that-is-never-sent-0123456789")
    window.activateWindow()
    window.start_action.trigger()  # what Ctrl+Return does
    qtbot.waitUntil(lambda: e.progress.stage == "TLS", timeout=10_000)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not e.controller.active, timeout=10_000)


def test_progress_words() -> None:
    assert next_stage("TCP") == "TLS"
    assert next_stage("authorized request") == "transport"
    assert next_stage("transport") == ""
    assert elapsed_text(1.25 - 0.0) in ("1.2 s", "1.3 s")
    assert elapsed_text(30.0) == "30.0 s"

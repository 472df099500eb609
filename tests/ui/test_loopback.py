"""The real windows, the real session and the built-in runtime over TLS on
127.0.0.1 with ephemeral ports: Listen on one end, Connect on the other."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QTimer

from app.remoting.reasons import explain
from app.security.records import CALLBACK_NAMES
from app.xr.values import DisconnectReason
from tests.ui.conftest import PASSPHRASE, TOKEN
from ui.secrets import NotRememberingStore
from ui.timeline import CALLBACK
from ui.window import MainWindow

CONNECT_TIMEOUT_MS = 20_000


def _window(qtbot, path: Path) -> MainWindow:
    window = MainWindow(
        QSettings(str(path), QSettings.Format.IniFormat), secret_store=NotRememberingStore("tests")
    )
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.fixture
def ends(qtbot, qasync_loop, tmp_path: Path) -> Iterator[tuple[MainWindow, MainWindow]]:
    server = _window(qtbot, tmp_path / "server.ini")
    client = _window(qtbot, tmp_path / "client.ini")
    yield server, client
    for window in (client, server):
        window.endpoint.disconnect()
    for window in (client, server):
        qtbot.waitUntil(lambda w=window: not w.endpoint.controller.active, timeout=15_000)
        qtbot.waitUntil(lambda w=window: not w.jobs.busy, timeout=5_000)


def _listen(qtbot, server: MainWindow, pki_files: dict[str, Path]) -> int:
    e = server.endpoint
    e.set_mode("listen")
    e.set_role("player")
    e.host.setText("127.0.0.1")
    e.port.setValue(0)
    e.transport_port.setValue(0)
    e.secure.setChecked(True)
    panel = e.server_panel
    panel.store_path.setText(str(pki_files["pfx"]))
    panel.passphrase.setText(PASSPHRASE)
    panel.subject_name.setCurrentText("holoremote-test")
    panel.realm.setText("ui-tests")
    panel.shared_secrets.setText(TOKEN)
    e.listen_button.click()
    qtbot.waitUntil(lambda: e.controller.listening_port is not None, timeout=CONNECT_TIMEOUT_MS)
    assert e.state_label.text().startswith("Listening on port")
    assert e.disconnect_button.isEnabled() and not e.listen_button.isEnabled()
    return int(e.controller.listening_port)


def _fill_client(client: MainWindow, port: int, token: str, ca: Path) -> None:
    e = client.endpoint
    e.set_mode("connect")
    e.set_role("remote")
    e.host.setText("127.0.0.1")
    e.port.setValue(port)
    e.secure.setChecked(True)
    e.client_panel.token.setText(token)
    e.client_panel.ca_file.setText(str(ca))


def _callbacks_in(window: MainWindow) -> set[str]:
    window.timeline.flush()
    model = window.timeline.model
    return {model.index(r, CALLBACK).data() for r in range(model.rowCount())}


def test_listen_and_connect_show_all_four_callbacks_and_the_chain(
    qtbot, ends: tuple[MainWindow, MainWindow], pki_files: dict[str, Path]
) -> None:
    server, client = ends
    port = _listen(qtbot, server, pki_files)
    _fill_client(client, port, TOKEN, pki_files["ca"])
    # The UI thread must keep running while the connection is made.
    ticks: list[float] = []
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    heartbeat.start()
    client.endpoint.connect_button.click()
    qtbot.waitUntil(
        lambda: client.endpoint.controller.state == "connected", timeout=CONNECT_TIMEOUT_MS
    )
    heartbeat.stop()
    assert len(ticks) >= 3, "the UI thread did not run timers while connecting"
    longest_gap = max((b - a for a, b in itertools.pairwise(ticks)), default=0.0)
    assert longest_gap < 1.0, f"the UI thread stalled {longest_gap:.2f} s during the connect"
    qtbot.waitUntil(
        lambda: server.endpoint.controller.state == "connected", timeout=CONNECT_TIMEOUT_MS
    )
    assert client.status_state.text() == "Connected"
    qtbot.waitUntil(
        lambda: _callbacks_in(client) | _callbacks_in(server) == set(CALLBACK_NAMES),
        timeout=5_000,
    )
    assert _callbacks_in(client) == {"RequestAuthenticationToken", "ValidateServerCertificate"}
    assert _callbacks_in(server) == {"RequestServerCertificate", "ValidateAuthenticationToken"}
    qtbot.waitUntil(lambda: client.inspector.leaf_subject() != "", timeout=5_000)
    assert "CN=localhost" in client.inspector.leaf_subject()
    assert len(client.inspector.certificate_titles()) == 3
    assert all(client.inspector.check_marks().values())
    client.endpoint.disconnect_button.click()
    qtbot.waitUntil(lambda: not client.endpoint.controller.active, timeout=CONNECT_TIMEOUT_MS)
    assert client.endpoint.connect_button.isEnabled()


def test_wrong_token_shows_authentication_failed_explanation(
    qtbot, ends: tuple[MainWindow, MainWindow], pki_files: dict[str, Path]
) -> None:
    server, client = ends
    port = _listen(qtbot, server, pki_files)
    _fill_client(client, port, "a-wrong-token-of-plausible-length-0123", pki_files["ca"])
    client.endpoint.connect_button.click()
    qtbot.waitUntil(lambda: client.endpoint.problem_text() != "", timeout=CONNECT_TIMEOUT_MS)
    text = client.endpoint.problem_text()
    expected = explain(DisconnectReason.AUTHENTICATION_FAILED)
    assert DisconnectReason.AUTHENTICATION_FAILED.spec_name in text
    assert expected.explanation in text and expected.fix in text
    assert expected.explanation in client.status_detail.text()


def test_loopback_demo_connects_in_one_window(qtbot, qasync_loop, tmp_path: Path) -> None:
    window = _window(qtbot, tmp_path / "demo.ini")
    demo = window.open_loopback_demo()
    qtbot.addWidget(demo)
    qtbot.waitUntil(lambda: demo.client.controller.state == "connected", timeout=CONNECT_TIMEOUT_MS)
    demo.timeline.flush()
    qtbot.waitUntil(
        lambda: (
            {
                demo.timeline.model.index(r, CALLBACK).data()
                for r in range(demo.timeline.model.rowCount())
            }
            == set(CALLBACK_NAMES)
        ),
        timeout=5_000,
    )
    assert "Connected securely" in demo.status.text()
    demo.stop()
    qtbot.waitUntil(
        lambda: not demo.client.controller.active and not demo.server.controller.active,
        timeout=CONNECT_TIMEOUT_MS,
    )
    qtbot.waitUntil(lambda: not demo.jobs.busy and not window.jobs.busy, timeout=5_000)

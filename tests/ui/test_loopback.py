"""The real windows, the real session and the built-in runtime over TLS on
127.0.0.1 with ephemeral ports: Listen on one end, Connect on the other."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QLabel, QPlainTextEdit

from app.outcomes import Outcome
from app.remoting.reasons import explain
from app.security.testpki import GeneratedPki
from app.xr.records import CALLBACK_NAMES
from app.xr.values import DisconnectReason
from tests.ui.conftest import PASSPHRASE, TOKEN, _window
from tests.ui.ui_paced_proxy import UiPacedProxy
from ui.outcome_style import is_dark, styles
from ui.timeline import CALLBACK, OUTCOME, OUTCOME_ROLE
from ui.tofu import TofuDialog
from ui.window import MainWindow

CONNECT_TIMEOUT_MS = 20_000


def _pfx_with_shared_secret(panel, pki_files: dict[str, Path]) -> None:
    panel.store_path.setText(str(pki_files["pfx"]))
    panel.passphrase.setText(PASSPHRASE)
    panel.subject_name.setCurrentText("holoremote-test")
    panel.shared_secrets.setText(TOKEN)


def _listen(
    qtbot,
    server: MainWindow,
    pki_files: dict[str, Path],
    configure: Callable[..., None] = _pfx_with_shared_secret,
) -> int:
    """Listen on ephemeral ports; `configure(server_panel, pki_files)` fills the
    certificate and token fields (default: the .pfx and the shared secret)."""
    e = server.endpoint
    e.set_mode("listen")
    e.set_role("player")
    e.listen_interface.setText("127.0.0.1")
    e.port.setValue(0)
    e.transport_port.setValue(0)
    e.secure.setChecked(True)
    e.server_panel.realm.setText("ui-tests")
    configure(e.server_panel, pki_files)
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


def _connect_with_a_wrong_token(
    qtbot, server: MainWindow, client: MainWindow, pki_files: dict[str, Path]
) -> int:
    """The server listens; the client tries with a token it does not accept."""
    port = _listen(qtbot, server, pki_files)
    _fill_client(client, port, "a-wrong-token-of-plausible-length-0123", pki_files["ca"])
    client.endpoint.connect_button.click()
    return port


def _wait_connected(qtbot, *windows: MainWindow) -> None:
    for window in windows:
        qtbot.waitUntil(
            lambda w=window: w.endpoint.controller.state == "connected",
            timeout=CONNECT_TIMEOUT_MS,
        )


def _wait_listening_again(qtbot, server: MainWindow, port: int) -> None:
    qtbot.waitUntil(
        lambda: (
            server.endpoint.controller.state == "listening"
            and server.endpoint.controller.listening_port == port
        ),
        timeout=CONNECT_TIMEOUT_MS,
    )


def _callbacks_in(window: MainWindow) -> set[str]:
    return {r.callback for r in window.timeline.model.callback_records()}


def test_listen_and_connect_show_all_four_callbacks_and_the_chain(
    qtbot, ends: tuple[MainWindow, MainWindow], pki_files: dict[str, Path]
) -> None:
    server, client = ends
    port = _listen(qtbot, server, pki_files)
    _fill_client(client, port, TOKEN, pki_files["ca"])
    client.endpoint.connect_button.click()
    _wait_connected(qtbot, client, server)
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
    _connect_with_a_wrong_token(qtbot, server, client, pki_files)
    qtbot.waitUntil(lambda: client.endpoint.problem_text() != "", timeout=CONNECT_TIMEOUT_MS)
    text = client.endpoint.problem_text()
    expected = explain(DisconnectReason.AUTHENTICATION_FAILED)
    assert DisconnectReason.AUTHENTICATION_FAILED.spec_name in text
    assert expected.explanation in text and expected.fix in text
    assert expected.explanation in client.status_detail.text()


def test_refused_connection_names_the_address_in_the_status(
    qtbot, ends: tuple[MainWindow, MainWindow], pki_files: dict[str, Path]
) -> None:
    """The runtime's own detail (which address refused) comes before the explanation."""
    import socket

    _server, client = ends
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    _fill_client(client, port, TOKEN, pki_files["ca"])
    client.endpoint.connect_button.click()
    qtbot.waitUntil(lambda: client.endpoint.problem_text() != "", timeout=CONNECT_TIMEOUT_MS)
    text = client.endpoint.problem_text()
    assert DisconnectReason.HANDSHAKE_CONNECTION_REFUSED.spec_name in text
    assert f"127.0.0.1:{port}" in text
    assert explain(DisconnectReason.HANDSHAKE_CONNECTION_REFUSED).explanation in text


def test_closing_while_the_demo_makes_its_pki_starts_nothing_and_ends(
    qtbot, qasync_loop, tmp_path: Path
) -> None:
    """Closing the window (the demo with it) while the demo still makes its PKI: the
    PKI job's end no longer starts a listener nobody will stop, so the window's
    closing finishes (it waited for that listener for ever) and no runtime is left."""
    import asyncio

    window = _window(qtbot, tmp_path / "demo.ini")
    demo = window.open_loopback_demo()
    assert demo.jobs.busy  # the PKI is being made
    window.close()
    closing = asyncio.ensure_future(window.aclose())
    qtbot.waitUntil(closing.done, timeout=CONNECT_TIMEOUT_MS)
    closing.result()
    qtbot.waitUntil(lambda: not demo.jobs.busy, timeout=CONNECT_TIMEOUT_MS)
    for end in (demo.server, demo.client):
        assert not end.controller.active and not end.jobs.busy and not end.controller.jobs.busy
    # Run after a Stop still works: a new Run is not the stopped one.
    demo.run()
    assert demo.jobs.busy
    demo.stop()
    qtbot.waitUntil(lambda: not demo.jobs.busy, timeout=CONNECT_TIMEOUT_MS)
    assert not demo.server.controller.active


def test_loopback_demo_connects_in_one_window(qtbot, qasync_loop, tmp_path: Path) -> None:
    window = _window(qtbot, tmp_path / "demo.ini")
    demo = window.open_loopback_demo()
    qtbot.addWidget(demo)
    qtbot.waitUntil(lambda: demo.client.controller.state == "connected", timeout=CONNECT_TIMEOUT_MS)
    qtbot.waitUntil(
        lambda: {r.callback for r in demo.timeline.model.callback_records()} == set(CALLBACK_NAMES),
        timeout=5_000,
    )
    assert "Connected securely" in demo.status.text()
    # The server pane names the store it serves, not "No store loaded."
    store = demo.server.server_panel
    qtbot.waitUntil(lambda: "PKCS#12" in store.store_status.text(), timeout=5_000)
    assert store.store_path.text() in store.store_status.text()
    assert store.subject_name.currentText() == "holoremote-demo"
    # Both ends' state and Run / Stop are in the header, whatever the panes' scroll.
    # Each end learns of the connection from its own session's events, the server's
    # possibly after the client's: wait for both labels, not for the client alone.
    qtbot.waitUntil(
        lambda: (
            (demo.client_state.text(), demo.server_state.text())
            == ("Client: Connected", "Server: Connected")
        ),
        timeout=5_000,
    )
    assert demo.stop_button.isEnabled() and not demo.run_button.isEnabled()
    demo.stop_button.click()
    qtbot.waitUntil(
        lambda: not demo.client.controller.active and not demo.server.controller.active,
        timeout=CONNECT_TIMEOUT_MS,
    )
    assert "Connected securely" not in demo.status.text()
    assert demo.run_button.isEnabled() and not demo.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not demo.jobs.busy and not window.jobs.busy, timeout=5_000)
    # Run again: the same two ends connect again.
    demo.run_button.click()
    qtbot.waitUntil(lambda: demo.client.controller.state == "connected", timeout=CONNECT_TIMEOUT_MS)
    demo.stop_button.click()
    qtbot.waitUntil(
        lambda: not demo.client.controller.active and not demo.server.controller.active,
        timeout=CONNECT_TIMEOUT_MS,
    )
    qtbot.waitUntil(lambda: not demo.jobs.busy and not window.jobs.busy, timeout=5_000)


# --- the UI thread during a slow connect ------------------------------------------------

TICK_MS = 10
# Every chunk of the handshake, each way, waits for this many more ticks of a timer on
# the UI thread: the connect can only finish if the UI thread keeps running during it.
TICKS_PER_CHUNK = 3


def test_ui_thread_keeps_running_during_a_slow_secure_connect(
    qtbot, ends: tuple[MainWindow, MainWindow], pki_files: dict[str, Path]
) -> None:
    """No clock: the proxy lets the handshake's bytes through only as the UI thread's
    timer ticks, so a connect that waited on the UI thread would never finish (the
    wait below fails) instead of finishing slowly."""
    server, client = ends
    port = _listen(qtbot, server, pki_files)
    with UiPacedProxy(port, TICKS_PER_CHUNK) as proxy:
        _fill_client(client, proxy.port, TOKEN, pki_files["ca"])
        heartbeat = QTimer()
        heartbeat.setInterval(TICK_MS)
        heartbeat.timeout.connect(proxy.tick)
        heartbeat.start()
        client.endpoint.connect_button.click()
        qtbot.waitUntil(
            lambda: client.endpoint.controller.state == "connected",
            timeout=CONNECT_TIMEOUT_MS,
        )
        heartbeat.stop()
        assert proxy.connections >= 1, "the client did not go through the paced link"
        # TLS, the challenge and the token each crossed the proxy at the UI's pace.
        assert proxy.chunks_released >= 4


# --- other server settings: a PEM certificate + key pair, JWT tokens -------------------


def _pem_pair(pki: GeneratedPki, folder: Path) -> tuple[Path, Path]:
    """The chain (leaf first) as PEM, and the leaf's key in its own PEM file,
    encrypted with the passphrase."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "server-chain.pem", folder / "server-key.pem"
    cert.write_bytes(pki.chain_pem)
    key.write_bytes(
        pki.server.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(PASSPHRASE.encode()),
        )
    )
    return cert, key


def _connect(qtbot, client: MainWindow, port: int, token: str, ca: Path) -> None:
    _fill_client(client, port, token, ca)
    client.endpoint.connect_button.click()


def test_listen_with_a_pem_certificate_and_key_pair(
    qtbot, ends: tuple[MainWindow, MainWindow], pki: GeneratedPki, pki_files, tmp_path: Path
) -> None:
    server, client = ends
    cert, key = _pem_pair(pki, tmp_path / "pem")

    def pem_pair(panel, _files) -> None:
        panel.store_path.setText(str(cert))
        panel.key_path.setText(str(key))
        panel.passphrase.setText(PASSPHRASE)
        panel.subject_name.setCurrentText("")  # the only certificate with a key
        panel.shared_secrets.setText(TOKEN)

    port = _listen(qtbot, server, pki_files, pem_pair)
    _connect(qtbot, client, port, TOKEN, pki_files["ca"])
    qtbot.waitUntil(
        lambda: client.endpoint.controller.state == "connected", timeout=CONNECT_TIMEOUT_MS
    )
    qtbot.waitUntil(lambda: client.inspector.leaf_subject() != "", timeout=5_000)
    assert "CN=localhost" in client.inspector.leaf_subject()
    assert len(client.inspector.certificate_titles()) == 3
    assert all(client.inspector.check_marks().values())


ISSUER = "https://idp.example.test"
AUDIENCE = "holoremote-ui-tests"


@pytest.fixture(scope="module")
def idp_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "ui-test-key"})


def _jwt(key: ECKey, expires_in: int) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "headset-7",
        "iat": now,
        "nbf": now - 5,
        "exp": now + expires_in,
    }
    return jwt.encode({"alg": "ES256", "kid": "ui-test-key"}, claims, key)


def _jwt_server(jwks: Path) -> Callable[..., None]:
    def configure(panel, files) -> None:
        panel.store_path.setText(str(files["pfx"]))
        panel.passphrase.setText(PASSPHRASE)
        panel.subject_name.setCurrentText("holoremote-test")
        panel.token_mode.setCurrentIndex(panel.token_mode.findData("jwt"))
        panel.jwt_key.setText(str(jwks))
        panel.jwt_issuer.setText(ISSUER)
        panel.jwt_audience.setText(AUDIENCE)

    return configure


@pytest.fixture
def jwks_file(idp_key: ECKey, tmp_path: Path) -> Path:
    path = tmp_path / "idp-jwks.json"
    path.write_text(json.dumps(KeySet([idp_key]).as_dict(private=False)))
    return path


def test_jwt_settings_accept_a_jwt_from_the_client(
    qtbot, ends: tuple[MainWindow, MainWindow], pki_files, idp_key: ECKey, jwks_file: Path
) -> None:
    server, client = ends
    port = _listen(qtbot, server, pki_files, _jwt_server(jwks_file))
    _connect(qtbot, client, port, _jwt(idp_key, expires_in=300), pki_files["ca"])
    qtbot.waitUntil(
        lambda: server.endpoint.controller.state == "connected", timeout=CONNECT_TIMEOUT_MS
    )
    qtbot.waitUntil(lambda: "ValidateAuthenticationToken" in _callbacks_in(server), timeout=5_000)
    model = server.timeline.model
    results = {r.callback: r.outputs for r in model.callback_records()}
    assert results["ValidateAuthenticationToken"].get("tokenValidOut") is True


def test_jwt_settings_refuse_an_expired_jwt(
    qtbot, ends: tuple[MainWindow, MainWindow], pki_files, idp_key: ECKey, jwks_file: Path
) -> None:
    server, client = ends
    port = _listen(qtbot, server, pki_files, _jwt_server(jwks_file))
    _connect(qtbot, client, port, _jwt(idp_key, expires_in=-3600), pki_files["ca"])
    qtbot.waitUntil(lambda: client.endpoint.problem_text() != "", timeout=CONNECT_TIMEOUT_MS)
    assert DisconnectReason.AUTHENTICATION_FAILED.spec_name in client.endpoint.problem_text()
    assert explain(DisconnectReason.AUTHENTICATION_FAILED).fix in client.status_detail.text()
    qtbot.waitUntil(lambda: "ValidateAuthenticationToken" in _callbacks_in(server), timeout=5_000)
    outputs = [
        r.outputs
        for r in server.timeline.model.callback_records()
        if r.callback == "ValidateAuthenticationToken"
    ]
    assert outputs and all(o.get("tokenValidOut") is False for o in outputs)


def test_listen_goes_on_after_a_refused_client_and_disconnect_stops_it(
    qtbot, ends: tuple[MainWindow, MainWindow], pki_files: dict[str, Path]
) -> None:
    """As `holoremote listen`: a client with a wrong token is refused (shown in the
    status bar and the timeline) and the same listener then takes the right client."""
    server, client = ends
    port = _connect_with_a_wrong_token(qtbot, server, client, pki_files)
    refused = DisconnectReason.AUTHENTICATION_FAILED.spec_name
    qtbot.waitUntil(lambda: refused in server.status_detail.text(), timeout=CONNECT_TIMEOUT_MS)
    qtbot.waitUntil(
        lambda: (
            server.endpoint.controller.listening_port == port
            and server.endpoint.controller.state == "listening"
        ),
        timeout=CONNECT_TIMEOUT_MS,
    )
    assert server.endpoint.disconnect_button.isEnabled()
    assert not server.endpoint.listen_button.isEnabled()
    assert server.status_state.text() == f"Listening on port {port}"
    assert refused in server.status_detail.text()  # still shown while listening again
    model = server.timeline.model
    rows = [
        r
        for r in range(model.rowCount())
        if getattr(model.record(r), "callback", "") == "ValidateAuthenticationToken"
    ]
    assert len(rows) == 1 and model.record(rows[0]).outputs.get("tokenValidOut") is False
    # XR_SUCCESS with tokenValidOut=false: the row says, shows and colours a refusal.
    assert model.record(rows[0]).result == 0
    assert model.index(rows[0], OUTCOME).data() == "refused by policy"
    assert model.index(rows[0], OUTCOME).data(OUTCOME_ROLE) is Outcome.REFUSED
    refused_brush = model.index(rows[0], CALLBACK).data(Qt.ItemDataRole.ForegroundRole)
    assert refused_brush is not None
    assert refused_brush.color() == QColor(styles(is_dark())[Outcome.REFUSED].foreground)
    # The connection events are rows too: listening, the refusal, listening again.
    titles = [model.index(r, CALLBACK).data() for r in range(model.rowCount())]
    assert titles.count(f"Listening on port {port}") >= 1
    assert any(t.startswith("Disconnected: ") and "AUTHENTICATION_FAILED" in t for t in titles)
    qtbot.waitUntil(lambda: not client.endpoint.controller.active, timeout=CONNECT_TIMEOUT_MS)

    client.endpoint.client_panel.token.setText(TOKEN)
    client.endpoint.connect_button.click()
    _wait_connected(qtbot, server, client)
    assert server.endpoint.problem_text() == ""  # the earlier refusal is over
    server.endpoint.disconnect_button.click()
    qtbot.waitUntil(lambda: not server.endpoint.controller.active, timeout=CONNECT_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not client.endpoint.controller.active, timeout=CONNECT_TIMEOUT_MS)
    assert server.endpoint.listen_button.isEnabled()


def test_a_connect_clicked_while_the_failed_one_still_closes_keeps_its_own_state(
    qtbot, ends: tuple[MainWindow, MainWindow], pki_files: dict[str, Path]
) -> None:
    """Connect pressed again as soon as an attempt failed: the failed attempt's session
    is still closing (its runtime shuts down off the UI thread) while the new one
    starts. Its end must not be taken for the new session's: the window once showed
    "Disconnected" (idle, Connect enabled) while the new session went on connecting,
    or for good once it was connected."""
    import socket

    server, client = ends
    port = _listen(qtbot, server, pki_files)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = int(probe.getsockname()[1])
    _fill_client(client, closed_port, TOKEN, pki_files["ca"])
    controller = client.endpoint.controller
    states: list[str] = []
    failed_jobs = controller.jobs.count

    def again_at_once(*_reason: object) -> None:
        if client.endpoint.port.value() == closed_port:
            # The failed attempt's last event: its session is not closed yet.
            states.append("(failed)")
            client.endpoint.port.setValue(port)
            client.endpoint.connect_button.click()

    controller.stateChanged.connect(states.append)
    controller.disconnected.connect(again_at_once)
    client.endpoint.connect_button.click()
    qtbot.waitUntil(lambda: client.endpoint.port.value() == port, timeout=CONNECT_TIMEOUT_MS)
    _wait_connected(qtbot, server, client)
    # The failed attempt's job has ended (its session closed): only the new one runs.
    qtbot.waitUntil(lambda: controller.jobs.count == failed_jobs + 1, timeout=CONNECT_TIMEOUT_MS)
    second = states[states.index("(failed)") + 1 :]
    assert second == ["starting", "connecting", "connected"]
    assert controller.state == "connected" and controller.active
    assert client.endpoint.disconnect_button.isEnabled()
    client.endpoint.disconnect_button.click()
    qtbot.waitUntil(lambda: not controller.active, timeout=CONNECT_TIMEOUT_MS)
    qtbot.waitUntil(lambda: controller.jobs.count == failed_jobs, timeout=CONNECT_TIMEOUT_MS)
    assert states[-2:] == ["disconnected", "idle"]


def test_disconnect_stops_a_listener_that_refused_a_client(
    qtbot, ends: tuple[MainWindow, MainWindow], pki_files: dict[str, Path]
) -> None:
    server, client = ends
    _connect_with_a_wrong_token(qtbot, server, client, pki_files)
    qtbot.waitUntil(
        lambda: DisconnectReason.AUTHENTICATION_FAILED.spec_name in server.status_detail.text(),
        timeout=CONNECT_TIMEOUT_MS,
    )
    qtbot.waitUntil(
        lambda: server.endpoint.controller.state == "listening", timeout=CONNECT_TIMEOUT_MS
    )
    server.endpoint.disconnect_button.click()
    qtbot.waitUntil(lambda: not server.endpoint.controller.active, timeout=CONNECT_TIMEOUT_MS)
    assert server.endpoint.listen_button.isEnabled()


# --- trust on first use, end to end ---------------------------------------------------


def _leaf_sha256(pki: GeneratedPki) -> str:
    return hashlib.sha256(pki.chain[0].public_bytes(serialization.Encoding.DER)).hexdigest()


def _hex(text: str) -> str:
    """Only the hex digits, lower case (thumbprints are shown with or without colons)."""
    return "".join(c for c in text.lower() if c in "0123456789abcdef")


def _fill_tofu_client(client: MainWindow, port: int, known_hosts: Path) -> None:
    """No CA file and no pin: the test PKI is unknown to the client; trust on first
    use asks the person and remembers the answer in `known_hosts`."""
    _fill_client(client, port, TOKEN, Path())
    p = client.endpoint.client_panel
    p.ca_file.clear()
    p.pin.clear()
    p.tofu.setChecked(True)
    p.known_hosts.setText(str(known_hosts))


def _tofu_dialog(qtbot, client: MainWindow) -> TofuDialog:
    """The dialog the client's prompter opened, found among the top-level widgets."""

    def shown() -> list[TofuDialog]:
        return [
            w for w in QApplication.topLevelWidgets() if isinstance(w, TofuDialog) and w.isVisible()
        ]

    qtbot.waitUntil(lambda: len(shown()) == 1, timeout=CONNECT_TIMEOUT_MS)
    dialog = shown()[0]
    assert client.tofu.open_dialogs() == [dialog]
    return dialog


@pytest.fixture
def asked(ends: tuple[MainWindow, MainWindow]) -> list[TofuDialog]:
    """Every dialog the client's prompter opens."""
    dialogs: list[TofuDialog] = []
    ends[1].tofu.asked.connect(dialogs.append)
    return dialogs


def test_tofu_dialog_trust_connects_remembers_and_is_not_asked_again(
    qtbot,
    ends: tuple[MainWindow, MainWindow],
    pki: GeneratedPki,
    pki_files: dict[str, Path],
    tmp_path: Path,
    asked: list[TofuDialog],
) -> None:
    server, client = ends
    known_hosts = tmp_path / "tofu" / "known_hosts"
    port = _listen(qtbot, server, pki_files)
    _fill_tofu_client(client, port, known_hosts)
    client.endpoint.connect_button.click()

    dialog = _tofu_dialog(qtbot, client)
    thumbprint = dialog.findChild(QLabel, "tofuThumbprint").text()
    assert _leaf_sha256(pki) in _hex(thumbprint)
    assert "trustedRoot" in thumbprint  # why the system did not trust it
    assert f"127.0.0.1:{port}" in dialog.findChild(QLabel, "tofuIntro").text()
    chain = dialog.findChild(QPlainTextEdit, "tofuChain").toPlainText()
    assert "CN=localhost" in chain and "issuer 2" in chain  # the chain the server sent
    assert client.endpoint.controller.state == "connecting"  # waiting for the answer
    assert not known_hosts.exists()
    # The call waiting for the answer is in the timeline already, as running.
    model = client.timeline.model

    def running_rows() -> list[int]:
        return [
            r
            for r in range(model.rowCount())
            if model.index(r, CALLBACK).data() == "ValidateServerCertificate"
            and model.index(r, OUTCOME).data(OUTCOME_ROLE) is Outcome.RUNNING
        ]

    qtbot.waitUntil(lambda: len(running_rows()) == 1, timeout=5_000)
    row = running_rows()[0]
    dialog.trust_button.click()

    _wait_connected(qtbot, client, server)
    # Completed in place when it returned: the same row, now a success, no second row.
    qtbot.waitUntil(
        lambda: model.index(row, OUTCOME).data(OUTCOME_ROLE) is Outcome.SUCCESS, timeout=5_000
    )
    assert model.index(row, CALLBACK).data() == "ValidateServerCertificate"
    calls = [model.index(r, CALLBACK).data() for r in range(model.rowCount())]
    assert calls.count("ValidateServerCertificate") == 1
    assert client.status_state.text() == "Connected"
    entries = [
        line.split() for line in known_hosts.read_text().splitlines() if not line.startswith("#")
    ]
    assert entries == [[f"127.0.0.1:{port}", _leaf_sha256(pki)]]
    assert client.tofu.open_dialogs() == []

    # Reconnect: the remembered certificate is trusted without asking.
    client.endpoint.disconnect_button.click()
    qtbot.waitUntil(lambda: not client.endpoint.controller.active, timeout=15_000)
    # The listener listens again by itself, on the same host:port (the known-hosts line).
    _wait_listening_again(qtbot, server, port)
    client.endpoint.connect_button.click()
    _wait_connected(qtbot, client, server)
    assert len(asked) == 1
    assert client.tofu.open_dialogs() == []
    assert known_hosts.read_text().count(_leaf_sha256(pki)) == 1


def test_tofu_dialog_refuse_fails_the_handshake_and_remembers_nothing(
    qtbot,
    ends: tuple[MainWindow, MainWindow],
    pki: GeneratedPki,
    pki_files: dict[str, Path],
    tmp_path: Path,
    asked: list[TofuDialog],
) -> None:
    server, client = ends
    known_hosts = tmp_path / "tofu" / "known_hosts"
    port = _listen(qtbot, server, pki_files)
    _fill_tofu_client(client, port, known_hosts)
    client.endpoint.connect_button.click()

    dialog = _tofu_dialog(qtbot, client)
    assert _leaf_sha256(pki) in _hex(dialog.findChild(QLabel, "tofuThumbprint").text())
    dialog.refuse_button.click()

    qtbot.waitUntil(lambda: client.endpoint.problem_text() != "", timeout=CONNECT_TIMEOUT_MS)
    assert client.endpoint.controller.last_reason is not None
    code, spec, _explanation, _fix = client.endpoint.controller.last_reason
    assert code == int(DisconnectReason.HANDSHAKE_CONNECTION_FAILED)
    assert spec == DisconnectReason.HANDSHAKE_CONNECTION_FAILED.spec_name
    status = client.status_detail.text()
    assert spec in status and "trustedRoot" in status
    qtbot.waitUntil(lambda: not client.endpoint.controller.active, timeout=CONNECT_TIMEOUT_MS)
    assert client.endpoint.connect_button.isEnabled()
    assert not known_hosts.exists()
    assert len(asked) == 1 and client.tofu.open_dialogs() == []

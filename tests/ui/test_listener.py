"""The window as a listener, with real sockets on 127.0.0.1: its own interface field,
listening again after each session (unless "once"), the Share panel whose pin is the
served certificate's (checked against `openssl x509 -fingerprint -sha256` of what
`openssl s_client` received), and a clean disconnect shown as information."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path

from PySide6.QtGui import QGuiApplication, QImage

from app.share import ShareInfo
from tests.ui.conftest import TOKEN
from tests.ui.test_loopback import (
    CONNECT_TIMEOUT_MS,
    _fill_client,
    _listen,
    _wait_connected,
    _wait_listening_again,
)
from ui import session_opening
from ui.qr import QUIET_ZONE, module_count, qr_device_image
from ui.share_panel import machine_addresses
from ui.window import MainWindow

TOOL_TIMEOUT_S = 20


def _in_thread(qtbot, work):  # type: ignore[no-untyped-def]
    """Run a blocking tool off the Qt thread (the listener runs on this thread's loop)
    and wait for it while Qt keeps running."""
    result: dict[str, object] = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", work()), daemon=True)
    thread.start()
    qtbot.waitUntil(lambda: "value" in result, timeout=TOOL_TIMEOUT_S * 1000)
    thread.join()
    return result["value"]


def _openssl_fingerprint_of_served_certificate(port: int, require_tool) -> str:  # type: ignore[no-untyped-def]
    openssl = require_tool("openssl")
    hello = subprocess.run(
        [openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost"],
        input="",
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    leaf = re.search(
        r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", hello.stdout, re.DOTALL
    )
    assert leaf, hello.stdout + hello.stderr
    fingerprint = subprocess.run(
        [openssl, "x509", "-noout", "-fingerprint", "-sha256"],
        input=leaf.group(0),
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=True,
    )
    # "sha256 Fingerprint=AB:CD:..." (the label's case differs between versions)
    return fingerprint.stdout.strip().split("=", 1)[1].replace(":", "").lower()


def test_share_panel_pin_is_the_served_certificates_openssl_fingerprint(
    qtbot, ends: tuple[MainWindow, MainWindow], pki_files: dict[str, Path], require_tool
) -> None:
    server, _client = ends
    port = _listen(qtbot, server, pki_files)
    panel = server.endpoint.share_panel
    failures: list[object] = []
    server.endpoint.jobs.failed.connect(lambda what, exc: failures.append((what, exc)))
    qtbot.waitUntil(lambda: bool(failures) or panel.pin.text() != "", timeout=10_000)
    assert not failures
    assert panel.isVisible()
    served = _in_thread(
        qtbot, lambda: _openssl_fingerprint_of_served_certificate(port, require_tool)
    )
    assert panel.pin.text() == f"SHA256:{served}"
    # Listening on loopback only: that one address, with the port.
    assert [panel.addresses.item(r).text() for r in range(panel.addresses.count())] == [
        f"127.0.0.1:{port}"
    ]
    assert panel.command.text() == f"holoremote connect 127.0.0.1:{port} --pin SHA256:{served}"
    assert panel.qr.text() == panel.command.text()
    assert TOKEN not in panel.command.text()
    panel.copy_pin.click()
    assert QGuiApplication.clipboard().text() == panel.pin.text()
    server.endpoint.disconnect_button.click()
    qtbot.waitUntil(lambda: not server.endpoint.controller.active, timeout=CONNECT_TIMEOUT_MS)
    assert not panel.isVisible()


def test_a_listener_serves_two_clients_one_after_the_other(
    qtbot, ends: tuple[MainWindow, MainWindow], pki_files: dict[str, Path]
) -> None:
    server, client = ends
    port = _listen(qtbot, server, pki_files)
    _fill_client(client, port, TOKEN, pki_files["ca"])
    for served in (1, 2):
        client.endpoint.connect_button.click()
        _wait_connected(qtbot, client, server)
        # The client ends the session: the listener says so as information, and
        # listens again on the same port.
        client.endpoint.disconnect_button.click()
        qtbot.waitUntil(lambda: not client.endpoint.controller.active, timeout=CONNECT_TIMEOUT_MS)
        _wait_listening_again(qtbot, server, port)
        assert server.endpoint.controller.sessions_served == served
        qtbot.waitUntil(lambda: server.endpoint.reason_label.isVisible(), timeout=5_000)
        assert server.endpoint.reason_label.property("severity") == "info"
        assert "closed the session" in server.endpoint.problem_text()
        assert "Fix" not in server.endpoint.problem_text()


def test_once_stops_after_one_session(
    qtbot, ends: tuple[MainWindow, MainWindow], pki_files: dict[str, Path]
) -> None:
    server, client = ends
    server.endpoint.listen_once.setChecked(True)
    port = _listen(qtbot, server, pki_files)
    _fill_client(client, port, TOKEN, pki_files["ca"])
    client.endpoint.connect_button.click()
    _wait_connected(qtbot, client, server)
    client.endpoint.disconnect_button.click()
    qtbot.waitUntil(lambda: not server.endpoint.controller.active, timeout=CONNECT_TIMEOUT_MS)
    assert server.endpoint.listen_button.isEnabled()
    assert server.endpoint.controller.sessions_served == 0


def test_listen_interface_is_its_own_field_all_interfaces_by_default(window: MainWindow) -> None:
    e = window.endpoint
    assert e.listen_interface.text() == "0.0.0.0"
    assert e.settings().listen_interface == "0.0.0.0"
    e.set_mode("connect")
    e.host.setText("headset.lab")
    e.set_mode("listen")
    assert e.listen_interface.text() == "0.0.0.0"  # not the client's host
    assert e.settings().host == "headset.lab"
    e.loopback_button.click()
    assert e.settings().listen_interface == "127.0.0.1"
    e.all_interfaces_button.click()
    assert e.settings().listen_interface == "0.0.0.0"
    assert session_opening.session_config_for(e.settings()).listen_interface == "0.0.0.0"
    assert "127.0.0.1" in machine_addresses()  # Qt's view of this machine's interfaces


def test_mode_change_clears_the_last_problem(window: MainWindow) -> None:
    e = window.endpoint
    e.set_mode("listen")
    e.show_problem("Could not start", "something about the store", "pick another file")
    assert e.problem_text() != ""
    e.set_mode("connect")
    assert e.problem_text() == ""
    assert window.status_detail.text() == ""
    e.show_problem("Could not start", "the CA file is not PEM", "pick another file")
    e.client_panel.ca_file.setText("/elsewhere/ca.pem")
    assert e.problem_text() == ""


def test_share_info_lists_every_address_and_a_connect_line() -> None:
    from app.share import reachable_addresses

    addresses = reachable_addresses(
        "0.0.0.0", ["127.0.0.1", "192.168.1.20", "fe80::1%eth0", "10.0.0.5", "::1"]
    )
    assert addresses == ("10.0.0.5", "192.168.1.20", "127.0.0.1")
    # Reachable from elsewhere first, loopback last.
    assert reachable_addresses("::", ["::1", "2001:db8::5", "127.0.0.1"]) == (
        "2001:db8::5",
        "127.0.0.1",
        "::1",
    )
    assert reachable_addresses("192.168.1.20", ["10.0.0.5"]) == ("192.168.1.20",)
    info = ShareInfo(("192.168.1.20",), 8265, "SHA256:" + "ab" * 32)
    assert info.connect_command() == f"holoremote connect 192.168.1.20 --pin SHA256:{'ab' * 32}"
    plain = ShareInfo(("2001:db8::5",), 9000, "", listener_role="remote")
    assert plain.connect_command() == (
        "holoremote connect '[2001:db8::5]:9000' --plain --role player"
    )


def _module_edges_are_sharp(image: QImage, modules: int) -> bool:
    """Every module is a whole block of one colour (no grey, no half pixels)."""
    scale = image.width() // modules
    if scale * modules != image.width():
        return False
    colours = {image.pixel(x, y) for x in range(image.width()) for y in range(0, image.height(), 7)}
    return colours <= {0xFF000000, 0xFFFFFFFF}


def test_qr_code_is_sharp_at_any_device_pixel_ratio() -> None:
    text = "holoremote connect 192.168.1.20 --pin SHA256:" + "ab" * 32
    modules = module_count(text)
    assert modules > 2 * QUIET_ZONE
    for ratio in (1.0, 1.25, 1.5, 2.0, 3.0):
        image = qr_device_image(text, side_px=220, device_pixel_ratio=ratio)
        assert image.devicePixelRatio() == ratio
        assert image.width() % modules == 0  # a whole number of device pixels per module
        assert image.width() <= 220 * ratio  # fits the logical size
        assert image.width() / ratio > 220 - modules * 1.0 / ratio - 1 or ratio < 1
        assert _module_edges_are_sharp(image, modules)


def test_qtnetwork_is_loaded_only_when_a_listener_shares() -> None:
    """~40 ms of the window's start: imported by `machine_addresses`, not at start."""
    import subprocess
    import sys

    from tests.reference import REPO_ROOT

    code = "import sys, ui.window; print('PySide6.QtNetwork' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
        check=True,
    )
    assert result.stdout.strip() == "False"

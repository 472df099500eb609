"""`python -m ui.screenshots DIR` (`make screenshots`): the README's pictures.

Renders, with the real engine and no network beyond 127.0.0.1:
- `idle.png`: the main window as it opens;
- `connected-timeline.png`: the loopback demo after both ends connected securely,
  with the four callbacks in the timeline;
- `inspector-failed-check.png`: the chain inspector after verifying a fresh test
  chain for a host name it was not issued for (nameMismatch fails);
- `session-stream.png`: the Loopback demo's Player showing the Remote's test stream
  (fps, dropped frames, end-to-end latency drawn over it);
- `session-plot.png`: the Remote's Session tab after a link test, with its plot of
  round-trip time and throughput;
- `share-panel.png`: a second window listening on 127.0.0.1, with its Share panel
  (address, port, SHA-256 pin, QR code of the connect line);
- `waterfall.png`: the first window connected to it, its handshake waterfall;
- `dark-timeline.png`: the main window in the Fusion dark palette.

Runs offscreen unless QT_QPA_PLATFORM says otherwise, with settings in a temporary
folder so the user's own settings neither show nor change.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QScrollArea, QWidget

if TYPE_CHECKING:
    from ui.window import MainWindow

STEP_TIMEOUT_S = 30.0
SIZE = (1400, 900)


async def _until(
    condition: Callable[[], bool],
    what: str,
    timeout: float = STEP_TIMEOUT_S,
    failure: Callable[[], str] = lambda: "",
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        problem = failure()
        if problem:
            raise RuntimeError(f"screenshots: {what} failed: {problem}")
        if loop.time() > deadline:
            raise TimeoutError(f"screenshots: timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _save(widget: QWidget, path: Path) -> None:
    QApplication.processEvents()
    if not widget.grab().save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    print(f"wrote {path}")


async def render(out_dir: Path) -> None:
    from ui.secrets import NotRememberingStore
    from ui.window import MainWindow

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="holoremote-shots-") as scratch:
        settings = QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, secret_store=NotRememberingStore("screenshots"))
        window.resize(*SIZE)
        # The known-hosts default lives under the home folder: show it as ~, not as
        # the home of the account that renders the pictures (often /root).
        known_hosts = window.endpoint.client_panel.known_hosts
        known_hosts.setText(known_hosts.text().replace(str(Path.home()), "~", 1))
        window.show()
        await asyncio.sleep(0.2)
        _save(window, out_dir / "idle.png")

        # Inspector with a failed check: a fresh test chain verified for another host.
        from ui import credentials

        files = await asyncio.to_thread(
            credentials.create_test_pki,
            str(Path(scratch) / "pki"),
            ["headset.lab.example"],
            ["192.0.2.10"],
            days=30,
            key_type="ecdsa",
            friendly_name="holoremote-server",
            passphrase=None,
        )
        window.verify_chain(files.paths["chain"], "wrong-host.example", files.paths["ca"])
        await _until(lambda: len(window.inspector.check_marks()) == 7, "the verdict")
        _save(window, out_dir / "inspector-failed-check.png")

        # A listener with its Share panel, and a client whose waterfall shows the
        # built-in runtime's stages: two windows on 127.0.0.1, real engine.
        await _connect_two_windows(window, files, scratch, out_dir)

        # Connected, with the timeline: the loopback demo, secure, real engine.
        demo = window.open_loopback_demo()
        demo.resize(1400, 900)
        await _until(
            lambda: demo.client.controller.state == "connected",
            "the loopback demo to connect",
            failure=lambda: (
                demo.server.problem_text()
                or demo.client.problem_text()
                or (demo.status.text() if "failed" in demo.status.text() else "")
            ),
        )
        await _until(lambda: demo.timeline.model.rowCount() >= 4, "the four callbacks")
        await asyncio.sleep(0.3)
        _save(demo, out_dir / "connected-timeline.png")

        # The Session tabs: the Remote's test stream on the Player, and a link test.
        remote, player = demo.client_session, demo.server_session
        await _until(remote.stream_button.isEnabled, "the Session tab")
        demo.tabs.setCurrentWidget(demo.server_session_page)
        remote.rate.setValue(20)
        remote.stream_button.setChecked(True)
        await _until(lambda: player.frame_view.frames >= 20, "frames on the Player")
        # The stream and its overlay (rate, drops, latency) in view: the tab's page
        # scrolls, and under the demo's header the stream starts below its fold.
        demo.server_session_page.ensureWidgetVisible(player.frame_view)
        _save(demo, out_dir / "session-stream.png")
        remote.stream_button.setChecked(False)
        demo.tabs.setCurrentWidget(demo.client_session_page)
        remote.seconds.setValue(3)
        remote.message_size.setValue(16 * 1024)
        remote.run_link_test()
        await _until(lambda: "Mbit/s" in remote.link_result.text(), "the link test")
        await asyncio.sleep(0.2)
        _save(demo, out_dir / "session-plot.png")
        demo.stop()
        await _until(
            lambda: not (demo.client.controller.active or demo.server.controller.active),
            "the demo to stop",
        )
        await _dark(window, scratch, out_dir)
        window.close()
        await window.aclose()


async def _connect_two_windows(client: MainWindow, files: Any, scratch: str, out_dir: Path) -> None:
    """`share-panel.png` (the listener) and `waterfall.png` (the client)."""
    from ui import credentials, field_values
    from ui.secrets import NotRememberingStore
    from ui.window import MainWindow

    settings = QSettings(str(Path(scratch) / "listener.ini"), QSettings.Format.IniFormat)
    server = MainWindow(settings, secret_store=NotRememberingStore("screenshots"))
    server.resize(*SIZE)
    token = await asyncio.to_thread(credentials.generate_token)
    s = server.endpoint
    s.set_mode("listen")
    s.set_role("player")
    s.listen_interface.setText(field_values.LOOPBACK_INTERFACE)  # no address of this machine
    s.port.setValue(0)
    s.transport_port.setValue(0)
    s.server_panel.store_path.setText(files.paths["pfx"])
    s.server_panel.passphrase.setText(files.passphrase)
    s.server_panel.subject_name.setCurrentText(files.friendly_name)
    s.server_panel.shared_secrets.setText(token)
    server.show()
    s.start()
    await _until(
        lambda: s.share_panel.isVisible() and s.share_panel.pin.text() != "",
        "the listener's Share panel",
        failure=s.problem_text,
    )
    scroll = s.parentWidget()
    while scroll is not None and not isinstance(scroll, QScrollArea):
        scroll = scroll.parentWidget()
    if scroll is not None:
        scroll.ensureWidgetVisible(s.share_panel.qr)
    await asyncio.sleep(0.2)
    _save(server, out_dir / "share-panel.png")

    c = client.endpoint
    c.set_mode("connect")
    c.set_role("remote")
    c.host.setText("127.0.0.1")
    c.port.setValue(s.controller.listening_port or 0)
    c.client_panel.token.setText(token)
    c.client_panel.ca_file.setText(files.paths["ca"])
    c.client_panel.pin.setText(s.share_panel.pin.text())
    c.start()
    await _until(
        lambda: c.controller.state == "connected", "the client to connect", failure=c.problem_text
    )

    def waterfall_done() -> bool:
        shown = client.waterfall.shown()
        return shown is not None and shown.state == "connected"

    await _until(waterfall_done, "the waterfall")
    client.tabs.setCurrentWidget(client.waterfall)
    await asyncio.sleep(0.2)
    _save(client, out_dir / "waterfall.png")
    c.end()
    await _until(lambda: not c.controller.active, "the client to disconnect")
    s.end()
    await _until(lambda: not s.controller.active, "the listener to stop")
    server.close()
    await server.aclose()


async def _dark(window: MainWindow, scratch: str, out_dir: Path) -> None:
    """`dark-timeline.png`: a window made after switching to Fusion with the dark
    palette (widgets take the palette they are born with), showing the rows the
    light window recorded."""
    from ui.palettes import dark_palette
    from ui.secrets import NotRememberingStore
    from ui.window import MainWindow

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    settings = QSettings(str(Path(scratch) / "dark.ini"), QSettings.Format.IniFormat)
    dark = MainWindow(settings, secret_store=NotRememberingStore("screenshots"))
    dark.resize(*SIZE)
    known_hosts = dark.endpoint.client_panel.known_hosts
    known_hosts.setText(known_hosts.text().replace(str(Path.home()), "~", 1))
    dark.timeline.model.append_records(window.timeline.model.records())
    dark.timeline._after_insert()  # the count label
    dark.show()
    dark.tabs.setCurrentWidget(dark.timeline)
    dark.timeline.table.selectRow(1)
    await asyncio.sleep(0.2)
    _save(dark, out_dir / "dark-timeline.png")
    dark.close()
    await dark.aclose()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ui.screenshots OUTPUT_DIR", file=sys.stderr)
        return 2
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync

    from ui.main import apply_style

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    # Closing the windows between shots must not end the loop that takes them.
    app.setQuitOnLastWindowClosed(False)
    apply_style(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            loop.run_until_complete(render(Path(args[0])))
    except Exception as exc:  # noqa: BLE001 - a script: say what failed, exit non-zero
        print(f"screenshots: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

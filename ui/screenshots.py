"""`python -m ui.screenshots DIR` (`make screenshots`): the README's pictures.

Renders, with the real engine and no network beyond 127.0.0.1:
- `idle.png`: the main window as it opens;
- `connected-timeline.png`: the loopback demo after both ends connected securely,
  with the four callbacks in the timeline;
- `inspector-failed-check.png`: the chain inspector after verifying a fresh test
  chain for a host name it was not issued for (nameMismatch fails).

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

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QWidget

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
        from ui import engine

        files = await asyncio.to_thread(
            engine.create_test_pki,
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
        demo.stop()
        window.close()
        await window.aclose()


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

"""Entry point of the window: QApplication, the main window, the qasync loop.

The window is shown first and the qasync loop installed right after its first paint
(on the Qt event loop already running, `qasync.QEventLoop(already_running=True)`):
importing asyncio and qasync is about a tenth of the start, and nothing on the screen
needs them (docs/benchmarks.md, window start). Jobs asked for before then wait for the
loop (`ui.jobs.hold_until_loop`).

`holoremote` with no subcommand calls `main()` (after `app.gui_launch` checked that
a display exists); `python -m ui.main` does the same.

Two environment switches exist for tests and benchmarks (they change nothing else):
- `HOLOREMOTE_SCREENSHOT=FILE.png`: once the window is shown and painted, save a
  screenshot of it (from the screen where the platform allows, else a widget grab)
  and quit.
- `HOLOREMOTE_EXIT_WHEN_SHOWN=1`: print `holoremote-shown` once the window is shown
  and painted, then quit (bench/window.py times start-up with it).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QWidget

if TYPE_CHECKING:
    import qasync

    from ui.window import MainWindow

SCREENSHOT_ENV = "HOLOREMOTE_SCREENSHOT"
EXIT_WHEN_SHOWN_ENV = "HOLOREMOTE_EXIT_WHEN_SHOWN"
SHOWN_MARKER = "holoremote-shown"


def _resources_dir() -> Path:
    """app/resources is package data: the same place relative to the `app` package in a
    checkout, a wheel (pipx) install and the PyInstaller bundle."""
    import app

    return Path(app.__file__).resolve().parent / "resources"


RESOURCES = _resources_dir()

log = logging.getLogger(__name__)


def apply_style(app: QApplication) -> None:
    sheet = RESOURCES / "holoremote.qss"
    if sheet.is_file():
        app.setStyleSheet(sheet.read_text(encoding="utf-8"))
    icon = RESOURCES / "icons" / "holoremote.svg"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))


def screenshot(widget: QWidget) -> QPixmap:
    """The window as the screen shows it (xcb), or rendered by itself (offscreen)."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    pixmap = QPixmap()
    if screen is not None and QGuiApplication.platformName() not in ("offscreen", "minimal"):
        pixmap = screen.grabWindow(widget.winId())
    if pixmap.isNull() or pixmap.width() < 2:
        pixmap = widget.grab()
    return pixmap


def install_loop(app: QApplication) -> qasync.QEventLoop:
    """The qasync loop on the Qt event loop that is already running (`app.exec()`);
    the jobs that waited for it start."""
    import asyncio

    import qasync

    from ui import jobs

    loop = qasync.QEventLoop(app, already_running=True)
    asyncio.set_event_loop(loop)
    jobs.loop_started()
    return loop


def close_window(app: QApplication, window: MainWindow, loop: qasync.QEventLoop | None) -> None:
    """After `app.exec()` returned: run the window's closing (its sessions end, its jobs
    finish) on the loop, then close the loop. `loop` is None when the window closed
    before its first paint, so before the loop was installed."""
    import asyncio

    import qasync

    from ui import jobs

    if loop is None:
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        jobs.loop_started()
    else:
        # Installed with already_running=True: the Qt loop it ran on has ended.
        loop.stop()
        asyncio.events._set_running_loop(None)
    with loop:
        loop.run_until_complete(window.aclose())


def main() -> int:
    logging.basicConfig(level=os.environ.get("HOLOREMOTE_LOG_LEVEL", "WARNING"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("holoremote")
    app.setOrganizationName("holoremote")
    app.setDesktopFileName("holoremote")

    from ui import jobs
    from ui.window import AfterFirstPaint, MainWindow

    jobs.hold_until_loop()
    window = MainWindow()
    # The style sheet after the window is built, not before: with an application style
    # sheet in effect every `addWidget`/`setCentralWidget` re-polishes the whole subtree
    # it moves, and the window is built inside out, so each widget was polished once per
    # level it was moved up; set now, each is polished once (docs/benchmarks.md).
    apply_style(app)
    screenshot_path = os.environ.get(SCREENSHOT_ENV)
    exit_when_shown = os.environ.get(EXIT_WHEN_SHOWN_ENV) == "1"
    status = {"code": 0}
    installed: list[qasync.QEventLoop] = []
    # Before the callbacks below are installed: the last filter installed runs first,
    # so the window is reported shown before the loop is installed, and the hidden
    # tabs (MainWindow's own filter) are built after it.
    AfterFirstPaint(window, lambda: installed.append(install_loop(app)))

    if screenshot_path:

        def take() -> None:
            # Let the window manager-less X server map and the view settle a moment.
            def save() -> None:
                ok = screenshot(window).save(screenshot_path, "PNG")
                status["code"] = 0 if ok else 1
                window.close()

            QTimer.singleShot(300, save)

        AfterFirstPaint(window, take)
    elif exit_when_shown:

        def report() -> None:
            print(SHOWN_MARKER, flush=True)
            window.close()

        AfterFirstPaint(window, report)

    window.show()
    app.exec()
    close_window(app, window, installed[0] if installed else None)
    return status["code"]


if __name__ == "__main__":
    sys.exit(main())

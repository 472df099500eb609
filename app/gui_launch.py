"""Opens the window from the command line without importing Qt into `app`.

The check for a display happens here, before Qt is loaded, because Qt's own
failure on a headless machine is an abort with a wall of plugin text.
"""

from __future__ import annotations

import importlib
import os
import sys


def display_available() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal", "vnc")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def launch_window() -> int:
    if not display_available():
        print(
            "holoremote: no display found (DISPLAY and WAYLAND_DISPLAY are unset), so the "
            "window cannot open.\n"
            "Run it on a desktop session, or try the headless engine: 'holoremote demo'.",
            file=sys.stderr,
        )
        return 2
    # Imported by name so that `app` has no static import of the Qt side.
    ui_main = importlib.import_module("ui.main")
    result: int = ui_main.main()
    return result

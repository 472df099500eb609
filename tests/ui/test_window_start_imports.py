"""The window comes up without the heavy stacks it needs only once a connection
starts: not the X.509/TLS security stack (cryptography), not the OpenXR loader
(pyopenxr), not numpy, not the engine (the session, its events and channels, ctypes),
not asyncio and qasync (ui.main installs the loop after the first paint).
They cost most of the start-up time a bare window does not pay (docs/benchmarks.md,
window start)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.reference import REPO_ROOT

NOT_BEFORE_SHOWN = ("cryptography", "xr", "numpy", "ctypes", "asyncio", "qasync", "ssl")
# The engine (sessions, events, failure explanations) and the security stack's own
# modules (client policy, known hosts, acceptance rules, thumbprints).
ENGINE_NOT_BEFORE_SHOWN = ("app.endpoint.", "app.security.")

SHOW_AND_LIST = """
import sys
from PySide6.QtWidgets import QApplication
import ui.main
from ui import jobs
from ui.window import MainWindow
app = QApplication(sys.argv[:1])
jobs.hold_until_loop()  # as ui.main.main does
window = MainWindow()
window.show()
app.processEvents()
print(",".join(sorted({m.split(".")[0] for m in sys.modules})))
print(",".join(sorted(m for m in sys.modules if m.startswith("app."))))
"""


def test_the_window_is_shown_without_the_security_stack_the_openxr_loader_numpy_or_engine(
    tmp_path: object,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "XR_RUNTIME_JSON"}
    env.update(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", SHOW_AND_LIST],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    packages_line, app_line = result.stdout.strip().splitlines()[-2:]
    loaded = set(packages_line.split(","))
    assert "PySide6" in loaded  # the listing is real
    assert loaded.isdisjoint(NOT_BEFORE_SHOWN), sorted(loaded & set(NOT_BEFORE_SHOWN))
    app_modules = set(app_line.split(","))
    assert "app.defaults" in app_modules  # the listing is real
    early = sorted(m for m in app_modules if m.startswith(ENGINE_NOT_BEFORE_SHOWN))
    assert not early, early

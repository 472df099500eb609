"""`ui.main` shows the window before the qasync loop exists and installs the loop right
after the first paint (docs/benchmarks.md, window start). A job asked for while the
window is built waits for the loop and runs on it; closing works whether the loop was
installed (the usual way) or not yet (the window closed before its first paint)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.reference import REPO_ROOT

TIMEOUT_S = 60

# Runs the real `ui.main.main()`; the window asks for one job while it is built.
JOB_BEFORE_THE_LOOP = """
import sys
import ui.window

ran = []


class WithJob(ui.window.MainWindow):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)

        async def job():
            import asyncio

            ran.append(asyncio.get_running_loop().is_running())

        self.jobs.spawn("job asked for while building", job())
        print("held while building:", self.jobs.busy, "asyncio:", "asyncio" in sys.modules)


ui.window.MainWindow = WithJob
import ui.main

code = ui.main.main()
print("exit", code, "ran", ran)
"""

# The window closes before its first paint: no loop was installed; closing makes one.
CLOSED_BEFORE_THE_PAINT = """
import sys
from PySide6.QtWidgets import QApplication
import ui.main
from ui import jobs
from ui.window import MainWindow

app = QApplication(sys.argv[:1])
jobs.hold_until_loop()
window = MainWindow()
ran = []


async def job():
    ran.append(True)


window.jobs.spawn("job", job())
window.close()
ui.main.close_window(app, window, None)
print("ran", ran)
"""


def _run(script: str, config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XR_RUNTIME_JSON"}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(config),
        HOLOREMOTE_EXIT_WHEN_SHOWN="1",
        PYTHONDEVMODE="1",  # asyncio debug: a task or coroutine lost is reported
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def test_a_job_asked_for_while_the_window_is_built_runs_on_the_loop_after_the_paint(
    tmp_path: Path,
) -> None:
    result = _run(JOB_BEFORE_THE_LOOP, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "held while building: True asyncio: False" in lines
    assert "holoremote-shown" in lines
    assert lines[-1] == "exit 0 ran [True]"
    assert "never awaited" not in result.stderr
    assert "Task was destroyed" not in result.stderr


def test_a_window_closed_before_its_first_paint_still_runs_its_jobs_and_closes(
    tmp_path: Path,
) -> None:
    result = _run(CLOSED_BEFORE_THE_PAINT, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-1] == "ran [True]"
    assert "never awaited" not in result.stderr

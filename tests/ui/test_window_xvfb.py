"""The real window on a real X server (Xvfb, xcb platform plugin), not offscreen:
proves the xcb plugin and its system libraries load, and the window paints.

No Xvfb is a failure, not a skip: `make test` installs it (scripts/system-deps.sh).
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from tests.reference import REPO_ROOT

XVFB_START_TIMEOUT_S = 15
WINDOW_TIMEOUT_S = 60


@pytest.fixture
def xvfb_display() -> Iterator[str]:
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.fail(
            "Xvfb is not installed, so the real (xcb) window cannot be tested; install it "
            "with 'scripts/system-deps.sh test' as root (make test does), or "
            "'sudo apt-get install -y xvfb xauth'"
        )
    read_fd, write_fd = os.pipe()
    # -displayfd: Xvfb picks a free display number itself and writes it once it is
    # ready for clients, so there is no guessing and no polling.
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], XVFB_START_TIMEOUT_S)
        number = os.read(read_fd, 32).decode().strip() if ready else ""
        if not number:
            server.kill()
            _, err = server.communicate(timeout=5)
            pytest.fail(
                f"Xvfb did not start within {XVFB_START_TIMEOUT_S} s: {err.decode()[-500:]}"
            )
        yield f":{number}"
    finally:
        os.close(read_fd)
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_real_window_under_xvfb_takes_a_screenshot(xvfb_display: str, tmp_path: Path) -> None:
    shot = tmp_path / "window.png"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("QT_", "WAYLAND_")) and key != "DISPLAY"
    }
    env.update(
        DISPLAY=xvfb_display,
        QT_QPA_PLATFORM="xcb",
        HOLOREMOTE_SCREENSHOT=str(shot),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_RUNTIME_DIR=str(tmp_path / "runtime"),
    )
    (tmp_path / "runtime").mkdir(mode=0o700)
    result = subprocess.run(
        [sys.executable, "-m", "ui.main"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=WINDOW_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "offscreen" not in result.stderr
    image = QImage(str(shot))
    assert not image.isNull(), f"no PNG written; stderr: {result.stderr[-1000:]}"
    assert image.width() >= 800 and image.height() >= 500
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)
    }
    # A painted window has text, frames, widgets: many colours, not a blank rectangle.
    assert len(colours) > 20, f"only {len(colours)} colours: the window did not paint"

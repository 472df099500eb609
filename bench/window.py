"""Window start: process spawn to the first paint of the shown window, `python -m
ui.main` against a script that shows a bare QMainWindow, offscreen and on a real X
server (Xvfb, the xcb platform), alternated within each round (not a test; `make
bench` runs it).

    python bench/window.py [--rounds 3] [--starts 5] [--platform offscreen|xcb|both]
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import Figure, add_arguments, bench_env, emit  # noqa: E402

SHOWN = "holoremote-shown"
BARE_WINDOW = """
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow
app = QApplication(sys.argv[:1])
window = QMainWindow()
window.setCentralWidget(QLabel("bare PySide6 window"))
window.resize(1280, 820)
class First(QObject):
    done = False
    def eventFilter(self, obj, event):
        if not self.done and event.type() == QEvent.Type.Paint:
            self.done = True
            QTimer.singleShot(0, lambda: (print("holoremote-shown", flush=True), window.close()))
        return False
first = First()
window.installEventFilter(first)
window.show()
sys.exit(app.exec())
"""


@contextmanager
def xvfb() -> Iterator[str]:
    """A private X server; yields its DISPLAY."""
    binary = shutil.which("Xvfb")
    if binary is None:
        raise RuntimeError("Xvfb is not installed (scripts/system-deps.sh test installs it)")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        [binary, "-displayfd", str(write_fd), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 15)
        number = os.read(read_fd, 32).decode().strip() if ready else ""
        if not number:
            raise RuntimeError("Xvfb did not start within 15 s")
        yield f":{number}"
    finally:
        os.close(read_fd)
        server.terminate()
        server.wait(timeout=10)


def time_to_shown(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == SHOWN:
            elapsed = time.perf_counter() - start
            break
    else:
        process.wait()
        raise RuntimeError(f"{command} exited ({process.returncode}) without showing a window")
    process.wait(timeout=30)
    return elapsed


def compile_bytecode() -> None:
    """Write the bytecode of the project's own modules, as an installed copy has it (pip
    compiles a wheel's modules when it installs them; `make run` writes `__pycache__` on the
    first start). Without it, an environment with PYTHONDONTWRITEBYTECODE set (CI, some
    sandboxes) compiles some 150 modules from source on every start, which the bare window
    (one small script) does not pay and no installed window does either."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "app", "ui"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def measure(platform: str, rounds: int, starts: int, display: str | None) -> Figure:
    compile_bytecode()
    ours_cmd = [sys.executable, "-m", "ui.main"]
    bare_cmd = [sys.executable, "-c", BARE_WINDOW]
    with tempfile.TemporaryDirectory() as config:
        env = dict(
            bench_env(),
            XDG_CONFIG_HOME=config,
            HOLOREMOTE_EXIT_WHEN_SHOWN="1",
            QT_QPA_PLATFORM=platform,
        )
        if display:
            env["DISPLAY"] = display
        time_to_shown(bare_cmd, env)  # warm-up: the page cache, equally for both
        time_to_shown(ours_cmd, env)
        ours: list[float] = []
        bare: list[float] = []
        for _ in range(rounds):
            o: list[float] = []
            b: list[float] = []
            for _ in range(starts):
                b.append(time_to_shown(bare_cmd, env))
                o.append(time_to_shown(ours_cmd, env))
            ours.append(statistics.median(o) * 1000)
            bare.append(statistics.median(b) * 1000)
    where = "offscreen" if platform == "offscreen" else "xcb under Xvfb"
    return Figure(
        name=f"window start to first paint ({where})",
        unit="ms",
        ours=ours,
        baseline_name="bare QMainWindow",
        baseline=bare,
        target="ratio<=",
        bound=1.3,
    )


def figures(rounds: int, starts: int, platforms: list[str]) -> list[Figure]:
    result = []
    for platform in platforms:
        if platform == "xcb":
            with xvfb() as display:
                result.append(measure(platform, rounds, starts, display))
        else:
            result.append(measure(platform, rounds, starts, None))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--starts", type=int, default=5, help="starts per round and window")
    parser.add_argument("--platform", choices=("offscreen", "xcb", "both"), default="both")
    args = parser.parse_args()
    platforms = ["offscreen", "xcb"] if args.platform == "both" else [args.platform]
    rounds, starts = (1, 1) if args.smoke else (args.rounds, args.starts)
    emit(figures(rounds, starts, platforms), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

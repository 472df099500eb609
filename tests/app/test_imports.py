"""`app` must load without Qt: the CLI and scripts run on machines with no display."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import app
from tests.reference import REPO_ROOT


def _all_app_modules() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.walk_packages(app.__path__, prefix="app.")
        if info.name != "app.__main__"
    )


def test_every_app_module_imports_without_pyside() -> None:
    modules = _all_app_modules()
    assert "app.endpoint.callbacks" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'qasync', 'ui'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_version_flag() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "--version"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"holoremote {app.__version__}"


def test_unknown_command_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "frobnicate"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    assert "--help" in result.stderr


def test_window_without_display_says_so_and_suggests_demo() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    result = subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert result.returncode == 2
    assert "no display" in result.stderr
    assert "holoremote demo" in result.stderr

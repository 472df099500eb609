"""The Runtime combo and manifest field: checked with app.endpoint.runtime_choice off the UI
thread; "In use" shows its sentence, the status bar its errors with the fix. The
OpenXR runtimes are the test runtime of tests/support, loaded by the real loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.conftest import TOKEN
from ui.window import MainWindow

EXTENSION = "XR_MSFT_holographic_remoting"


def _choose(qtbot, window: MainWindow, choice: str, manifest: str) -> str:
    """Pick a runtime and a manifest as a person would; wait for the check."""
    e = window.endpoint
    e.runtime_choice.setCurrentIndex(e.runtime_choice.findData(choice))
    e.runtime_json.setText(manifest)
    e.runtime_json.editingFinished.emit()
    assert e.runtime_label.text() == "Checking\u2026"
    qtbot.waitUntil(lambda: not e.jobs.busy, timeout=10_000)
    return e.runtime_label.text()


def _problem(window: MainWindow) -> str:
    return window.status_detail.text()


def test_missing_manifest_is_named_in_the_status_bar_with_the_fix(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    missing = tmp_path / "RemotingXR.json"
    shown = _choose(qtbot, window, "openxr", str(missing))
    assert shown == f"{missing}: the OpenXR runtime manifest does not exist"
    assert window.endpoint.runtime_label.property("severity") == "error"
    status = _problem(window)
    assert f"{missing}: the OpenXR runtime manifest does not exist" in status
    assert "Fix: Pass the runtime's manifest JSON" in status and "RemotingXR.json" in status
    # Pressing Connect anyway says the same, from the session's own runtime selection.
    window.endpoint.client_panel.token.setText(TOKEN)
    window.endpoint.connect_button.click()
    qtbot.waitUntil(lambda: "Could not start" in _problem(window), timeout=10_000)
    assert "does not exist" in _problem(window) and str(missing) in _problem(window)
    assert window.endpoint.connect_button.isEnabled()


@pytest.mark.parametrize("choice", ["openxr", "auto"])
def test_invalid_manifest_is_named_even_under_automatic(
    qtbot, window: MainWindow, tmp_path: Path, choice: str
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"runtime": ')
    shown = _choose(qtbot, window, choice, str(broken))
    assert shown.startswith(f"{broken}: the OpenXR runtime manifest is not valid JSON")
    assert str(broken) in _problem(window) and "Fix:" in _problem(window)
    # A good choice clears the problem.
    assert _choose(qtbot, window, "builtin", "") == (
        "built-in runtime: chosen with Built-in in the Runtime field"
    )
    assert _problem(window) == ""
    assert window.endpoint.runtime_label.property("severity") == ""


def test_openxr_runtime_without_the_extension(
    qtbot, window: MainWindow, xr_test_runtimes: dict[str, Path]
) -> None:
    manifest = xr_test_runtimes["no-extension"]
    shown = _choose(qtbot, window, "openxr", str(manifest))
    assert shown.startswith(
        f"OpenXR runtime 'holoremote test runtime (no ext)' (from {manifest}) does not "
        f"offer {EXTENSION}"
    )
    assert "Fix:" in _problem(window) and "Built-in in the Runtime field" in _problem(window)
    # Under "Automatic" the same runtime is passed over for the built-in one, and said so.
    shown = _choose(qtbot, window, "auto", str(manifest))
    assert shown == (
        f"built-in runtime: OpenXR runtime 'holoremote test runtime (no ext)' from "
        f"{manifest} does not offer {EXTENSION}"
    )
    assert _problem(window) == ""


def test_openxr_runtime_with_the_extension_is_shown_in_use(
    qtbot, window: MainWindow, xr_test_runtimes: dict[str, Path]
) -> None:
    manifest = xr_test_runtimes["full"]
    shown = _choose(qtbot, window, "openxr", str(manifest))
    assert shown == (f"OpenXR runtime 'holoremote test runtime' from {manifest} offers {EXTENSION}")
    assert window.endpoint.runtime_label.property("severity") == ""

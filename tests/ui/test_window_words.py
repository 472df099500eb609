"""The window speaks in its own words: when the runtime choice, the token, the
passphrase or the store is wrong, nothing it shows tells the user to pass a
command-line flag or set an environment variable; it names its fields instead."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtWidgets import QLabel

from ui.window import MainWindow

COMMAND_LINE_WORDS = re.compile(r"(?<![\w-])--[a-z]|HOLOREMOTE_")


def _shown(window: MainWindow) -> str:
    """Every text the window shows now: visible labels, the status bar, tooltips."""
    texts = [window.status_detail.text(), window.status_state.text()]
    for label in window.findChildren(QLabel):
        if label.isVisibleTo(window):
            texts += [label.text(), label.toolTip()]
    return "\n".join(t for t in texts if t)


def _assert_window_words(window: MainWindow) -> None:
    shown = _shown(window)
    assert not COMMAND_LINE_WORDS.search(shown), shown


def _choose(qtbot, window: MainWindow, choice: str, manifest: str) -> str:
    e = window.endpoint
    e.runtime_choice.setCurrentIndex(e.runtime_choice.findData(choice))
    e.runtime_json.setText(manifest)
    e.runtime_json.editingFinished.emit()
    qtbot.waitUntil(lambda: not e.jobs.busy, timeout=10_000)
    return e.runtime_label.text()


def test_runtime_choices_are_told_in_field_names(qtbot, window: MainWindow, tmp_path: Path) -> None:
    # OpenXR asked for, none installed: the fix names the manifest field.
    _choose(qtbot, window, "openxr", "")
    assert window.status_detail.text()
    _assert_window_words(window)
    assert "OpenXR runtime manifest field" in _shown(window)
    # A missing manifest, and the built-in runtime chosen.
    _choose(qtbot, window, "openxr", str(tmp_path / "RemotingXR.json"))
    _assert_window_words(window)
    shown = _choose(qtbot, window, "builtin", "")
    assert "Runtime field" in shown
    _assert_window_words(window)


def test_missing_token_is_told_in_field_names(qtbot, window: MainWindow) -> None:
    e = window.endpoint
    e.client_panel.token.setText("")
    e.connect_button.click()
    qtbot.waitUntil(lambda: bool(window.status_detail.text()), timeout=10_000)
    qtbot.waitUntil(lambda: not e.controller.active, timeout=10_000)
    assert "Token" in _shown(window)
    _assert_window_words(window)


def test_wrong_passphrase_and_unreadable_store_are_told_in_field_names(
    qtbot, window: MainWindow, pki_files, tmp_path: Path
) -> None:
    e = window.endpoint
    e.set_mode("listen")
    panel = e.server_panel
    panel.passphrase.setText("not the passphrase")
    panel.store_path.setText(str(pki_files["pfx"]))
    panel.load_store()
    qtbot.waitUntil(lambda: "passphrase" in panel.store_status.text(), timeout=5000)
    _assert_window_words(window)
    # Listening anyway says the same, from the session's own store loading.
    e.listen_button.click()
    qtbot.waitUntil(lambda: "Passphrase" in _shown(window), timeout=10_000)
    qtbot.waitUntil(lambda: not e.controller.active, timeout=10_000)
    _assert_window_words(window)
    unreadable = tmp_path / "a-directory.pfx"
    unreadable.mkdir()
    panel.store_path.setText(str(unreadable))
    panel.load_store()
    qtbot.waitUntil(
        lambda: (
            str(unreadable) in panel.store_status.text()
            and "Loading" not in panel.store_status.text()
        ),
        timeout=5000,
    )
    _assert_window_words(window)


def test_engine_sentences_in_window_words() -> None:
    from app.endpoint.failure import COMMAND_LINE, WINDOW, in_words_of
    from app.security.certstore import FIX_UNLOCK

    assert in_words_of(WINDOW, FIX_UNLOCK).endswith("(the Passphrase field)")
    said = in_words_of(WINDOW, "use --runtime builtin or --runtime-json PATH/RemotingXR.json")
    assert said == (
        "use Built-in in the Runtime field or PATH/RemotingXR.json in the "
        "OpenXR runtime manifest field"
    )
    assert in_words_of(COMMAND_LINE, FIX_UNLOCK) == FIX_UNLOCK

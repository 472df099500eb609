"""Secret hygiene through the window, end to end: a whole secure session between two
real windows (listen and connect, TLS on 127.0.0.1) with a known token and key
passphrase, a refused token, then the windows closed with "remember secrets" on and
no keyring. Every log record (DEBUG, every logger), every timeline cell and tooltip,
every label and text view, the inspector, the settings files and the keyring-less
store: none holds the token or the passphrase. Only the masked fields the person
typed them into may."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QPlainTextEdit, QTextEdit

from tests.ui.conftest import PASSPHRASE, TOKEN
from tests.ui.test_loopback import (
    CONNECT_TIMEOUT_MS,
    _fill_client,
    _listen,
    _wait_connected,
)
from ui.secrets import NotRememberingStore
from ui.window import MainWindow

ROLES = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.UserRole)


def forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [
        secret,
        secret[: len(secret) // 2 + 4],
        base64.b64encode(raw).decode().rstrip("="),
        raw.hex(),
    ]


def model_text(model: QAbstractItemModel) -> list[str]:
    texts = []
    for row in range(model.rowCount()):
        for column in range(model.columnCount()):
            index = model.index(row, column)
            texts += [str(index.data(role)) for role in ROLES if index.data(role) is not None]
    return texts


def window_text(window: MainWindow) -> list[str]:
    """Everything the window shows or keeps for showing, except masked fields."""
    assert window.timeline.model.rowCount() > 0  # the callbacks and events are there
    texts = model_text(window.timeline.model)
    texts.append(window.timeline.details_text())
    for label in window.findChildren(QLabel):
        texts += [label.text(), label.toolTip()]
    for view in window.findChildren(QPlainTextEdit) + window.findChildren(QTextEdit):
        texts.append(view.toPlainText())
    for edit in window.findChildren(QLineEdit):
        if edit.echoMode() == QLineEdit.EchoMode.Normal:
            texts += [edit.text(), edit.toolTip()]
    texts.append(window.statusBar().currentMessage())
    texts.append(window.windowTitle())
    return texts


def test_no_secret_anywhere_after_a_whole_windowed_session(
    qtbot,
    ends: tuple[MainWindow, MainWindow],
    pki_files: dict[str, Path],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    server, client = ends
    port = _listen(qtbot, server, pki_files)
    _fill_client(client, port, TOKEN, pki_files["ca"])
    client.endpoint.connect_button.click()
    _wait_connected(qtbot, client, server)
    client.endpoint.disconnect_button.click()
    qtbot.waitUntil(lambda: not client.endpoint.controller.active, timeout=CONNECT_TIMEOUT_MS)
    # A refused token too: the window shows why, with the token nowhere in it.
    # The listener listens again after a session (or, in older windows, stops).
    controller = server.endpoint.controller
    qtbot.waitUntil(
        lambda: not controller.active or controller.state == "listening",
        timeout=CONNECT_TIMEOUT_MS,
    )
    if not controller.active:
        port = _listen(qtbot, server, pki_files)
    _fill_client(client, port, "a-wrong-token-of-plausible-length-0123", pki_files["ca"])
    client.endpoint.connect_button.click()
    qtbot.waitUntil(lambda: client.endpoint.problem_text() != "", timeout=CONNECT_TIMEOUT_MS)
    assert "AUTHENTICATION_FAILED" in client.endpoint.problem_text()
    client.endpoint.client_panel.token.setText(TOKEN)  # as a person fixing it would
    texts = window_text(client) + window_text(server)
    for window in (client, server):
        assert isinstance(window._secret_store or NotRememberingStore("x"), NotRememberingStore)
        window.remember_action.setChecked(True)
        window.save_settings()
        qtbot.waitUntil(lambda w=window: not w.jobs.busy, timeout=5_000)
    settings_files = [Path(w.settings_store.fileName()) for w in (client, server)]
    assert all(f.is_file() for f in settings_files)
    texts += [f.read_text(errors="replace") for f in settings_files]
    texts += [record.getMessage() for record in caplog.records]
    texts += [record.exc_text or "" for record in caplog.records]
    texts += [caplog.text]
    text = "\n".join(texts)
    assert "Connected" in text or "connected" in text  # the session did happen
    assert "127.0.0.1" in text
    for secret in (TOKEN, PASSPHRASE):
        for form in forms(secret):
            assert form not in text, f"{form!r} appears in the window, a log or a settings file"

"""The window's saved geometry: kept when usable, else the default size, centred."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QRect, QSettings
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow

from ui.secrets import NotRememberingStore
from ui.window import (
    DEFAULT_WINDOW_SIZE,
    MIN_RESTORED_SIZE,
    WINDOW_GEOMETRY_KEY,
    MainWindow,
)

FRAME_SLACK_PX = 40


def _saved_geometry(qtbot, rect: QRect) -> bytes:
    """What saveGeometry writes for a window with this geometry (e.g. one that was
    last used on a small screen)."""
    other = QMainWindow()
    qtbot.addWidget(other)
    other.setGeometry(rect)
    return bytes(other.saveGeometry().data())


def _open(qtbot, ini: Path, geometry: bytes | None) -> MainWindow:
    settings = QSettings(str(ini), QSettings.Format.IniFormat)
    if geometry is not None:
        settings.setValue(WINDOW_GEOMETRY_KEY, geometry)
    settings.sync()
    window = MainWindow(
        QSettings(str(ini), QSettings.Format.IniFormat), secret_store=NotRememberingStore("tests")
    )
    qtbot.addWidget(window)
    return window


def _assert_default_and_centred(window: MainWindow) -> None:
    """Before show: exactly the default size (bounded by the screen), centred."""
    available = QGuiApplication.primaryScreen().availableGeometry()
    assert window.size() == DEFAULT_WINDOW_SIZE.boundedTo(available.size())
    frame = window.frameGeometry()
    assert abs(frame.center().x() - available.center().x()) <= 1
    assert abs(frame.center().y() - available.center().y()) <= 1


def _assert_roomy_and_centred(window: MainWindow) -> None:
    """Once shown: the platform may take a few pixels for the frame, no more."""
    available = QGuiApplication.primaryScreen().availableGeometry()
    least = MIN_RESTORED_SIZE.boundedTo(available.size() * 0.9)
    assert window.width() >= least.width() and window.height() >= least.height()
    assert QGuiApplication.screenAt(window.frameGeometry().center()) is not None
    centre = window.frameGeometry().center()
    assert abs(centre.x() - available.center().x()) <= FRAME_SLACK_PX
    assert abs(centre.y() - available.center().y()) <= FRAME_SLACK_PX


@pytest.mark.parametrize(
    "rect",
    [
        QRect(10, 10, 320, 200),  # saved under a small screen: cramped
        QRect(20_000, 20_000, 1280, 820),  # on a screen that is no longer there
    ],
    ids=["tiny", "off-screen"],
)
def test_unusable_saved_geometry_opens_at_the_default_size_centred(
    qtbot, qasync_loop, tmp_path: Path, rect: QRect
) -> None:
    window = _open(qtbot, tmp_path / "holoremote.ini", _saved_geometry(qtbot, rect))
    _assert_default_and_centred(window)
    window.show()
    qtbot.waitExposed(window)
    _assert_roomy_and_centred(window)


@pytest.mark.parametrize("saved", [None, b"not a geometry"], ids=["nothing", "garbage"])
def test_no_or_unreadable_geometry_opens_at_the_default_size_centred(
    qtbot, qasync_loop, tmp_path: Path, saved: bytes | None
) -> None:
    _assert_default_and_centred(_open(qtbot, tmp_path / "holoremote.ini", saved))


def _restored_by_qt(blob: bytes) -> QRect:
    reference = QMainWindow()
    assert reference.restoreGeometry(blob)
    try:
        return reference.geometry()
    finally:
        reference.deleteLater()


def test_a_usable_saved_geometry_is_kept(qtbot, qasync_loop, tmp_path: Path) -> None:
    available = QGuiApplication.primaryScreen().availableGeometry()
    size = MIN_RESTORED_SIZE.boundedTo(available.size())
    blob = _saved_geometry(qtbot, QRect(available.topLeft(), size))
    window = _open(qtbot, tmp_path / "holoremote.ini", blob)
    assert window.geometry() == _restored_by_qt(blob)
    assert window.geometry().center() != available.center()  # not the default


def test_the_geometry_saved_on_close_comes_back(qtbot, qasync_loop, tmp_path: Path) -> None:
    ini = tmp_path / "holoremote.ini"
    available = QGuiApplication.primaryScreen().availableGeometry()
    first = _open(qtbot, ini, None)
    first.setGeometry(QRect(available.topLeft(), MIN_RESTORED_SIZE.boundedTo(available.size())))
    first.save_settings()
    blob = bytes(QSettings(str(ini), QSettings.Format.IniFormat).value(WINDOW_GEOMETRY_KEY).data())
    second = _open(qtbot, ini, None)
    assert second.geometry() == _restored_by_qt(blob)
    assert second.geometry().center() != available.center()

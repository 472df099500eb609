"""The tabs not in view at start-up (waterfall, certificate chain, session) are built
after the window's first paint, in their places, or as soon as something needs them
(docs/benchmarks.md, window start)."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QScrollArea

from ui.secrets import NotRememberingStore
from ui.window import HIDDEN_TAB_LABELS, MainWindow

TAB_LABELS = ["Callback timeline", *HIDDEN_TAB_LABELS]


def _window(qtbot, qsettings: QSettings) -> MainWindow:
    window = MainWindow(qsettings, secret_store=NotRememberingStore("tests"))
    qtbot.addWidget(window)
    return window


def test_the_hidden_tabs_take_their_places_after_the_first_paint(
    qtbot, qasync_loop, qsettings: QSettings
) -> None:
    window = _window(qtbot, qsettings)
    assert not window.hidden_tabs_built
    # Every tab is there (by name) from the start; the first is the one in view.
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == TAB_LABELS
    window.show()
    qtbot.waitUntil(lambda: window.hidden_tabs_built, timeout=5_000)
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == TAB_LABELS
    assert window.tabs.currentIndex() == 0
    assert window.tabs.widget(1) is window.waterfall
    assert window.tabs.widget(2) is window.inspector
    page = window.tabs.widget(3)
    assert isinstance(page, QScrollArea) and page.widget() is window.session_tab
    # The late tabs' controls got their accessible names too.
    assert window.session_tab.open_button.accessibleName()
    window.tabs.setCurrentWidget(window.inspector)
    assert window.tabs.currentWidget() is window.inspector


def test_a_session_starting_before_the_first_paint_builds_them(
    qtbot, qasync_loop, qsettings: QSettings
) -> None:
    window = _window(qtbot, qsettings)
    assert not window.hidden_tabs_built
    # What a starting session emits first: the session tab must then be listening for
    # "connected", so it is built now, not after a paint that has not happened.
    window.endpoint.controller.stateChanged.emit("connecting")
    assert window.hidden_tabs_built
    assert window.tabs.widget(1) is window.waterfall


def test_asking_for_a_hidden_tab_builds_it(qtbot, qasync_loop, qsettings: QSettings) -> None:
    window = _window(qtbot, qsettings)
    inspector = window.inspector
    assert window.hidden_tabs_built
    assert window.tabs.widget(2) is inspector is window.inspector

"""Screen readers tell the controls apart: no two Browse buttons sound the same, and
the controls of the timeline, the waterfall, the Share panel and the connection
fields have names of their own."""

from __future__ import annotations

from collections import Counter
from typing import Any

from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTextEdit,
    QWidget,
)

from ui.window import MainWindow


def _spoken(widget: QWidget) -> str:
    if widget.accessibleName():
        return widget.accessibleName()
    return widget.text() if isinstance(widget, QPushButton) else ""


def test_browse_buttons_have_distinct_names(window: MainWindow) -> None:
    browse = [b for b in window.findChildren(QPushButton) if b.text() == "Browse\u2026"]
    assert len(browse) >= 5
    names = [b.accessibleName() for b in browse]
    assert all(n.startswith("Browse for ") for n in names), names
    assert len(set(names)) == len(names), names


def test_new_controls_are_named(window: MainWindow) -> None:
    e = window.endpoint
    scopes: list[QWidget] = [window.timeline, window.waterfall, e.share_panel]
    unnamed = [
        f"{type(w).__name__} {w.objectName()}"
        for scope in scopes
        for w in scope.findChildren(QWidget)
        if isinstance(w, QPushButton | QComboBox | QLineEdit | QSpinBox)
        and w.isVisibleTo(scope)
        and not _spoken(w)
    ]
    assert unnamed == []
    for field in (e.role, e.mode, e.host, e.port, e.transport_port, e.listen_interface):
        assert field.accessibleName(), field.objectName()


# Every interactive control of the window, the Loopback demo, Settings > Known hosts,
# the profile dialog and the Session tab has an explicit accessible name
# (QWidget.accessibleName(), what a screen reader announces first), and no two
# controls of one panel share a name.

INTERACTIVE = (
    QAbstractButton,
    QLineEdit,
    QComboBox,
    QAbstractSpinBox,
    QAbstractItemView,
    QPlainTextEdit,
    QTextEdit,
)


def _ancestors(w: QWidget) -> list[QWidget]:
    out = []
    parent = w.parentWidget()
    while parent is not None:
        out.append(parent)
        parent = parent.parentWidget()
    return out


def _controls(scope: QWidget) -> list[QWidget]:
    found = []
    for w in scope.findChildren(QWidget):
        if not isinstance(w, INTERACTIVE):
            continue
        # The line edit inside a combo box or spin box is part of that control.
        if isinstance(w, QLineEdit) and isinstance(w.parent(), QComboBox | QAbstractSpinBox):
            continue
        # A combo box's popup list and a view's header sections are parts of the
        # control that owns them; Qt's own internals (qt_*) are not ours to name.
        if isinstance(w, QHeaderView) or w.objectName().startswith("qt_"):
            continue
        if any(isinstance(a, QComboBox) for a in _ancestors(w)):
            continue
        found.append(w)
    return found


def _unnamed(scope: QWidget) -> list[str]:
    return [
        f"{type(w).__name__} {w.objectName() or '(no object name)'}"
        for w in _controls(scope)
        if not w.accessibleName().strip()
    ]


def _shared(scope: QWidget) -> list[str]:
    counts = Counter(w.accessibleName() for w in _controls(scope))
    return [name for name, n in counts.items() if n > 1 and name]


def _panels(window: Any) -> dict[str, QWidget]:
    e = window.endpoint
    panels = {
        "endpoint": e,
        "timeline": window.timeline,
        "waterfall": window.waterfall,
        "inspector": window.inspector,
        "session": window.session_tab,
    }
    return panels


def test_every_main_window_control_is_named(window: Any) -> None:
    unnamed = _unnamed(window)
    assert unnamed == [], "\n".join(unnamed)


def test_no_two_controls_of_a_panel_share_a_name(window: Any) -> None:
    for panel_name, panel in _panels(window).items():
        assert _shared(panel) == [], panel_name


def test_loopback_demo_controls_are_named(window: Any, qtbot: Any) -> None:
    demo = window.open_loopback_demo()
    unnamed = _unnamed(demo)
    assert unnamed == [], "\n".join(unnamed)
    for panel in (demo.server, demo.client, demo.server_session, demo.client_session):
        assert _shared(panel) == [], panel.objectName()


def test_known_hosts_dialog_controls_are_named(window: Any, qtbot: Any) -> None:
    dialog = window.open_known_hosts()
    assert _unnamed(dialog) == [], _unnamed(dialog)
    assert _shared(dialog) == []
    dialog.close()


def test_profile_name_dialog_controls_are_named(window: Any, qtbot: Any) -> None:
    ask = window.ask_profile_name()
    assert _unnamed(ask) == [], _unnamed(ask)
    assert _shared(ask) == []
    ask.close()

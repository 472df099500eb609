"""Screen readers tell the controls apart: no two Browse buttons sound the same, and
the controls of the timeline, the waterfall, the Share panel and the connection
fields have names of their own."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLineEdit, QPushButton, QSpinBox, QWidget

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

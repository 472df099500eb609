"""A label's severity (ui.form_widgets.set_severity) reaches the style sheet whether it
is set before the label is first shown (the window's start sets some then, without
polishing) or after (polished again)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ui.form_widgets import set_severity
from ui.main import RESOURCES

ERROR_TEXT = QColor("#8b0015")  # QLabel[severity="error"] in holoremote.qss
INFO_TEXT = QColor("#0d47a1")  # QLabel[severity="info"]


def _text_colour(label: QLabel) -> QColor:
    return label.palette().color(QPalette.ColorRole.WindowText)


def test_severity_set_before_and_after_the_first_show_is_styled(qtbot) -> None:
    page = QWidget()
    qtbot.addWidget(page)
    page.setStyleSheet((RESOURCES / "holoremote.qss").read_text(encoding="utf-8"))
    before, after = QLabel("before"), QLabel("after")
    layout = QVBoxLayout(page)
    layout.addWidget(before)
    layout.addWidget(after)
    set_severity(before, "error")
    assert _text_colour(before) != ERROR_TEXT  # not polished yet: nothing applied
    page.show()
    qtbot.waitExposed(page)
    assert _text_colour(before) == ERROR_TEXT
    assert _text_colour(after) != ERROR_TEXT
    set_severity(after, "error")
    assert _text_colour(after) == ERROR_TEXT
    set_severity(before, "info")
    assert _text_colour(before) == INFO_TEXT

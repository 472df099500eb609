"""The share panel's pin is shown in a monospace font (set when the panel is first
shown, not when the window is built: docs/benchmarks.md, window start)."""

from __future__ import annotations

from PySide6.QtGui import QFont

from ui.share_panel import SharePanel


def test_the_pin_is_monospace_once_the_panel_is_shown(qtbot) -> None:
    panel = SharePanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    font = panel.pin_shown.font()
    assert font.styleHint() == QFont.StyleHint.Monospace
    assert font.family() == "monospace"
    panel.hide()
    panel.show()  # shown again: still the one font, set once
    assert panel.pin_shown.font() == font

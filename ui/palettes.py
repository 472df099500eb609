"""The Fusion dark palette: what the dark-theme screenshot and the contrast tests use.

Why a palette of our own: Qt has no built-in dark palette for Fusion on every
platform; this is the widely used one (the colours Qt's own examples and most
PySide applications use), so the contrast we check is the contrast people get.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

_ROLES = QPalette.ColorRole
_DISABLED = QPalette.ColorGroup.Disabled


def dark_palette() -> QPalette:
    palette = QPalette()
    window = QColor(53, 53, 53)
    base = QColor(42, 42, 42)
    text = QColor(230, 230, 230)
    for role, colour in (
        (_ROLES.Window, window),
        (_ROLES.WindowText, text),
        (_ROLES.Base, base),
        (_ROLES.AlternateBase, QColor(66, 66, 66)),
        (_ROLES.ToolTipBase, QColor(25, 25, 25)),
        (_ROLES.ToolTipText, text),
        (_ROLES.Text, text),
        (_ROLES.Button, window),
        (_ROLES.ButtonText, text),
        (_ROLES.BrightText, QColor(255, 80, 80)),
        (_ROLES.Link, QColor(100, 170, 255)),
        (_ROLES.Highlight, QColor(42, 130, 218)),
        (_ROLES.HighlightedText, QColor(255, 255, 255)),
        (_ROLES.PlaceholderText, QColor(160, 160, 160)),
    ):
        palette.setColor(role, colour)
    for role in (_ROLES.Text, _ROLES.ButtonText, _ROLES.WindowText):
        palette.setColor(_DISABLED, role, QColor(127, 127, 127))
    return palette

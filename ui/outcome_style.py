"""How each outcome looks: an icon, a colour and a word, for light and dark palettes.

Why three channels: colour alone fails people who do not see it (and a grey-scale
screenshot); the icon's shape and the word carry the same meaning. Colours are
chosen for at least 4.5:1 contrast (WCAG 2.1 AA) against the palette's base colour
in Qt's default light palette and in the Fusion dark palette; `contrast_ratio`
lets a test check that.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QGuiApplication,
    QIcon,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
)

from app.outcomes import Outcome


@dataclass(frozen=True)
class OutcomeStyle:
    foreground: str  # text colour
    background: str | None  # row tint, or None for the view's own


# Light: on white; dark: on the Fusion dark base (#2a2a2a / #353535).
LIGHT = {
    Outcome.SUCCESS: OutcomeStyle("#1b5e20", None),
    Outcome.REFUSED: OutcomeStyle("#8b0015", "#fde7ea"),
    Outcome.SIZE_QUERY: OutcomeStyle("#8a5a00", "#fff4d6"),
    Outcome.RUNTIME_ERROR: OutcomeStyle("#b00020", None),
    Outcome.EVENT: OutcomeStyle("#0d47a1", None),
    Outcome.RUNNING: OutcomeStyle("#4a148c", "#f3e5f5"),
}
DARK = {
    Outcome.SUCCESS: OutcomeStyle("#81c784", None),
    Outcome.REFUSED: OutcomeStyle("#ffb3bd", "#4a1820"),
    Outcome.SIZE_QUERY: OutcomeStyle("#ffd27a", "#3d3010"),
    Outcome.RUNTIME_ERROR: OutcomeStyle("#ffa199", None),
    Outcome.EVENT: OutcomeStyle("#90caf9", None),
    Outcome.RUNNING: OutcomeStyle("#e1bee7", "#38203f"),
}

# The shape each icon draws (besides its colour).
_GLYPHS = {
    Outcome.SUCCESS: "check",
    Outcome.REFUSED: "bar",  # a "no entry" sign
    Outcome.SIZE_QUERY: "ring",
    Outcome.RUNTIME_ERROR: "cross",
    Outcome.EVENT: "dot",
    Outcome.RUNNING: "clock",
}


def is_dark(palette: QPalette | None = None) -> bool:
    palette = palette or QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


def styles(dark: bool) -> dict[Outcome, OutcomeStyle]:
    return DARK if dark else LIGHT


def relative_luminance(color: QColor) -> float:
    """WCAG 2.1 relative luminance."""

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(color.redF())
        + 0.7152 * channel(color.greenF())
        + 0.0722 * channel(color.blueF())
    )


def contrast_ratio(a: QColor, b: QColor) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@cache
def outcome_icon(outcome: Outcome, dark: bool) -> QIcon:
    """A 16 px (and 32 px, for high-DPI screens) icon: a filled disc with a glyph."""
    icon = QIcon()
    colour = QColor(styles(dark)[outcome].foreground)
    for size in (16, 32):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            _draw_glyph(painter, _GLYPHS[outcome], colour, size)
        finally:
            painter.end()
        icon.addPixmap(pixmap)
    return icon


def _draw_glyph(painter: QPainter, glyph: str, colour: QColor, size: int) -> None:
    box = QRectF(1, 1, size - 2, size - 2)
    unit = size / 16
    ink = QColor("#ffffff") if colour.lightness() < 140 else QColor("#202020")
    if glyph == "ring":
        painter.setPen(QPen(colour, 2.5 * unit))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(box.adjusted(unit, unit, -unit, -unit))
        return
    if glyph == "dot":
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(colour))
        painter.drawEllipse(box.adjusted(3 * unit, 3 * unit, -3 * unit, -3 * unit))
        return
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(colour))
    painter.drawEllipse(box)
    pen = QPen(ink, 2 * unit)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    c = box.center()
    if glyph == "check":
        path = QPainterPath(QPointF(c.x() - 4 * unit, c.y()))
        path.lineTo(c.x() - 1 * unit, c.y() + 3 * unit)
        path.lineTo(c.x() + 4 * unit, c.y() - 3 * unit)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
    elif glyph == "bar":
        painter.drawLine(QPointF(c.x() - 4 * unit, c.y()), QPointF(c.x() + 4 * unit, c.y()))
    elif glyph == "cross":
        d = 3.5 * unit
        painter.drawLine(QPointF(c.x() - d, c.y() - d), QPointF(c.x() + d, c.y() + d))
        painter.drawLine(QPointF(c.x() - d, c.y() + d), QPointF(c.x() + d, c.y() - d))
    elif glyph == "clock":
        painter.drawLine(c, QPointF(c.x(), c.y() - 4 * unit))
        painter.drawLine(c, QPointF(c.x() + 3 * unit, c.y()))

"""The handshake waterfall: one bar per stage of a connection attempt, drawn with
QPainter, so a person sees where the time and the failure went without reading.

The attempts come from `app.attempts.AttemptRecorder` (what a stage is, when an
attempt failed); this module only draws them: bar length is time, colour is the
side that spent it, a failed stage is red and ends the chart.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.attempts import SOURCE_TEXT, Attempt, AttemptRecorder
from app.endpoint.events import CallbacksCalled
from app.xr.records import CallbackRecord
from ui.outcome_style import is_dark

ROW_HEIGHT = 26
LABEL_WIDTH = 190
TIME_WIDTH = 90
MARGIN = 8

# Who spent the time: the same hue in both palettes, lighter in the dark one.
SIDE_COLOURS = {
    False: {
        "client": "#1565c0",
        "server": "#6a1b9a",
        "network": "#546e7a",
        "runtime": "#00695c",
    },
    True: {
        "client": "#64b5f6",
        "server": "#ce93d8",
        "network": "#b0bec5",
        "runtime": "#80cbc4",
    },
}
FAILED_COLOUR = {False: "#c62828", True: "#ff8a80"}


def format_ms(seconds: float) -> str:
    millis = seconds * 1000
    if millis < 10:
        return f"{millis:.2f} ms"
    if millis < 1000:
        return f"{millis:.1f} ms"
    return f"{seconds:.2f} s"


def attempt_title(attempt: Attempt) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(attempt.started_at))
    if attempt.state == "connected":
        return f"Attempt {attempt.number} at {when}: connected in {format_ms(attempt.total_s)}"
    if attempt.state == "failed":
        failed = attempt.failed_span
        where = f" at {failed.name}" if failed else ""
        return f"Attempt {attempt.number} at {when}: failed{where} ({attempt.failure})"
    return f"Attempt {attempt.number} at {when}: in progress"


def describe(attempt: Attempt) -> str:
    """The chart as text, one line per stage (for screen readers and Copy)."""
    lines = [attempt_title(attempt)]
    for span in attempt.spans:
        mark = "FAILED " if span.failed else ""
        detail = f": {span.detail}" if span.detail else ""
        lines.append(
            f"{mark}{span.name} ({span.side}) at {format_ms(span.start_s)}, "
            f"took {format_ms(span.duration_s)}{detail}"
        )
    return "\n".join(lines)


class WaterfallChart(QWidget):
    """Paints one attempt."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.attempt: Attempt | None = None
        self.setMinimumHeight(ROW_HEIGHT * 3)
        self.setAccessibleName("Handshake waterfall chart")

    def set_attempt(self, attempt: Attempt | None) -> None:
        self.attempt = attempt
        self.setAccessibleDescription(describe(attempt) if attempt else "")
        self.setToolTip(describe(attempt) if attempt else "")
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        rows = len(self.attempt.spans) if self.attempt else 3
        return QSize(640, MARGIN * 2 + ROW_HEIGHT * (rows + 1))

    def minimumSizeHint(self) -> QSize:
        return QSize(360, self.sizeHint().height())

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            self._paint(painter)
        finally:
            painter.end()

    def _paint(self, painter: QPainter) -> None:
        palette = self.palette()
        dark = is_dark(palette)
        text = palette.color(QPalette.ColorRole.Text)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        attempt = self.attempt
        metrics = QFontMetrics(self.font())
        if attempt is None or not attempt.spans:
            painter.setPen(text)
            painter.drawText(
                self.rect().adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN),
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop),
                "No connection attempt yet: Connect or Listen, and each attempt's stages "
                "appear here.",
            )
            return
        total = max(attempt.total_s, 1e-6)
        left = MARGIN + LABEL_WIDTH
        width = max(40.0, self.width() - left - TIME_WIDTH - MARGIN)
        grid = QColor(text)
        grid.setAlpha(50)
        # Time axis: four ticks.
        axis_y = MARGIN + ROW_HEIGHT * len(attempt.spans) + 4
        for tick in range(5):
            x = left + width * tick / 4
            painter.setPen(QPen(grid, 1))
            painter.drawLine(round(x), MARGIN, round(x), axis_y)
            painter.setPen(text)
            label = format_ms(total * tick / 4)
            painter.drawText(
                QRectF(x - 40, axis_y, 80, ROW_HEIGHT),
                int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop),
                label,
            )
        for row, span in enumerate(attempt.spans):
            y = MARGIN + row * ROW_HEIGHT
            colour = QColor(
                FAILED_COLOUR[dark] if span.failed else SIDE_COLOURS[dark].get(span.side, "#777")
            )
            painter.setPen(colour if span.failed else text)
            name = metrics.elidedText(
                f"{span.name}  \u00b7 {span.side}", Qt.TextElideMode.ElideRight, LABEL_WIDTH - 6
            )
            painter.drawText(
                QRectF(MARGIN, y, LABEL_WIDTH - 6, ROW_HEIGHT),
                int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                name,
            )
            x = left + width * span.start_s / total
            bar = max(2.0, width * span.duration_s / total)
            rect = QRectF(x, y + 5, bar, ROW_HEIGHT - 10)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            if span.name == "connected":
                painter.drawEllipse(QRectF(x - 5, y + 8, 10, 10))
            else:
                painter.drawRoundedRect(rect, 2, 2)
            painter.setPen(colour if span.failed else text)
            painter.drawText(
                QRectF(min(x + bar + 4, left + width + 4), y, TIME_WIDTH, ROW_HEIGHT),
                int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                ("\u2716 " if span.failed else "") + format_ms(span.duration_s),
            )


class WaterfallWidget(QWidget):
    """The attempts of one endpoint (newest selected), the chart, and where its
    stages come from."""

    attemptChanged = Signal(object)  # Attempt

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.recorder = AttemptRecorder()
        self.attempt_combo = QComboBox()
        self.attempt_combo.setObjectName("waterfallAttempt")
        self.attempt_combo.setAccessibleName("Connection attempt")
        self.attempt_combo.currentIndexChanged.connect(self._selected)
        self.chart = WaterfallChart()
        self.chart.setObjectName("waterfallChart")
        self.title = QLabel()
        self.title.setObjectName("waterfallTitle")
        self.title.setWordWrap(True)
        self.source = QLabel()
        self.source.setObjectName("waterfallSource")
        self.source.setWordWrap(True)
        self.legend = QLabel(
            "Bar colour: who spent the time (client, server, network); red: the stage that failed."
        )
        self.legend.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Attempt:"))
        top.addWidget(self.attempt_combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.title)
        layout.addWidget(self.chart)
        layout.addWidget(self.source)
        layout.addWidget(self.legend)
        layout.addStretch(1)
        self._follow = True

    def add_event(self, event: Any) -> None:
        self._changed(self.recorder.feed(event, time.time()))

    def add_records(self, records: Sequence[CallbackRecord]) -> None:
        self._changed(self.recorder.feed(CallbacksCalled(tuple(records)), time.time()))

    def attempts(self) -> list[Attempt]:
        return list(self.recorder.attempts)

    def shown(self) -> Attempt | None:
        return self.chart.attempt

    def _changed(self, attempt: Attempt | None) -> None:
        if attempt is None:
            return
        numbers = [self.attempt_combo.itemData(i) for i in range(self.attempt_combo.count())]
        was_newest = self.attempt_combo.currentIndex() in (-1, self.attempt_combo.count() - 1)
        if attempt.number not in numbers:
            self.attempt_combo.addItem(attempt_title(attempt), attempt.number)
        index = self.attempt_combo.findData(attempt.number)
        self.attempt_combo.setItemText(index, attempt_title(attempt))
        if was_newest:
            self.attempt_combo.setCurrentIndex(index)
        if self.attempt_combo.currentData() == attempt.number:
            self._show(attempt)
        self.attemptChanged.emit(attempt)

    def _selected(self, _index: int) -> None:
        number = self.attempt_combo.currentData()
        attempt = next((a for a in self.recorder.attempts if a.number == number), None)
        self._show(attempt)

    def _show(self, attempt: Attempt | None) -> None:
        self.chart.set_attempt(attempt)
        self.title.setText(attempt_title(attempt) if attempt else "")
        self.source.setText(f"Stages: {SOURCE_TEXT[attempt.source]}." if attempt else "")

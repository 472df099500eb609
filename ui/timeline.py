"""The live callback timeline: a table model fed in batches, and a callback filter.

Why batches: a busy runtime may report thousands of callback records a second.
Inserting them one `beginInsertRows` at a time makes every view and proxy do its
bookkeeping per row; collecting them in a thread-safe deque and inserting once per
timer tick keeps the UI thread's work per frame bounded whatever the rate
(bench/ui.py measures the longest stall).

Cells are formatted when a view asks for them (only the visible rows), not when a
record arrives.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRegularExpression,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor

from ui.engine import CallbackRecord, Result, verdict_from_json

COLUMNS = ("Time", "Side", "Callback", "Summary", "Result", "Duration")
TIME, SIDE, CALLBACK, SUMMARY, RESULT, DURATION = range(len(COLUMNS))

# Rows kept before the oldest are dropped (in one batch). 200,000 rows of records is
# ~100 MiB at most; a long-running listener must not grow without bound.
MAX_ROWS = 200_000
# Custom role: the CallbackRecord behind a row.
RECORD_ROLE = Qt.ItemDataRole.UserRole + 1

_DISPLAY = Qt.ItemDataRole.DisplayRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_ALIGN = Qt.ItemDataRole.TextAlignmentRole
_HORIZONTAL = Qt.Orientation.Horizontal
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_BACKGROUND = Qt.ItemDataRole.BackgroundRole
_FAILED_BRUSH = QBrush(QColor("#b00020"))
# XR_ERROR_SIZE_INSUFFICIENT is the normal first half of the specification's two-call
# idiom (the runtime offers a buffer, the callback asks for a larger one, the runtime
# calls again): shown in amber, not as a failure.
SIZE_INSUFFICIENT = int(Result.ERROR_SIZE_INSUFFICIENT)
SIZE_QUERY_TOOLTIP = "first call of the two-call idiom: the callback asked for a larger buffer"
_SIZE_QUERY_BRUSH = QBrush(QColor("#8a5a00"))
_SIZE_QUERY_BACKGROUND = QBrush(QColor("#fff4d6"))


def format_time(started_at: float) -> str:
    millis = int(started_at * 1000) % 1000
    return time.strftime("%H:%M:%S", time.localtime(started_at)) + f".{millis:03d}"


def format_duration(seconds: float) -> str:
    millis = seconds * 1000
    return f"{millis:.2f} ms" if millis < 1000 else f"{seconds:.2f} s"


class TimelineModel(QAbstractTableModel):
    """Rows are `CallbackRecord`s in arrival order."""

    def __init__(self, parent: QObject | None = None, *, max_rows: int = MAX_ROWS) -> None:
        super().__init__(parent)
        self._records: list[CallbackRecord] = []
        self._max_rows = max_rows

    # --- Qt model interface (called per visible cell: keep it lean) -----------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY) -> Any:
        record = self._records[index.row()]
        column = index.column()
        if role == _DISPLAY:
            if column == CALLBACK:
                return record.callback
            if column == TIME:
                return format_time(record.started_at)
            if column == SIDE:
                return record.side
            if column == SUMMARY:
                return record.error or summarize_io(record)
            if column == RESULT:
                return record.result_name
            if column == DURATION:
                return format_duration(record.duration_s)
            return None
        if role == RECORD_ROLE:
            return record
        if role == _FOREGROUND:
            if record.result >= 0:
                return None
            return _SIZE_QUERY_BRUSH if record.result == SIZE_INSUFFICIENT else _FAILED_BRUSH
        if role == _BACKGROUND:
            return _SIZE_QUERY_BACKGROUND if record.result == SIZE_INSUFFICIENT else None
        if role == _TOOLTIP:
            if record.result == SIZE_INSUFFICIENT:
                return SIZE_QUERY_TOOLTIP
            return record.summary()
        if role == _ALIGN and column == DURATION:
            return _RIGHT
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        if role == _DISPLAY and orientation == _HORIZONTAL:
            return COLUMNS[section]
        return None

    # --- feeding ------------------------------------------------------------------------

    def append_records(self, records: Sequence[CallbackRecord]) -> None:
        """Insert a batch at the end with one begin/endInsertRows."""
        if not records:
            return
        overflow = len(self._records) + len(records) - self._max_rows
        if overflow > 0:
            drop = min(overflow, len(self._records))
            if drop:
                self.beginRemoveRows(QModelIndex(), 0, drop - 1)
                del self._records[:drop]
                self.endRemoveRows()
            records = records[-self._max_rows :]
        first = len(self._records)
        self.beginInsertRows(QModelIndex(), first, first + len(records) - 1)
        self._records.extend(records)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._records.clear()
        self.endResetModel()

    def record(self, row: int) -> CallbackRecord:
        return self._records[row]

    def records(self) -> list[CallbackRecord]:
        return list(self._records)


def summarize_io(record: CallbackRecord) -> str:
    """A short line of the record's most telling values (already masked)."""
    parts: list[str] = []
    for key, value in (*record.inputs.items(), *record.outputs.items()):
        if isinstance(value, dict | list):
            if key == "validationResultOut" and isinstance(value, dict):
                failed = verdict_from_json(value).failed_fields()
                parts.append("verdict: " + ("failed " + ", ".join(failed) if failed else "ok"))
            continue
        parts.append(f"{key}={value}")
        if len(parts) >= 4:
            break
    return "; ".join(parts)


def record_details(record: CallbackRecord) -> str:
    """The details pane: the whole record, inputs and outputs as masked at source."""
    data = record.to_json()
    data["chainCertificates"] = len(record.chain)
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


class CallbackFilterProxy(QSortFilterProxyModel):
    """Shows all rows, or only those of one callback (exact name match)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setFilterKeyColumn(CALLBACK)
        self._callback = ""

    def set_callback(self, name: str) -> None:
        """`""` shows every callback."""
        self._callback = name
        pattern = f"^{QRegularExpression.escape(name)}$" if name else ""
        self.setFilterRegularExpression(QRegularExpression(pattern))

    @property
    def callback(self) -> str:
        return self._callback

"""The live callback timeline: a table model fed in batches, and a callback filter.

Why batches: a busy runtime may report thousands of callback records a second.
Inserting them one `beginInsertRows` at a time makes every view and proxy do its
bookkeeping per row; collecting them in a thread-safe deque and inserting once per
timer tick keeps the UI thread's work per frame bounded whatever the rate
(bench/stall.py measures the longest stall).

Cells are formatted when a view asks for them (only the visible rows), not when a
record arrives.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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

from app.outcomes import (
    SIZE_QUERY_REASON,
    Classified,
    Outcome,
    classify_record,
    event_is_failure,
    event_title,
)
from app.xr.records import CallbackRecord
from app.xr.validation_result import ValidationResult
from app.xr.values import Result
from ui.outcome_style import is_dark, outcome_icon, styles

if TYPE_CHECKING:
    from app.endpoint.events import SessionEvent

COLUMNS = ("Time", "Side", "Callback / event", "Outcome", "Summary", "Result", "Duration")
TIME, SIDE, CALLBACK, OUTCOME, SUMMARY, RESULT, DURATION = range(len(COLUMNS))

# Rows kept before the oldest are dropped (in one batch). 200,000 rows of records is
# ~100 MiB at most; a long-running listener must not grow without bound.
MAX_ROWS = 200_000
# Custom roles: the row's value (a CallbackRecord or an EventRow) and its Outcome.
RECORD_ROLE = Qt.ItemDataRole.UserRole + 1
OUTCOME_ROLE = Qt.ItemDataRole.UserRole + 2

_DISPLAY = Qt.ItemDataRole.DisplayRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_DECORATION = Qt.ItemDataRole.DecorationRole
_ACCESSIBLE = Qt.ItemDataRole.AccessibleTextRole
_ALIGN = Qt.ItemDataRole.TextAlignmentRole
_HORIZONTAL = Qt.Orientation.Horizontal
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_BACKGROUND = Qt.ItemDataRole.BackgroundRole
# XR_ERROR_SIZE_INSUFFICIENT is the normal first half of the specification's two-call
# idiom (the runtime offers a buffer, the callback asks for a larger one, the runtime
# calls again): shown in amber as a size query, not as a failure.
SIZE_INSUFFICIENT = int(Result.ERROR_SIZE_INSUFFICIENT)
SIZE_QUERY_TOOLTIP = SIZE_QUERY_REASON


@dataclass(frozen=True)
class EventRow:
    """A connection event (listening, connected, disconnected, a note) in the
    timeline, stamped when the window received it."""

    at: float
    title: str
    data: dict[str, Any]
    failed: bool = False

    @classmethod
    def of(cls, event: SessionEvent, at: float | None = None) -> EventRow:
        data = event.to_json()
        return cls(
            at=time.time() if at is None else at,
            title=event_title(event),
            data=dict(data),
            failed=event_is_failure(event),
        )

    def summary(self) -> str:
        if "explanation" in self.data:
            return str(self.data.get("runtimeDetail") or self.data["explanation"])
        if "message" in self.data:
            return str(self.data["message"])
        if "transportPort" in self.data:
            return f"transport port {self.data['transportPort']}"
        return ""

    def to_json(self) -> dict[str, Any]:
        return {**self.data, "at": self.at}


@dataclass(frozen=True)
class RunningCall:
    """A callback call under way: replaced in place by its record when it returns."""

    callback: str
    started_at: float

    @property
    def side(self) -> str:
        return "client" if self.callback in CLIENT_CALLBACK_NAMES else "server"

    def summary(self) -> str:
        return f"{self.callback} running"

    def to_json(self) -> dict[str, Any]:
        return {"callback": self.callback, "startedAt": self.started_at}


Row = CallbackRecord | EventRow | RunningCall
# A running call is a call already; its record takes its place (and its count).
_CALL_ROWS = (CallbackRecord, RunningCall)
# How far back a record looks for the running row of its call.
RUNNING_LOOKBACK = 64
# A record's span is its wall-clock start plus a monotonic duration: allow for the
# two clocks' rounding when asking whether a call was under way at a given time.
_CLOCK_SLACK_S = 1e-6
CLIENT_CALLBACK_NAMES = ("RequestAuthenticationToken", "ValidateServerCertificate")


def format_time(started_at: float) -> str:
    millis = int(started_at * 1000) % 1000
    return time.strftime("%H:%M:%S", time.localtime(started_at)) + f".{millis:03d}"


def format_local_datetime(at: float) -> str:
    """The local date and time a person reads, with the zone."""
    millis = int(at * 1000) % 1000
    stamp = time.localtime(at)
    return (
        time.strftime("%Y-%m-%d %H:%M:%S", stamp) + f".{millis:03d} " + time.strftime("%Z", stamp)
    )


def format_duration(seconds: float) -> str:
    millis = seconds * 1000
    return f"{millis:.2f} ms" if millis < 1000 else f"{seconds:.2f} s"


def classify(row: Row) -> Classified:
    if isinstance(row, RunningCall):
        return Classified(Outcome.RUNNING, "the call has not returned yet")
    if isinstance(row, EventRow):
        return Classified(Outcome.EVENT, row.summary())
    return classify_record(row)


class TimelineModel(QAbstractTableModel):
    """Rows are `CallbackRecord`s and `EventRow`s in arrival order, each with the
    outcome `app.outcomes` gives it (computed once, when the row arrives)."""

    def __init__(self, parent: QObject | None = None, *, max_rows: int = MAX_ROWS) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []
        # Classified when first shown or filtered, not on insert: a flood of
        # records must not pay for rows nobody looks at (docs/benchmarks.md, stall).
        self._outcomes: list[Classified | None] = []
        self._calls = 0  # callback rows: records, and calls still running
        self._max_rows = max_rows
        self.set_dark(is_dark())

    def set_dark(self, dark: bool) -> None:
        """Colours for the light or the dark palette."""
        self._dark = dark
        self._styles = styles(dark)
        # The brushes are made when a row is first drawn (a window starts with none;
        # making QBrush's Python type and enums was ~1 ms of its start).
        self._brushes: tuple[dict[Outcome, QBrush], dict[Outcome, QBrush | None]] | None = None
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(COLUMNS) - 1)
            )

    def _outcome_brushes(self) -> tuple[dict[Outcome, QBrush], dict[Outcome, QBrush | None]]:
        """(foreground, background) brush of each outcome in the current palette."""
        if self._brushes is None:
            styles_now = self._styles.items()
            self._brushes = (
                {o: QBrush(QColor(s.foreground)) for o, s in styles_now},
                {o: QBrush(QColor(s.background)) if s.background else None for o, s in styles_now},
            )
        return self._brushes

    # --- Qt model interface (called per visible cell: keep it lean) -----------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY) -> Any:
        row = index.row()
        record = self._rows[row]
        column = index.column()
        if role == _DISPLAY:
            if column == OUTCOME:
                return self.outcome(row).outcome.label
            if isinstance(record, EventRow):
                return self._event_cell(record, column)
            if isinstance(record, RunningCall):
                return self._running_cell(record, column)
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
        if role == OUTCOME_ROLE:
            return self.outcome(row).outcome
        if role == _FOREGROUND:
            outcome = self.outcome(row).outcome
            if outcome is Outcome.SUCCESS and column != OUTCOME:
                return None
            foreground = self._outcome_brushes()[0]
            if outcome is Outcome.EVENT and isinstance(record, EventRow) and record.failed:
                return foreground[Outcome.RUNTIME_ERROR]
            return foreground[outcome]
        if role == _BACKGROUND:
            return self._outcome_brushes()[1][self.outcome(row).outcome]
        if role == _DECORATION and column == OUTCOME:
            outcome = self.outcome(row).outcome
            if isinstance(record, EventRow) and record.failed:
                outcome = Outcome.RUNTIME_ERROR
            return outcome_icon(outcome, self._dark)
        if role == _TOOLTIP:
            classified = self.outcome(row)
            if classified.outcome is Outcome.SIZE_QUERY:
                return SIZE_QUERY_TOOLTIP
            text = record.title if isinstance(record, EventRow) else record.summary()
            if classified.reason and classified.reason not in text:
                text += f": {classified.reason}"
            return f"{classified.outcome.label}: {text}"
        if role == _ACCESSIBLE and column == OUTCOME:
            classified = self.outcome(row)
            return classified.outcome.label + (
                f", {classified.reason}" if classified.reason else ""
            )
        if role == _ALIGN and column == DURATION:
            return _RIGHT
        return None

    @staticmethod
    def _running_cell(row: RunningCall, column: int) -> str | None:
        if column == TIME:
            return format_time(row.started_at)
        if column == CALLBACK:
            return row.callback
        if column == SIDE:
            return row.side
        if column == SUMMARY:
            return "waiting for the call to return\u2026"
        return ""

    @staticmethod
    def _event_cell(row: EventRow, column: int) -> str | None:
        if column == TIME:
            return format_time(row.at)
        if column == CALLBACK:
            return row.title
        if column == SUMMARY:
            return row.summary()
        if column == SIDE:
            return "session"
        return ""

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        if role == _DISPLAY and orientation == _HORIZONTAL:
            return COLUMNS[section]
        return None

    # --- feeding ------------------------------------------------------------------------

    def start_call(self, callback: str, started_at: float) -> None:
        """A call began: a running row until its record arrives. The notice and the
        record reach the loop by different ways (an event, the record relay), so a
        short call's record can come first: then the call is over and no running
        row is made (it would never be completed)."""
        if self._finished_call(callback, started_at) is None:
            self.append_records([RunningCall(callback, started_at)])

    def _finished_call(self, callback: str, at: float) -> int | None:
        """The row of a record of `callback` whose call was under way at `at` (the
        notice's time is taken inside the call, the record's span around it)."""
        for row in self._recent_rows():
            record = self._rows[row]
            if (
                isinstance(record, CallbackRecord)
                and record.callback == callback
                and record.started_at - _CLOCK_SLACK_S
                <= at
                <= record.started_at + record.duration_s + _CLOCK_SLACK_S
            ):
                return row
        return None

    def _complete_running(self, records: Sequence[Row]) -> list[Row]:
        """Put each record in place of its call's running row (the oldest one of that
        callback among the last rows); returns the records that had none."""
        rest: list[Row] = []
        for record in records:
            if isinstance(record, CallbackRecord):
                row = self._running_row(record.callback)
                if row is not None:
                    self._rows[row] = record
                    self._outcomes[row] = classify(record)
                    self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
                    continue
            rest.append(record)
        return rest

    def _recent_rows(self) -> range:
        """The last RUNNING_LOOKBACK rows, newest first."""
        return range(len(self._rows) - 1, max(-1, len(self._rows) - RUNNING_LOOKBACK - 1), -1)

    def _running_row(self, callback: str) -> int | None:
        found = None
        for row in self._recent_rows():
            candidate = self._rows[row]
            if isinstance(candidate, RunningCall) and candidate.callback == callback:
                found = row
        return found

    def append_records(self, records: Sequence[Row]) -> None:
        """Insert a batch at the end with one begin/endInsertRows (records whose call
        shows as running complete that row instead)."""
        if not records:
            return
        if self._rows and any(isinstance(r, RunningCall) for r in self._rows[-RUNNING_LOOKBACK:]):
            records = self._complete_running(records)
            if not records:
                return
        overflow = len(self._rows) + len(records) - self._max_rows
        if overflow > 0:
            drop = min(overflow, len(self._rows))
            if drop:
                self.beginRemoveRows(QModelIndex(), 0, drop - 1)
                self._calls -= sum(isinstance(r, _CALL_ROWS) for r in self._rows[:drop])
                del self._rows[:drop]
                del self._outcomes[:drop]
                self.endRemoveRows()
            records = records[-self._max_rows :]
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(records) - 1)
        self._rows.extend(records)
        self._outcomes.extend([None] * len(records))
        self._calls += sum(isinstance(r, _CALL_ROWS) for r in records)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self._outcomes.clear()
        self._calls = 0
        self.endResetModel()

    def record(self, row: int) -> Row:
        return self._rows[row]

    def outcome(self, row: int) -> Classified:
        classified = self._outcomes[row]
        if classified is None:
            classified = self._outcomes[row] = classify(self._rows[row])
        return classified

    def records(self) -> list[Row]:
        return list(self._rows)

    def callback_records(self) -> list[CallbackRecord]:
        return [r for r in self._rows if isinstance(r, CallbackRecord)]

    def callback_count(self) -> int:
        """How many rows are callbacks, finished or still running (kept as rows come
        and go: counting them per batch would cost a pass over every row per batch)."""
        return self._calls


def summarize_io(record: CallbackRecord) -> str:
    """A short line of the record's most telling values (already masked)."""
    parts: list[str] = []
    for key, value in (*record.inputs.items(), *record.outputs.items()):
        if isinstance(value, dict | list):
            if key == "validationResultOut" and isinstance(value, dict):
                failed = ValidationResult.from_json(value).failed_fields()
                parts.append("verdict: " + ("failed " + ", ".join(failed) if failed else "ok"))
            continue
        parts.append(f"{key}={value}")
        if len(parts) >= 4:
            break
    return "; ".join(parts)


def row_json(row: Row, outcome: Classified | None = None) -> dict[str, Any]:
    """One row as JSON (what Copy as JSON and the JSON-lines export write): the
    record's or event's own JSON plus its outcome. Secrets were masked at source."""
    classified = outcome or classify(row)
    if isinstance(row, EventRow):
        data: dict[str, Any] = {"kind": "event", **row.to_json()}
    elif isinstance(row, RunningCall):
        data = {"kind": "running", **row.to_json()}
    else:
        data = {"kind": "callback", **row.to_json(), "chainCertificates": len(row.chain)}
    data["outcome"] = classified.outcome.value
    if classified.reason:
        data["outcomeReason"] = classified.reason
    return data


def record_details(record: Row) -> str:
    """The whole row as indented JSON (Copy as JSON)."""
    import json  # with the first row shown, not with the window (docs/benchmarks.md)

    return json.dumps(row_json(record), indent=2, ensure_ascii=False, default=str)


def detail_rows(row: Row, outcome: Classified | None = None) -> list[tuple[str, str]]:
    """The details table: one (field, value) pair per line a person reads, times in
    local time, nested values (the verdict) one level deep."""
    classified = outcome or classify(row)
    lines: list[tuple[str, str]] = [("Outcome", classified.outcome.label)]
    if classified.reason:
        lines.append(("Why", classified.reason))
    if isinstance(row, RunningCall):
        lines += [
            ("Callback", row.callback),
            ("Side", row.side),
            ("Started", format_local_datetime(row.started_at)),
        ]
        return lines
    if isinstance(row, EventRow):
        lines.append(("Event", row.title))
        lines.append(("Received", format_local_datetime(row.at)))
        for key, value in row.data.items():
            if key != "event":
                lines.append((key, _cell_text(value)))
        return lines
    lines += [
        ("Callback", row.callback),
        ("Side", row.side),
        ("Started", format_local_datetime(row.started_at)),
        ("Duration", format_duration(row.duration_s)),
        ("Result", row.result_name),
    ]
    if row.error:
        lines.append(("Error", row.error))
    for prefix, values in (("in", row.inputs), ("out", row.outputs)):
        for key, value in values.items():
            if isinstance(value, dict):
                for inner, inner_value in value.items():
                    lines.append((f"{prefix}: {key}.{inner}", _cell_text(inner_value)))
            else:
                lines.append((f"{prefix}: {key}", _cell_text(value)))
    if row.chain:
        lines.append(("Chain", f"{len(row.chain)} certificate(s)"))
    return lines


def _cell_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_cell_text(v) for v in value) or "(none)"
    if isinstance(value, dict):
        import json

        return json.dumps(value, ensure_ascii=False, default=str)
    if value is None:
        return "(none)"
    return str(value)


def export_jsonl(rows: Iterable[Row], path: str) -> int:
    """Write one JSON object per row (JSON lines); returns the number written.
    Blocking: run off the UI thread."""
    import json

    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row_json(row), ensure_ascii=False, default=str) + "\n")
            count += 1
    return count


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


class OutcomeFilterProxy(QSortFilterProxyModel):
    """Shows all rows, or only those of one outcome (matched on the Outcome column's
    word, so the filtering stays in Qt's C++ code whatever the number of rows)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setFilterKeyColumn(OUTCOME)
        self._outcome: Outcome | None = None

    def set_outcome(self, outcome: Outcome | None) -> None:
        """None shows every outcome."""
        self._outcome = outcome
        pattern = f"^{QRegularExpression.escape(outcome.label)}$" if outcome else ""
        self.setFilterRegularExpression(QRegularExpression(pattern))

    @property
    def outcome(self) -> Outcome | None:
        return self._outcome

"""The timeline widget: filters, table, details table and export over `ui.timeline`'s
model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelection, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.outcomes import Outcome
from app.xr.records import CALLBACK_NAMES, CallbackRecord
from ui.jobs import Jobs, run_blocking
from ui.timeline import (
    CALLBACK,
    COLUMNS,
    DURATION,
    OUTCOME,
    RECORD_ROLE,
    RESULT,
    SIDE,
    SUMMARY,
    TIME,
    CallbackFilterProxy,
    EventRow,
    OutcomeFilterProxy,
    Row,
    RunningCall,
    TimelineModel,
    detail_rows,
    export_jsonl,
    record_details,
)

if TYPE_CHECKING:
    from app.endpoint.events import SessionEvent

ALL_CALLBACKS = "All callbacks and events"
ALL_OUTCOMES = "All outcomes"
JSONL_FILTER = "JSON lines (*.jsonl);;All files (*)"


class TimelineWidget(QWidget):
    """Live table of callback calls and connection events, a details table, filters
    by callback and by outcome, Copy as JSON and Export as JSON lines.

    `chainSelected` is emitted when a ValidateServerCertificate row with a chain is
    selected, so the window can show that chain in the inspector."""

    chainSelected = Signal(object)  # CallbackRecord
    exported = Signal(str, int)  # path, rows written

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = Jobs(self)
        self.model = TimelineModel(self)
        self.proxy = CallbackFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.outcome_proxy = OutcomeFilterProxy(self)
        self.outcome_proxy.setSourceModel(self.proxy)

        self.filter_combo = QComboBox()
        self.filter_combo.setObjectName("timelineFilter")
        self.filter_combo.setAccessibleName("Show callback")
        self.filter_combo.addItem(ALL_CALLBACKS, "")
        for name in CALLBACK_NAMES:
            self.filter_combo.addItem(name, name)
        self.filter_combo.currentIndexChanged.connect(self._filter_changed)
        self.outcome_combo = QComboBox()
        self.outcome_combo.setObjectName("timelineOutcomeFilter")
        self.outcome_combo.setAccessibleName("Show outcome")
        self.outcome_combo.addItem(ALL_OUTCOMES, None)
        for outcome in Outcome:
            self.outcome_combo.addItem(outcome.label.capitalize(), outcome)
        self.outcome_combo.currentIndexChanged.connect(self._outcome_changed)
        for combo in (self.filter_combo, self.outcome_combo):
            # Narrow windows: the combos shrink (their popups still show whole names).
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(6)
        self.count_label = QLabel("0 calls")
        self.count_label.setObjectName("timelineCount")
        self.export_button = QPushButton("Export\u2026")
        self.export_button.setObjectName("timelineExport")
        self.export_button.setAccessibleName("Export the timeline as JSON lines")
        self.export_button.setToolTip("Save every row as JSON lines (one object per line)")
        self.export_button.clicked.connect(self.choose_export_file)
        clear = QPushButton("Clear")
        clear.setObjectName("timelineClear")
        clear.setAccessibleName("Clear the timeline")
        clear.clicked.connect(self.clear)

        self.table = QTableView()
        self.table.setObjectName("timelineTable")
        self.table.setAccessibleName("Callback timeline")
        self.table.setModel(self.model)  # the proxies only while a filter is set
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        # Uniform row height: the view never measures rows, whatever their number.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(SUMMARY, QHeaderView.ResizeMode.Stretch)
        for column, width in (
            (TIME, 96),
            (SIDE, 60),
            (CALLBACK, 210),
            (OUTCOME, 140),
            (RESULT, 200),
            (DURATION, 80),
        ):
            header.resizeSection(column, width)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        self.details = QTableWidget(0, 2)
        self.details.setObjectName("timelineDetails")
        self.details.setAccessibleName("Details of the selected row")
        self.details.setHorizontalHeaderLabels(["Field", "Value"])
        self.details.verticalHeader().setVisible(False)
        self.details.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.details.setWordWrap(True)
        self.details.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents
        )
        self.details.horizontalHeader().setStretchLastSection(True)
        self.copy_json_button = QPushButton("Copy as JSON")
        self.copy_json_button.setObjectName("timelineCopyJson")
        self.copy_json_button.setAccessibleName("Copy the selected row as JSON")
        self.copy_json_button.setEnabled(False)
        self.copy_json_button.clicked.connect(self.copy_selected_json)
        self.details_hint = QLabel(
            "Select a row to see its inputs and outputs (secrets are masked)."
        )
        self.details_hint.setObjectName("timelineDetailsHint")
        self.details_hint.setWordWrap(True)
        details_box = QWidget()
        details_layout = QVBoxLayout(details_box)
        details_layout.setContentsMargins(0, 0, 0, 0)
        details_top = QHBoxLayout()
        details_top.addWidget(self.count_label)
        details_top.addWidget(self.details_hint, 1)
        details_top.addWidget(self.copy_json_button)
        details_layout.addLayout(details_top)
        details_layout.addWidget(self.details)

        top = QHBoxLayout()
        top.addWidget(self.filter_combo)
        top.addWidget(self.outcome_combo)
        top.addStretch(1)
        top.addWidget(self.export_button)
        top.addWidget(clear)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(details_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(splitter)

        self._follow = True
        self._selected: Row | None = None
        self.table.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.table.setToolTip(", ".join(COLUMNS))

    # --- feeding ---------------------------------------------------------------------

    def add_records(self, records: Sequence[CallbackRecord]) -> None:
        """A burst of records as the session delivered it: one model insertion (the
        session's `RecordRelay` is the one place records are batched)."""
        if records:
            self.model.append_records(records)
            self._after_insert()

    def add_event(self, event: SessionEvent) -> None:
        """A session event (listening, connected, disconnected, a note) as a row;
        records come through `add_records`, state changes are in the status bar."""
        from app.endpoint.events import CallbacksCalled, CallStarted, StateChanged

        if isinstance(event, CallStarted):
            self.model.start_call(event.callback, event.started_at)
            self._after_insert()
            return
        if isinstance(event, CallbacksCalled | StateChanged):
            return
        self.model.append_records([EventRow.of(event)])
        self._after_insert()

    def clear(self) -> None:
        self.model.clear()
        self._show_row(None)
        self.count_label.setText("0 calls")

    def select_callback(self, name: str) -> None:
        index = self.filter_combo.findData(name)
        self.filter_combo.setCurrentIndex(max(index, 0))

    def select_outcome(self, outcome: Outcome | None) -> None:
        for index in range(self.outcome_combo.count()):
            if self.outcome_combo.itemData(index) == outcome:
                self.outcome_combo.setCurrentIndex(index)
                return

    # --- details, copy, export -------------------------------------------------------

    def details_text(self) -> str:
        """What the details table shows, one 'field: value' per line (for tests and
        screen readers that read the table as text)."""
        lines = []
        for row in range(self.details.rowCount()):
            field, value = self.details.item(row, 0), self.details.item(row, 1)
            if field is not None and value is not None:
                lines.append(f"{field.text()}: {value.text()}")
        return "\n".join(lines)

    def selected_json(self) -> str:
        return record_details(self._selected) if self._selected is not None else ""

    def copy_selected_json(self) -> None:
        text = self.selected_json()
        if text:
            QGuiApplication.clipboard().setText(text)

    def choose_export_file(self) -> QFileDialog:
        dialog = QFileDialog(self, "Export timeline", "timeline.jsonl", JSONL_FILTER)
        dialog.setObjectName("timelineExportDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("jsonl")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(self.export_to)
        dialog.open()
        return dialog

    def export_to(self, path: str) -> None:
        """Write the rows the filters show (all rows when none is set), off the UI
        thread; `exported` reports the count."""
        rows = [
            self.outcome_proxy.index(r, 0).data(RECORD_ROLE)
            for r in range(self.outcome_proxy.rowCount())
        ]
        self.jobs.spawn("export timeline", self._export(rows, path))

    async def _export(self, rows: list[Row], path: str) -> None:
        count = await run_blocking(export_jsonl, rows, path)
        self.exported.emit(path, count)

    # --- internals ----------------------------------------------------------------------

    def _filter_changed(self, _index: int) -> None:
        selected = self._selected_source_row()
        self.proxy.set_callback(str(self.filter_combo.currentData() or ""))
        self._show_filtered(selected)

    def _outcome_changed(self, _index: int) -> None:
        selected = self._selected_source_row()
        data = self.outcome_combo.currentData()
        self.outcome_proxy.set_outcome(data if isinstance(data, Outcome) else None)
        self._show_filtered(selected)

    def _selected_source_row(self) -> QPersistentModelIndex:
        """The selected row in the model itself, whichever model the table shows."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return QPersistentModelIndex()
        index = rows[0]
        if index.model() is self.outcome_proxy:
            index = self.proxy.mapToSource(self.outcome_proxy.mapToSource(index))
        return QPersistentModelIndex(index)

    def _show_filtered(self, selected: QPersistentModelIndex) -> None:
        """The table shows the model itself while no filter is set, and the filter
        proxies only while one is. Why: the repaint of the live timeline is what sets
        the longest loop stall under a flood of records, and through the two proxies
        it calls into Python 2.5 times as often (each index a proxy maps asks the
        model for its row and column counts: about 2,700 calls for the visible rows
        against about 1,070 directly) and costs about 1.5x the time
        (docs/benchmarks.md, loop stall). The proxies stay attached, so switching
        refilters nothing; the column widths, the selected row and following the
        newest rows are kept."""
        filtered = bool(self.proxy.callback) or self.outcome_proxy.outcome is not None
        model = self.outcome_proxy if filtered else self.model
        if self.table.model() is model:
            return
        follow = self._follow
        old_selection = self.table.selectionModel()
        self.table.setModel(model)
        old_selection.deleteLater()
        index = self.model.index(selected.row(), 0) if selected.isValid() else QModelIndex()
        if index.isValid() and filtered:
            index = self.outcome_proxy.mapFromSource(self.proxy.mapFromSource(index))
        if index.isValid():  # the same row, selected again without showing it again
            self.table.selectRow(index.row())
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self._follow = follow
        if follow:
            self.table.scrollToBottom()
        elif index.isValid():
            self.table.scrollTo(index)

    def _scrolled(self, value: int) -> None:
        bar = self.table.verticalScrollBar()
        self._follow = value >= bar.maximum() - 2

    def _after_insert(self) -> None:
        calls = self.model.callback_count()
        events = self.model.rowCount() - calls
        self.count_label.setText(f"{calls} calls" + (f", {events} events" if events else ""))
        if self._follow:
            self.table.scrollToBottom()

    def _selection_changed(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        indexes = selected.indexes()
        if not indexes:
            return
        self.show_details(indexes[0])

    def show_details(self, proxy_index: QModelIndex) -> None:
        row = proxy_index.data(RECORD_ROLE)
        if not isinstance(row, CallbackRecord | EventRow | RunningCall):
            return
        self._show_row(row)
        if isinstance(row, CallbackRecord) and row.chain:
            self.chainSelected.emit(row)

    def _show_row(self, row: Row | None) -> None:
        self._selected = row
        self.copy_json_button.setEnabled(row is not None)
        lines = detail_rows(row) if row is not None else []
        self.details.setRowCount(len(lines))
        for number, (name, value) in enumerate(lines):
            self.details.setItem(number, 0, QTableWidgetItem(name))
            item = QTableWidgetItem(value)
            item.setToolTip(value)
            self.details.setItem(number, 1, item)
        self.details.resizeRowsToContents()


def read_jsonl(path: str) -> list[dict[str, Any]]:
    """The rows an export wrote (for tests and for people checking a file)."""
    import json

    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]

"""The timeline widget: filter, table and details pane over `ui.timeline`'s model."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QItemSelection, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.engine import CALLBACK_NAMES, CallbackRecord
from ui.timeline import (
    COLUMNS,
    DURATION,
    RECORD_ROLE,
    RESULT,
    SIDE,
    SUMMARY,
    TIME,
    CallbackFilterProxy,
    TimelineModel,
    record_details,
)

ALL_CALLBACKS = "All callbacks"


class TimelineWidget(QWidget):
    """Live table of callback records with a details pane and a callback filter.

    `chainSelected` is emitted when a ValidateServerCertificate row with a chain is
    selected, so the window can show that chain in the inspector."""

    chainSelected = Signal(object)  # CallbackRecord

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = TimelineModel(self)
        self.proxy = CallbackFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.filter_combo = QComboBox()
        self.filter_combo.setObjectName("timelineFilter")
        self.filter_combo.addItem(ALL_CALLBACKS, "")
        for name in CALLBACK_NAMES:
            self.filter_combo.addItem(name, name)
        self.filter_combo.currentIndexChanged.connect(self._filter_changed)
        self.count_label = QLabel("0 calls")
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)

        self.table = QTableView()
        self.table.setObjectName("timelineTable")
        self.table.setModel(self.proxy)
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
        for column, width in ((TIME, 100), (SIDE, 60), (RESULT, 240), (DURATION, 90)):
            header.resizeSection(column, width)
        header.resizeSection(2, 220)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        self.details = QPlainTextEdit()
        self.details.setObjectName("timelineDetails")
        self.details.setReadOnly(True)
        self.details.setPlaceholderText(
            "Select a call to see its inputs and outputs (secrets are masked)."
        )

        top = QHBoxLayout()
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.filter_combo)
        top.addStretch(1)
        top.addWidget(self.count_label)
        top.addWidget(clear)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(splitter)

        self._follow = True
        self.table.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.table.setToolTip(", ".join(COLUMNS))

    # --- feeding ---------------------------------------------------------------------

    def add_records(self, records: Sequence[CallbackRecord]) -> None:
        """A burst of records as the session delivered it: one model insertion (the
        session's `RecordRelay` is the one place records are batched)."""
        if not records:
            return
        self.model.append_records(records)
        self.count_label.setText(f"{self.model.rowCount()} calls")
        if self._follow:
            self.table.scrollToBottom()

    def clear(self) -> None:
        self.model.clear()
        self.details.clear()
        self.count_label.setText("0 calls")

    def select_callback(self, name: str) -> None:
        index = self.filter_combo.findData(name)
        self.filter_combo.setCurrentIndex(max(index, 0))

    # --- internals ----------------------------------------------------------------------

    def _filter_changed(self, _index: int) -> None:
        self.proxy.set_callback(str(self.filter_combo.currentData() or ""))

    def _scrolled(self, value: int) -> None:
        bar = self.table.verticalScrollBar()
        self._follow = value >= bar.maximum() - 2

    def _selection_changed(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        indexes = selected.indexes()
        if not indexes:
            return
        self.show_details(indexes[0])

    def show_details(self, proxy_index: QModelIndex) -> None:
        record = proxy_index.data(RECORD_ROLE)
        if not isinstance(record, CallbackRecord):
            return
        self.details.setPlainText(record_details(record))
        if record.chain:
            self.chainSelected.emit(record)

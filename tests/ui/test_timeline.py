"""The timeline model, batcher, filter and details pane, fed real callback records."""

from __future__ import annotations

import threading

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor

from app.xr.records import CALLBACK_NAMES, CallbackRecord
from app.xr.values import Result
from tests.ui.conftest import TOKEN
from ui.timeline import (
    CALLBACK,
    RECORD_ROLE,
    RESULT,
    SIDE,
    SIZE_QUERY_TOOLTIP,
    TIME,
    CallbackFilterProxy,
    RecordBatcher,
    TimelineModel,
    record_details,
)
from ui.timeline_view import TimelineWidget


def _all_text(model: TimelineModel) -> str:
    cells = []
    for row in range(model.rowCount()):
        for column in range(model.columnCount()):
            index = model.index(row, column)
            for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                cells.append(str(model.data(index, role)))
    return "\n".join(cells)


def test_rows_show_time_side_callback_result(records: list[CallbackRecord]) -> None:
    model = TimelineModel()
    model.append_records(records)
    # The token request runs the two-call idiom: a size query, then the real call.
    assert model.rowCount() == len(records) >= 4
    rows = range(model.rowCount())
    names = [model.data(model.index(r, CALLBACK)) for r in rows]
    assert set(names) == set(CALLBACK_NAMES)
    sides = {model.data(model.index(r, CALLBACK)): model.data(model.index(r, SIDE)) for r in rows}
    assert sides["RequestAuthenticationToken"] == "client"
    assert sides["ValidateServerCertificate"] == "client"
    assert sides["RequestServerCertificate"] == "server"
    assert sides["ValidateAuthenticationToken"] == "server"
    results = {model.data(model.index(r, RESULT)) for r in rows}
    assert "XR_SUCCESS" in results
    assert ":" in model.data(model.index(0, TIME))
    assert isinstance(model.data(model.index(0, 0), RECORD_ROLE), CallbackRecord)


def test_secrets_never_appear_in_cells_or_details(records: list[CallbackRecord], pki) -> None:
    model = TimelineModel()
    model.append_records(records)
    text = _all_text(model) + "".join(record_details(r) for r in records)
    assert TOKEN not in text
    assert pki.passphrase not in text
    assert "\u2022" in text  # the masking function's bullets are there instead


def test_batch_is_one_insert(qapp, records: list[CallbackRecord]) -> None:
    model = TimelineModel()
    inserts: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _p, first, last: inserts.append((first, last)))
    batcher = RecordBatcher(model, interval_ms=10_000)
    many = (records * 10_000)[:10_000]
    worker = threading.Thread(target=lambda: [batcher.add(r) for r in many])
    worker.start()
    worker.join()
    assert model.rowCount() == 0  # nothing until the timer tick
    batcher.flush()
    assert inserts == [(0, 9999)]
    assert model.rowCount() == 10_000


def test_oldest_rows_dropped_past_the_cap(records: list[CallbackRecord]) -> None:
    model = TimelineModel(max_rows=10)
    model.append_records(records * 2)
    model.append_records(records * 2)
    assert model.rowCount() == 10
    model.append_records(records * 5)
    assert model.rowCount() == 10


def test_filter_by_callback(records: list[CallbackRecord]) -> None:
    model = TimelineModel()
    model.append_records(records * 3)
    proxy = CallbackFilterProxy()
    proxy.setSourceModel(model)
    total = 3 * len(records)
    assert proxy.rowCount() == total
    proxy.set_callback("ValidateServerCertificate")
    assert proxy.rowCount() == 3
    assert {proxy.index(r, CALLBACK).data() for r in range(3)} == {"ValidateServerCertificate"}
    proxy.set_callback("")
    assert proxy.rowCount() == total


def test_widget_filter_and_details(qtbot, records: list[CallbackRecord]) -> None:
    widget = TimelineWidget()
    qtbot.addWidget(widget)
    widget.show()
    chains: list[CallbackRecord] = []
    widget.chainSelected.connect(chains.append)
    for record in records:
        widget.add_record(record)
    qtbot.waitUntil(lambda: widget.model.rowCount() == len(records), timeout=2000)
    assert widget.count_label.text() == f"{len(records)} calls"
    widget.select_callback("ValidateServerCertificate")
    assert widget.proxy.rowCount() == 1
    widget.table.selectRow(0)
    details = widget.details.toPlainText()
    assert '"callback": "ValidateServerCertificate"' in details
    assert '"chainCertificates": 3' in details
    assert chains and chains[0].callback == "ValidateServerCertificate"
    widget.select_callback("RequestAuthenticationToken")
    widget.table.selectRow(widget.proxy.rowCount() - 1)
    assert '"token"' in widget.details.toPlainText()
    assert TOKEN not in widget.details.toPlainText()
    assert "bytes)" in widget.details.toPlainText()
    widget.clear()
    assert widget.model.rowCount() == 0
    assert widget.model.rowCount(QModelIndex()) == 0


def test_size_query_rows_are_amber_and_real_failures_red(records: list[CallbackRecord]) -> None:
    model = TimelineModel()
    model.append_records(records)
    size_query = int(Result.ERROR_SIZE_INSUFFICIENT)
    rows = [r for r in range(model.rowCount()) if model.record(r).result == size_query]
    assert rows, "the records include the first half of a two-call idiom"
    for column in (CALLBACK, RESULT):
        index = model.index(rows[0], column)
        assert model.data(index, Qt.ItemDataRole.ToolTipRole) == SIZE_QUERY_TOOLTIP
        assert model.data(index, Qt.ItemDataRole.ForegroundRole).color() == QColor("#8a5a00")
        assert model.data(index, Qt.ItemDataRole.BackgroundRole) is not None
    assert model.data(model.index(rows[0], RESULT)) == "XR_ERROR_SIZE_INSUFFICIENT"
    ok = next(r for r in range(model.rowCount()) if model.record(r).result == 0)
    assert model.data(model.index(ok, RESULT), Qt.ItemDataRole.ForegroundRole) is None
    failure = CallbackRecord(
        "ValidateAuthenticationToken",
        records[0].started_at,
        0.001,
        {},
        {},
        int(Result.ERROR_RUNTIME_FAILURE),
        error="the validator raised",
    )
    model.append_records([failure])
    index = model.index(model.rowCount() - 1, RESULT)
    assert model.data(index, Qt.ItemDataRole.ForegroundRole).color() == QColor("#b00020")
    assert model.data(index, Qt.ItemDataRole.BackgroundRole) is None
    assert "the validator raised" in model.data(index, Qt.ItemDataRole.ToolTipRole)

"""The timeline model, widget, filter and details pane, fed real callback records."""

from __future__ import annotations

import dataclasses
import json
import time

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor, QGuiApplication

from app.endpoint.events import Disconnected, Listening
from app.outcomes import Outcome
from app.xr.records import CALLBACK_NAMES, CallbackRecord
from app.xr.values import DisconnectReason, Result
from tests.ui.conftest import TOKEN
from ui.outcome_style import DARK, LIGHT, contrast_ratio, is_dark
from ui.palettes import dark_palette
from ui.timeline import (
    CALLBACK,
    OUTCOME,
    OUTCOME_ROLE,
    RECORD_ROLE,
    RESULT,
    SIDE,
    SIZE_QUERY_TOOLTIP,
    TIME,
    CallbackFilterProxy,
    EventRow,
    OutcomeFilterProxy,
    TimelineModel,
    record_details,
    row_json,
)
from ui.timeline_view import TimelineWidget, read_jsonl


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


def test_a_burst_is_one_insert(qtbot, records: list[CallbackRecord]) -> None:
    """The session delivers records in bursts; the widget inserts a burst at once."""
    widget = TimelineWidget()
    qtbot.addWidget(widget)
    inserts: list[tuple[int, int]] = []
    widget.model.rowsInserted.connect(lambda _p, first, last: inserts.append((first, last)))
    many = tuple((records * 10_000)[:10_000])
    widget.add_records(many)
    widget.add_records(())
    assert inserts == [(0, 9999)]
    assert widget.model.rowCount() == 10_000
    assert widget.count_label.text() == "10000 calls"


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
    widget.add_records(tuple(records))
    assert widget.model.rowCount() == len(records)
    assert widget.count_label.text() == f"{len(records)} calls"
    started = time.localtime(records[0].started_at)
    widget.table.selectRow(0)
    # Local time a person reads, not epoch seconds.
    assert time.strftime("Started: %Y-%m-%d %H:%M:%S", started) in widget.details_text()
    widget.select_callback("ValidateServerCertificate")
    assert widget.proxy.rowCount() == 1
    widget.table.selectRow(0)
    details = widget.selected_json()
    assert '"callback": "ValidateServerCertificate"' in details
    assert '"chainCertificates": 3' in details
    assert '"outcome": "success"' in details
    assert "Callback: ValidateServerCertificate" in widget.details_text()
    assert "out: validationResultOut.trustedRoot: true" in widget.details_text()
    assert chains and chains[0].callback == "ValidateServerCertificate"
    widget.select_callback("RequestAuthenticationToken")
    widget.table.selectRow(widget.outcome_proxy.rowCount() - 1)
    assert '"token"' in widget.selected_json()
    assert TOKEN not in widget.selected_json() + widget.details_text()
    assert "bytes)" in widget.details_text()
    widget.copy_selected_json()
    assert json.loads(QGuiApplication.clipboard().text())["callback"] == (
        "RequestAuthenticationToken"
    )
    widget.clear()
    assert widget.model.rowCount() == 0
    assert widget.model.rowCount(QModelIndex()) == 0


def test_the_table_reads_the_model_unless_a_filter_is_set(
    qtbot, records: list[CallbackRecord]
) -> None:
    """Unfiltered, the table shows the model itself (the proxies cost a repaint
    2.5x the calls into Python); switching to and from a filter keeps the column
    widths, the selected row where the filter shows it, and following the newest."""
    widget = TimelineWidget()
    qtbot.addWidget(widget)
    widget.show()
    widget.add_records(tuple(records * 50))
    header = widget.table.horizontalHeader()
    header.resizeSection(TIME, 150)
    assert widget.table.model() is widget.model
    vsc = next(r for r, rec in enumerate(records) if rec.callback == "ValidateServerCertificate")
    widget.table.selectRow(vsc)
    selected = widget.selected_json()
    widget.select_callback("ValidateServerCertificate")
    assert widget.table.model() is widget.outcome_proxy
    assert header.sectionSize(TIME) == 150
    assert [i.row() for i in widget.table.selectionModel().selectedRows()] == [0]
    widget.select_callback("")
    assert widget.table.model() is widget.model
    assert [i.row() for i in widget.table.selectionModel().selectedRows()] == [vsc]
    assert widget.selected_json() == selected
    # The selection still drives the details after the switches.
    other = next(r for r, rec in enumerate(records) if rec.callback != "ValidateServerCertificate")
    widget.table.selectRow(other)
    assert records[other].callback in widget.details_text()
    # A row the filter hides is not selected; the details keep what was shown.
    widget.select_outcome(Outcome.REFUSED)
    assert widget.table.model() is widget.outcome_proxy
    assert widget.table.selectionModel().selectedRows() == []
    widget.select_outcome(None)
    # Following the newest rows survives the switches: new rows scroll into view.
    widget.table.scrollToBottom()
    widget.select_callback("RequestAuthenticationToken")
    widget.select_callback("")
    widget.add_records(tuple(records * 50))
    bar = widget.table.verticalScrollBar()
    assert bar.value() == bar.maximum() > 0


def test_size_query_rows_are_amber_and_real_failures_red(records: list[CallbackRecord]) -> None:
    model = TimelineModel()
    model.set_dark(False)
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
        "RequestServerCertificate",
        records[0].started_at,
        0.001,
        {},
        {},
        int(Result.ERROR_RUNTIME_FAILURE),
    )
    model.append_records([failure])
    index = model.index(model.rowCount() - 1, RESULT)
    assert model.data(index, Qt.ItemDataRole.ForegroundRole).color() == QColor("#b00020")
    assert model.data(index, Qt.ItemDataRole.BackgroundRole) is None
    assert model.data(model.index(model.rowCount() - 1, OUTCOME)) == "runtime error"
    raised = CallbackRecord(
        "ValidateAuthenticationToken",
        records[0].started_at,
        0.001,
        {},
        {},
        int(Result.ERROR_RUNTIME_FAILURE),
        error="the validator raised",
    )
    model.append_records([raised])
    index = model.index(model.rowCount() - 1, RESULT)
    # A callback that raised refused (fail closed): shown as a refusal, not as success.
    assert model.data(model.index(model.rowCount() - 1, OUTCOME)) == "refused by policy"
    assert model.data(index, Qt.ItemDataRole.ForegroundRole).color() == QColor("#8b0015")
    assert model.data(index, Qt.ItemDataRole.BackgroundRole) is not None
    assert "the validator raised" in model.data(index, Qt.ItemDataRole.ToolTipRole)


def _refused_token_record(records: list[CallbackRecord]) -> CallbackRecord:
    good = next(r for r in records if r.callback == "ValidateAuthenticationToken")
    return dataclasses.replace(good, outputs={**good.outputs, "tokenValidOut": False})


def test_a_refused_token_is_never_styled_as_success(records: list[CallbackRecord]) -> None:
    """XR_SUCCESS with tokenValidOut=false is a refusal: word, icon and colour say so."""
    model = TimelineModel()
    model.set_dark(False)
    refused = _refused_token_record(records)
    assert refused.result == 0
    model.append_records([*records, refused])
    last = model.rowCount() - 1
    assert model.data(model.index(last, OUTCOME)) == "refused by policy"
    assert model.data(model.index(last, OUTCOME), OUTCOME_ROLE) is Outcome.REFUSED
    assert model.data(model.index(last, CALLBACK), Qt.ItemDataRole.ForegroundRole).color() == (
        QColor(LIGHT[Outcome.REFUSED].foreground)
    )
    assert model.data(model.index(last, OUTCOME), Qt.ItemDataRole.BackgroundRole) is not None
    refused_icon = model.data(model.index(last, OUTCOME), Qt.ItemDataRole.DecorationRole)
    ok_row = next(
        r
        for r in range(last)
        if model.record(r).callback == "ValidateAuthenticationToken"  # type: ignore[union-attr]
    )
    ok_icon = model.data(model.index(ok_row, OUTCOME), Qt.ItemDataRole.DecorationRole)
    assert model.data(model.index(ok_row, OUTCOME)) == "success"
    assert refused_icon.cacheKey() != ok_icon.cacheKey()
    assert "token was not accepted" in model.data(
        model.index(last, OUTCOME), Qt.ItemDataRole.AccessibleTextRole
    )


def test_filter_by_outcome_and_events_as_rows(records: list[CallbackRecord]) -> None:
    model = TimelineModel()
    listening = EventRow.of(Listening(port=8265, transport_port=8266))
    refused = _refused_token_record(records)
    clean = EventRow.of(Disconnected.of(DisconnectReason.PEER_DISCONNECT_REQUEST))
    failed = EventRow.of(Disconnected.of(DisconnectReason.AUTHENTICATION_FAILED))
    model.append_records([listening, *records, refused, clean, failed])
    proxy = OutcomeFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_outcome(Outcome.REFUSED)
    assert [proxy.index(r, CALLBACK).data() for r in range(proxy.rowCount())] == [
        "ValidateAuthenticationToken"
    ]
    proxy.set_outcome(Outcome.SIZE_QUERY)
    assert proxy.rowCount() == 1
    proxy.set_outcome(Outcome.EVENT)
    titles = [proxy.index(r, CALLBACK).data() for r in range(proxy.rowCount())]
    assert titles[0] == "Listening on port 8265"
    assert titles[1].endswith("PEER_DISCONNECT_REQUEST_MSFT")
    # A clean disconnect is information; a failed one is drawn as a failure.
    assert not clean.failed and failed.failed
    fg = Qt.ItemDataRole.ForegroundRole
    assert proxy.index(1, CALLBACK).data(fg) != proxy.index(2, CALLBACK).data(fg)
    proxy.set_outcome(None)
    assert proxy.rowCount() == model.rowCount()


def test_export_round_trips(qtbot, qasync_loop, tmp_path, records: list[CallbackRecord]) -> None:
    widget = TimelineWidget()
    qtbot.addWidget(widget)
    rows = [EventRow.of(Listening(port=1234)), *records, _refused_token_record(records)]
    widget.model.append_records(rows)
    path = tmp_path / "timeline.jsonl"
    with qtbot.waitSignal(widget.exported, timeout=5000) as done:
        widget.export_to(str(path))
    assert done.args == [str(path), len(rows)]
    lines = read_jsonl(str(path))
    assert lines == [json.loads(json.dumps(row_json(r), default=str)) for r in rows]
    assert [line["outcome"] for line in lines][-1] == "refused by policy"
    assert lines[0] == {"kind": "event", "event": "listening", "port": 1234,
                        "at": rows[0].at, "outcome": "event"}  # fmt: skip
    assert TOKEN not in path.read_text(encoding="utf-8")
    # The filters apply to the export: only the refusal.
    widget.select_outcome(Outcome.REFUSED)
    with qtbot.waitSignal(widget.exported, timeout=5000) as done:
        widget.export_to(str(path))
    assert done.args[1] == 1
    assert read_jsonl(str(path))[0]["outputs"]["tokenValidOut"] is False


def test_outcome_colours_have_contrast_in_light_and_fusion_dark(qapp) -> None:
    """WCAG 2.1 AA (4.5:1) for each outcome's text on the palette's base colour and on
    its own row tint, in the default light palette and in a Fusion dark palette."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QStyleFactory

    fusion = QStyleFactory.create("Fusion")
    light = fusion.standardPalette()
    assert not is_dark(light)
    dark = dark_palette()
    assert is_dark(dark)
    for palette, table in ((light, LIGHT), (dark, DARK)):
        base = palette.color(QPalette.ColorRole.Base)
        alternate = palette.color(QPalette.ColorRole.AlternateBase)
        for outcome, style in table.items():
            fg = QColor(style.foreground)
            backgrounds = [QColor(style.background)] if style.background else [base, alternate]
            for bg in backgrounds:
                assert contrast_ratio(fg, bg) >= 4.5, (outcome, style, bg.name())


def test_a_call_shows_as_running_until_its_record_completes_it(
    records: list[CallbackRecord],
) -> None:
    model = TimelineModel()
    vsc = next(r for r in records if r.callback == "ValidateServerCertificate")
    model.start_call("ValidateServerCertificate", vsc.started_at)
    assert model.index(0, OUTCOME).data() == "running"
    assert model.index(0, OUTCOME).data(OUTCOME_ROLE) is Outcome.RUNNING
    model.append_records([EventRow.of(Listening(port=1))])
    changed: list[int] = []
    model.dataChanged.connect(lambda top, _bottom, _roles=(): changed.append(top.row()))
    model.append_records([vsc])
    assert model.rowCount() == 2  # completed in place, not appended
    assert changed == [0]
    assert model.record(0) is vsc
    assert model.index(0, OUTCOME).data() == "success"
    assert model.callback_count() == 1  # the completed row counts as a call
    # A record without a running row is appended as before.
    model.append_records([vsc])
    assert model.rowCount() == 3
    assert model.callback_count() == 2


def test_a_call_notice_after_its_record_makes_no_running_row(
    records: list[CallbackRecord],
) -> None:
    """The record relay can hand a short call's record to the loop before the event
    saying the call began (two calls in a row, one relay batch): the notice then
    finds its call over and adds nothing; a notice for a later call still does."""
    model = TimelineModel()
    call = next(r for r in records if r.callback == "ValidateServerCertificate")
    first = dataclasses.replace(call, started_at=1000.0, duration_s=0.002)
    second = dataclasses.replace(call, started_at=1000.003, duration_s=0.001)
    model.start_call(first.callback, 1000.0005)
    model.append_records([first, second])  # the second's record before its notice
    model.start_call(second.callback, 1000.0031)  # inside the second call's span
    assert model.rowCount() == 2
    assert [model.index(row, OUTCOME).data() for row in range(2)] == ["success"] * 2
    assert model.callback_count() == 2
    model.start_call(call.callback, 1000.5)  # a later call: running until its record
    assert model.rowCount() == 3
    assert model.index(2, OUTCOME).data() == "running"


def test_the_count_line_counts_calls_that_showed_as_running(
    qtbot, records: list[CallbackRecord]
) -> None:
    """The line under the table ("5 calls, 10 events" in the Loopback demo) counts a
    running call, and then the record that completes its row, as one call, never as
    an event."""
    from app.endpoint.events import CallStarted

    view = TimelineWidget()
    qtbot.addWidget(view)
    vsc = next(r for r in records if r.callback == "ValidateServerCertificate")
    view.add_event(CallStarted(callback=vsc.callback, started_at=vsc.started_at))
    assert view.count_label.text() == "1 calls"  # running: a call already
    view.add_records([vsc])
    assert view.count_label.text() == "1 calls"
    view.add_event(Listening(port=1))
    assert view.count_label.text() == "1 calls, 1 events"

"""The handshake waterfall, on real connections over 127.0.0.1 between two windows
(the built-in runtime reports its stages), and built from callbacks alone (what an
OpenXR runtime gives)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor

from app.attempts import AttemptRecorder
from app.endpoint.events import CallbacksCalled, Connected, Disconnected, StateChanged
from app.xr.values import ConnectionState, DisconnectReason
from tests.ui.conftest import TOKEN
from tests.ui.test_loopback import (
    CONNECT_TIMEOUT_MS,
    _fill_client,
    _listen,
    _wait_connected,
)
from ui.outcome_style import is_dark
from ui.waterfall import FAILED_COLOUR, WaterfallWidget, describe
from ui.window import MainWindow

CLIENT_STAGES = ["TCP", "TLS", "certificate", "challenge", "token", "authorized request"]


def _colours(waterfall: WaterfallWidget) -> set[int]:
    waterfall.chart.resize(640, waterfall.chart.sizeHint().height())
    image = waterfall.chart.grab().toImage()
    return {image.pixel(x, y) for x in range(0, image.width(), 2) for y in range(image.height())}


def _names(attempt) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.name for s in attempt.spans]


def test_waterfall_of_a_good_connect(
    qtbot, ends: tuple[MainWindow, MainWindow], pki_files: dict[str, Path]
) -> None:
    server, client = ends
    port = _listen(qtbot, server, pki_files)
    _fill_client(client, port, TOKEN, pki_files["ca"])
    client.endpoint.connect_button.click()
    _wait_connected(qtbot, client, server)
    waterfall = client.waterfall
    qtbot.waitUntil(lambda: waterfall.shown() is not None, timeout=5_000)
    qtbot.waitUntil(lambda: waterfall.shown().state == "connected", timeout=5_000)
    attempt = waterfall.shown()
    assert attempt.source == "runtime"
    assert _names(attempt) == [*CLIENT_STAGES, "transport", "connected"]
    sides = {s.name: s.side for s in attempt.spans}
    assert sides["token"] == "client" and sides["authorized request"] == "server"
    assert sides["TCP"] == "network" and sides["certificate"] == "client"
    assert not any(s.failed for s in attempt.spans)
    # Each stage starts where the one before it ended (they follow each other).
    for before, after in zip(attempt.spans, attempt.spans[1:], strict=False):
        assert after.start_s >= before.start_s
    assert "connected in" in waterfall.title.text()
    assert "built-in runtime" in waterfall.source.text()
    # The chart paints without error and says the same in text for screen readers.
    assert not _colours(waterfall) & {QColor(c).rgb() for c in FAILED_COLOUR.values()}
    assert "authorized request (server)" in waterfall.chart.accessibleDescription()


def test_waterfall_of_a_failed_connect_ends_red_at_the_failing_stage(
    qtbot, ends: tuple[MainWindow, MainWindow], pki_files: dict[str, Path]
) -> None:
    server, client = ends
    port = _listen(qtbot, server, pki_files)
    _fill_client(client, port, "a-wrong-token-of-plausible-length-0123", pki_files["ca"])
    client.endpoint.connect_button.click()
    qtbot.waitUntil(lambda: client.endpoint.problem_text() != "", timeout=CONNECT_TIMEOUT_MS)
    waterfall = client.waterfall
    qtbot.waitUntil(
        lambda: waterfall.shown() is not None and waterfall.shown().state == "failed",
        timeout=5_000,
    )
    attempt = waterfall.shown()
    assert _names(attempt) == CLIENT_STAGES
    last = attempt.spans[-1]
    assert last.failed and last.name == "authorized request" and last.side == "server"
    assert not any(s.failed for s in attempt.spans[:-1])
    assert attempt.failure == DisconnectReason.AUTHENTICATION_FAILED.spec_name
    assert "failed at authorized request" in waterfall.title.text()
    assert describe(attempt).splitlines()[-1].startswith("FAILED authorized request")
    # The chart itself is drawn with the failure colour (light palette here).
    client.tabs.setCurrentWidget(waterfall)
    assert QColor(FAILED_COLOUR[is_dark()]).rgb() in _colours(waterfall)


def test_waterfall_from_callbacks_only_says_so(qtbot, records) -> None:  # type: ignore[no-untyped-def]
    """An OpenXR runtime reports no stages: the chart is built from the callbacks
    and the connection events, and its caption says so."""
    widget = WaterfallWidget()
    qtbot.addWidget(widget)
    start = records[0].started_at - 0.01
    recorder = widget.recorder
    recorder.feed(StateChanged(ConnectionState.CONNECTING), start)
    widget.add_records(records)
    widget.add_event(Connected())
    attempt = widget.shown()
    assert attempt is not None and attempt.source == "callbacks"
    names = _names(attempt)
    assert "certificate check" in names and "token" in names and names[-1] == "connected"
    assert any(n.endswith("(size query)") for n in names)  # two-call idiom, not a failure
    assert not any(s.failed for s in attempt.spans)
    assert "callbacks and connection events" in widget.source.text()


def test_recorder_marks_a_failure_nobody_reported() -> None:
    recorder = AttemptRecorder()
    recorder.feed(StateChanged(ConnectionState.CONNECTING), 100.0)
    attempt = recorder.feed(Disconnected.of(DisconnectReason.HANDSHAKE_CONNECTION_REFUSED), 100.5)
    assert attempt is not None and attempt.state == "failed"
    assert attempt.spans[-1].failed and attempt.spans[-1].duration_s == 0.5
    # A cancel before anything happened leaves no attempt behind.
    recorder.feed(StateChanged(ConnectionState.CONNECTING), 200.0)
    assert recorder.feed(Disconnected.of(DisconnectReason.DISCONNECT_REQUEST), 200.1) is None
    assert len(recorder.attempts) == 1
    assert recorder.feed(CallbacksCalled(()), 201.0) is None

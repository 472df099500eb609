"""The Session tab on the real Loopback demo: both ends in one window, the built-in
runtime over TLS on 127.0.0.1. The Remote's test stream shows frames on the Player end
with a measured rate; a text message and a link test cross the same session."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from tests.ui.test_loopback import CONNECT_TIMEOUT_MS
from ui.secrets import NotRememberingStore
from ui.session_tab import FrameView, LivePlot, card_jpeg, render_test_card
from ui.window import MainWindow


def _demo(qtbot, tmp_path: Path):  # type: ignore[no-untyped-def]
    window = MainWindow(
        QSettings(str(tmp_path / "demo.ini"), QSettings.Format.IniFormat),
        secret_store=NotRememberingStore("tests"),
    )
    qtbot.addWidget(window)
    window.show()
    demo = window.open_loopback_demo()
    qtbot.addWidget(demo)
    qtbot.waitUntil(lambda: demo.client.controller.state == "connected", timeout=CONNECT_TIMEOUT_MS)
    qtbot.waitUntil(lambda: demo.server.controller.state == "connected", timeout=CONNECT_TIMEOUT_MS)
    return window, demo


def _stop(qtbot, window, demo) -> None:  # type: ignore[no-untyped-def]
    demo.client_session.stream_button.setChecked(False)
    demo.stop()
    qtbot.waitUntil(
        lambda: not demo.client.controller.active and not demo.server.controller.active,
        timeout=15_000,
    )
    qtbot.waitUntil(
        lambda: (
            not demo.jobs.busy
            and not window.jobs.busy
            and not demo.client_session.jobs.busy
            and not demo.server_session.jobs.busy
        ),
        timeout=10_000,
    )


def test_the_loopback_demos_stream_shows_frames_on_the_player_with_a_rate(
    qtbot, qasync_loop, tmp_path: Path
) -> None:
    window, demo = _demo(qtbot, tmp_path)
    remote, player = demo.client_session, demo.server_session
    qtbot.waitUntil(lambda: remote.stream_button.isEnabled(), timeout=5_000)
    assert not player.stream_button.isEnabled()  # only the Remote sends the stream
    remote.rate.setValue(20)
    remote.stream_button.setChecked(True)
    qtbot.waitUntil(lambda: player.frame_view.frames >= 12, timeout=20_000)
    view = player.frame_view
    assert view.image is not None and not view.image.isNull()
    assert (view.image.width(), view.image.height()) == (640, 360)
    assert view.fps > 0
    assert view.latency_ms >= 0
    assert "fps" in view.overlay and "dropped" in view.overlay and "end to end" in view.overlay
    assert any(
        "test stream" in player.messages.item(i).text() for i in range(player.messages.count())
    )
    _stop(qtbot, window, demo)


def test_open_a_channel_send_text_and_run_a_link_test(qtbot, qasync_loop, tmp_path: Path) -> None:
    window, demo = _demo(qtbot, tmp_path)
    remote, player = demo.client_session, demo.server_session
    qtbot.waitUntil(lambda: remote.open_button.isEnabled(), timeout=5_000)
    remote.channel_id.setValue(3)
    remote.open_channel()
    qtbot.waitUntil(lambda: remote.channel_list.count() == 1, timeout=10_000)
    remote.text.setText("hello player")
    remote.send_text()
    qtbot.waitUntil(
        lambda: any(
            "channel 3: hello player" in player.messages.item(i).text()
            for i in range(player.messages.count())
        ),
        timeout=10_000,
    )
    remote.seconds.setValue(1)
    remote.message_size.setValue(4096)
    remote.run_link_test()
    qtbot.waitUntil(lambda: "Mbit/s" in remote.link_result.text(), timeout=30_000)
    assert "RTT p50" in remote.link_result.text()
    assert remote.plot.rtt and remote.plot.rate
    _stop(qtbot, window, demo)


def test_the_test_card_moves_and_encodes_as_jpeg(qtbot) -> None:
    first = render_test_card(1, 320, 180, 0.0)
    later = render_test_card(20, 320, 180, 0.0)
    assert first.size() == later.size() and first != later
    jpeg = card_jpeg(5, 320, 180, 1.0)
    assert jpeg[:2] == b"\xff\xd8"  # a JPEG's start-of-image marker
    # the widgets paint without a session
    for widget in (LivePlot(), FrameView()):
        qtbot.addWidget(widget)
        widget.resize(400, 240)
        assert not widget.grab().isNull()

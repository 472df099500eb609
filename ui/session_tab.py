"""The Session tab: what the secured connection carries, while it is up.

Open and close data channels, send text or a file, see what arrives, run a link test
with a live plot of round-trip time and throughput, and the test stream: the Remote
renders a moving test card (QPainter), encodes it as JPEG (Qt) and sends it at a chosen
rate; the Player shows the frames as they arrive with frames per second, dropped frames
and end-to-end latency drawn over them.

Everything about the channels is the engine's (`app.endpoint.link_test`,
`app.endpoint.test_stream`); this presents it. Runtime calls run on worker threads
(the session's own), image work in `run_blocking`, so the UI thread never waits on
the network.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.endpoint import link_test, test_stream
from app.endpoint.channels import ChannelHub
from app.endpoint.failure import WINDOW, error_text
from app.errors import HoloremoteError
from app.xr.values import DataChannelPriority, own_channel_ids
from ui.controller import SessionController
from ui.jobs import Jobs, run_blocking

MAX_MESSAGES = 500
PLOT_POINTS = 600
STREAM_SIZE = (640, 360)
STREAM_CHANNEL_OFFSET = 60  # the stream's channel: 60 (remote) or 124 (player)


# --- pictures ---------------------------------------------------------------------------


class LivePlot(QWidget):
    """Round-trip time (left axis, ms) and throughput (right axis, Mbit/s) over time."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("livePlot")
        self.setMinimumSize(360, 180)
        self.rtt: collections.deque[tuple[float, float]] = collections.deque(maxlen=PLOT_POINTS)
        self.rate: collections.deque[tuple[float, float]] = collections.deque(maxlen=PLOT_POINTS)

    def clear(self) -> None:
        self.rtt.clear()
        self.rate.clear()
        self.update()

    def add(self, series: str, elapsed: float, value: float) -> None:
        (self.rtt if series == "rtt" else self.rate).append((elapsed, value))
        self.update()

    def paintEvent(self, _event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.base())
        area = QRectF(self.rect()).adjusted(56, 12, -64, -28)
        painter.setPen(QPen(palette.mid().color(), 1))
        painter.drawRect(area)
        points = list(self.rtt) + list(self.rate)
        span = max((t for t, _ in points), default=1.0) or 1.0
        text = palette.text().color()
        painter.setPen(text)
        painter.drawText(
            QRectF(0, area.bottom() + 4, self.width(), 20),
            Qt.AlignmentFlag.AlignHCenter,
            f"time (s), 0 .. {span:.1f}",
        )
        for series, colour, side, unit in (
            (self.rtt, QColor("#1f77b4"), "left", "RTT ms"),
            (self.rate, QColor("#d62728"), "right", "Mbit/s"),
        ):
            top = max((v for _, v in series), default=1.0) * 1.1 or 1.0
            label_rect = (
                QRectF(0, area.top(), 52, 40)
                if side == "left"
                else QRectF(area.right() + 4, area.top(), 60, 40)
            )
            painter.setPen(colour)
            painter.drawText(label_rect, Qt.AlignmentFlag.AlignTop, f"{unit}\n{top:.1f}")
            if len(series) < 2:
                continue
            path = QPainterPath()
            for index, (t, value) in enumerate(series):
                x = area.left() + area.width() * t / span
                y = area.bottom() - area.height() * value / top
                if index == 0:
                    path.moveTo(QPointF(x, y))
                else:
                    path.lineTo(QPointF(x, y))
            painter.setPen(QPen(colour, 1.6))
            painter.drawPath(path)
        painter.end()


def render_test_card(number: int, width: int, height: int, now: float) -> QImage:
    """A moving test card: colour bars, a sweeping marker, the frame number and the
    time it was drawn."""
    image = QImage(width, height, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    bars = ["#c0c0c0", "#c0c000", "#00c0c0", "#00c000", "#c000c0", "#c00000", "#0000c0"]
    bar = width / len(bars)
    for index, colour in enumerate(bars):
        painter.fillRect(QRectF(index * bar, 0, bar + 1, height * 0.7), QColor(colour))
    painter.fillRect(QRectF(0, height * 0.7, width, height * 0.3), QColor("#101010"))
    x = (number * 7) % max(1, width - 40)
    painter.fillRect(QRectF(x, height * 0.7 + 6, 40, height * 0.3 - 12), QColor("#ffffff"))
    painter.setPen(QColor("#ffffff"))
    font = QFont()
    font.setPixelSize(max(12, height // 12))
    font.setBold(True)
    painter.setFont(font)
    stamp = dt.datetime.fromtimestamp(now).strftime("%H:%M:%S.%f")[:-3]
    painter.fillRect(QRectF(8, 8, width * 0.55, height * 0.22), QColor(0, 0, 0, 170))
    painter.drawText(QRectF(16, 10, width, height * 0.1), f"frame {number}")
    painter.drawText(QRectF(16, 10 + height * 0.1, width, height * 0.1), stamp)
    painter.end()
    return image


def encode_jpeg(image: QImage, quality: int = 80) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "JPEG", quality):  # type: ignore[call-overload]  # the stubs say bytes; PySide 6.11 takes str
        raise ValueError("Qt could not encode the frame as JPEG")
    buffer.close()
    return bytes(data.data())


def card_jpeg(number: int, width: int, height: int, now: float) -> bytes:
    return encode_jpeg(render_test_card(number, width, height, now))


class FrameView(QWidget):
    """The last frame that arrived, with the receiver's measurements drawn over it."""

    frameShown = Signal(int)  # frames shown so far

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("frameView")
        self.setMinimumSize(320, 180)
        self.image: QImage | None = None
        self.overlay = "no stream"
        self.frames = 0
        self.fps = 0.0
        self.dropped = 0
        self.latency_ms = 0.0

    def show_frame(self, image: QImage, stats: test_stream.StreamStats) -> None:
        self.image = image
        self.frames, self.fps = int(stats.frames), float(stats.fps)
        self.dropped, self.latency_ms = int(stats.dropped), float(stats.latency_ms)
        self.overlay = (
            f"{self.fps:.1f} fps \u00b7 {self.dropped} dropped \u00b7 "
            f"{self.latency_ms:.0f} ms end to end \u00b7 frame {self.frames}"
        )
        self.update()
        self.frameShown.emit(self.frames)

    def paintEvent(self, _event: object) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#000000"))
        if self.image is not None:
            scaled = self.image.scaled(
                self.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            painter.drawImage(
                (self.width() - scaled.width()) // 2, (self.height() - scaled.height()) // 2, scaled
            )
        painter.fillRect(QRectF(0, self.height() - 26, self.width(), 26), QColor(0, 0, 0, 180))
        painter.setPen(QColor("#7CFC00"))
        painter.drawText(
            QRectF(8, self.height() - 24, self.width() - 16, 22),
            Qt.AlignmentFlag.AlignVCenter,
            self.overlay,
        )
        painter.end()


# --- the tab ----------------------------------------------------------------------------


class SessionTab(QWidget):
    """See the module doc. `role` says which end this is ("remote" or "player")."""

    messageArrived = Signal(str)

    def __init__(
        self,
        controller: SessionController,
        role: Callable[[], str],
        parent: QWidget | None = None,
        *,
        name: str = "",
    ) -> None:
        super().__init__(parent)
        prefix = f"{name}_" if name else ""
        self.setObjectName(f"{prefix}sessionTab")
        self.controller = controller
        self._role = role
        self.jobs = Jobs(self)
        self._hub: ChannelHub | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._channels: dict[int, int] = {}  # handle -> channel id (opened here)
        self._stream_handle: int | None = None
        self._stream_number = 0
        self._receive_dir: tempfile.TemporaryDirectory[str] | None = None
        self._meter = test_stream.StreamMeter()

        self.state = QLabel("Connect (or let a client connect) to use data channels.")
        self.state.setObjectName(f"{prefix}sessionState")
        self.state.setWordWrap(True)

        self.channel_id = QSpinBox()
        self.channel_id.setObjectName(f"{prefix}channelId")
        self.channel_id.setRange(0, 127)
        self.channel_id.setAccessibleName("Channel id")
        self.priority = QComboBox()
        self.priority.setObjectName(f"{prefix}channelPriority")
        self.priority.setAccessibleName("Channel priority")
        for text in ("Low", "Medium", "High"):
            self.priority.addItem(text)
        self.priority.setCurrentIndex(1)
        self.open_button = QPushButton("Open channel")
        self.open_button.setObjectName(f"{prefix}openChannel")
        self.close_button = QPushButton("Close channel")
        self.close_button.setObjectName(f"{prefix}closeChannel")
        self.channel_list = QListWidget()
        self.channel_list.setObjectName(f"{prefix}channelList")
        self.channel_list.setAccessibleName("Open data channels")
        self.text = QLineEdit()
        self.text.setObjectName(f"{prefix}messageText")
        self.text.setPlaceholderText("a message for the open channel")
        self.send_button = QPushButton("Send text")
        self.send_button.setObjectName(f"{prefix}sendText")
        self.file_button = QPushButton("Send file\u2026")
        self.file_button.setObjectName(f"{prefix}sendFile")
        self.messages = QListWidget()
        self.messages.setObjectName(f"{prefix}receivedMessages")
        self.messages.setAccessibleName("Received messages")

        channels = QGroupBox("Data channels")
        grid = QGridLayout(channels)
        grid.addWidget(QLabel("Channel id"), 0, 0)
        grid.addWidget(self.channel_id, 0, 1)
        grid.addWidget(QLabel("Priority"), 0, 2)
        grid.addWidget(self.priority, 0, 3)
        grid.addWidget(self.open_button, 0, 4)
        grid.addWidget(self.close_button, 0, 5)
        grid.addWidget(self.channel_list, 1, 0, 1, 6)
        grid.addWidget(self.text, 2, 0, 1, 4)
        grid.addWidget(self.send_button, 2, 4)
        grid.addWidget(self.file_button, 2, 5)
        grid.addWidget(QLabel("Received"), 3, 0)
        grid.addWidget(self.messages, 4, 0, 1, 6)

        self.seconds = QSpinBox()
        self.seconds.setObjectName(f"{prefix}linkSeconds")
        self.seconds.setRange(1, 120)
        self.seconds.setValue(3)
        self.message_size = QSpinBox()
        self.message_size.setObjectName(f"{prefix}linkMessageSize")
        self.message_size.setRange(16, (1 << 20) - 8)
        self.message_size.setValue(64 * 1024)
        self.link_button = QPushButton("Run link test")
        self.link_button.setObjectName(f"{prefix}runLinkTest")
        self.link_result = QLabel("")
        self.link_result.setObjectName(f"{prefix}linkResult")
        self.link_result.setWordWrap(True)
        self.plot = LivePlot()
        link = QGroupBox("Link test (round-trip time and throughput)")
        link_form = QFormLayout()
        link_form.addRow("Seconds", self.seconds)
        link_form.addRow("Message size (bytes)", self.message_size)
        link_layout = QVBoxLayout(link)
        link_layout.addLayout(link_form)
        link_layout.addWidget(self.link_button)
        link_layout.addWidget(self.plot, 1)
        link_layout.addWidget(self.link_result)

        self.rate = QSpinBox()
        self.rate.setObjectName(f"{prefix}streamRate")
        self.rate.setRange(test_stream.MIN_RATE, test_stream.MAX_RATE)
        self.rate.setValue(15)
        self.rate.setSuffix(" frames/s")
        self.stream_button = QPushButton("Start test stream")
        self.stream_button.setObjectName(f"{prefix}streamButton")
        self.stream_button.setCheckable(True)
        self.frame_view = FrameView()
        self.frame_view.setObjectName(f"{prefix}frameView")
        stream = QGroupBox("Test stream (the Remote sends, the Player shows)")
        stream_layout = QVBoxLayout(stream)
        row = QHBoxLayout()
        row.addWidget(self.rate)
        row.addWidget(self.stream_button)
        stream_layout.addLayout(row)
        stream_layout.addWidget(self.frame_view, 1)

        columns = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(channels, 1)
        right = QVBoxLayout()
        right.addWidget(link, 1)
        right.addWidget(stream, 1)
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.state)
        layout.addLayout(columns, 1)

        self._timer = QTimer(self)
        self._timer.timeout.connect(self._next_frame)
        self.open_button.clicked.connect(self.open_channel)
        self.close_button.clicked.connect(self.close_channel)
        self.send_button.clicked.connect(self.send_text)
        self.text.returnPressed.connect(self.send_text)
        self.file_button.clicked.connect(self._choose_file)
        self.link_button.clicked.connect(self.run_link_test)
        self.stream_button.toggled.connect(self._stream_toggled)
        self.jobs.failed.connect(self._job_failed)
        controller.stateChanged.connect(self._state_changed)
        self._set_enabled(False)

    # --- connection state ------------------------------------------------------------

    @property
    def hub(self) -> ChannelHub | None:
        return self._hub

    def _state_changed(self, state: str) -> None:
        if state == "connected":
            self._attach(self.controller.channels)
        elif self._hub is not None:
            self._detach()

    def _attach(self, hub: ChannelHub | None) -> None:
        if hub is None or hub is self._hub:
            return
        self._hub = hub
        ids = own_channel_ids(self._role())
        self.channel_id.setRange(ids.start, ids.stop - 1)
        self._channels.clear()
        self.channel_list.clear()
        self.plot.clear()
        self._meter = test_stream.StreamMeter()
        if self._receive_dir is None:
            self._receive_dir = tempfile.TemporaryDirectory(prefix="holoremote-received-")
        services = link_test.ChannelServices(
            hub,
            echo=True,
            save_dir=Path(self._receive_dir.name),
            on_file=lambda f: self._message(
                f"file kept: {f.path} ({f.size} bytes, SHA-256 checked)"
            ),
            on_refusal=lambda text: self._message(f"refused {text}"),
            on_other=lambda handle, first: self._peer_channel(hub, handle, first),
        )
        self._spawn(services.run())
        self.state.setText(
            f"Connected as the {self._role()}: open channels {ids.start}..{ids.stop - 1}; "
            "the peer's channels appear as they open."
        )
        self._set_enabled(True)

    def _detach(self) -> None:
        self._hub = None
        self._stream_handle = None
        self.stream_button.setChecked(False)
        self._timer.stop()
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        self.state.setText("Disconnected: the channels are closed.")
        self._set_enabled(False)

    def _set_enabled(self, on: bool) -> None:
        for widget in (
            self.open_button,
            self.close_button,
            self.send_button,
            self.file_button,
            self.link_button,
            self.stream_button,
        ):
            widget.setEnabled(on)
        self.stream_button.setEnabled(on and self._role() == "remote")

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            message, fix = error_text(WINDOW, error)
            self._message(f"error: {message}" + (f" ({fix})" if fix else ""))

    def _job_failed(self, what: str, error: BaseException) -> None:
        message, fix = error_text(WINDOW, error)
        self._message(f"{what} failed: {message}" + (f" ({fix})" if fix else ""))

    def _message(self, text: str) -> None:
        self.messages.addItem(text)
        while self.messages.count() > MAX_MESSAGES:
            self.messages.takeItem(0)
        self.messages.scrollToBottom()
        self.messageArrived.emit(text)

    # --- channels ----------------------------------------------------------------------

    def open_channel(self) -> None:
        if self._hub is None:
            return
        channel_id = self.channel_id.value()
        priority = DataChannelPriority(self.priority.currentIndex())  # items in value order
        self.jobs.spawn(
            f"opening channel {channel_id}", self._open(self._hub, channel_id, priority)
        )

    async def _open(self, hub: ChannelHub, channel_id: int, priority: DataChannelPriority) -> None:
        handle = await hub.open(channel_id, priority)
        self._channels[handle] = channel_id
        self.channel_list.addItem(f"{channel_id} (opened here)")
        self.channel_list.setCurrentRow(self.channel_list.count() - 1)
        self._spawn(self._read(hub, handle, channel_id))

    def _selected(self) -> tuple[int, int] | None:
        row = self.channel_list.currentRow()
        if row < 0:
            return None
        channel_id = int(self.channel_list.item(row).text().split()[0])
        for handle, known in self._channels.items():
            if known == channel_id:
                return handle, channel_id
        return None

    def close_channel(self) -> None:
        chosen = self._selected()
        if chosen is None or self._hub is None:
            self._message("choose an open channel in the list first")
            return
        handle, channel_id = chosen
        self._channels.pop(handle, None)
        self.channel_list.takeItem(self.channel_list.currentRow())
        self.jobs.spawn(f"closing channel {channel_id}", self._hub.close(handle))

    def send_text(self) -> None:
        chosen = self._selected()
        text = self.text.text()
        if chosen is None or self._hub is None:
            self._message("open a channel (or choose one) before sending")
            return
        if not text:
            return
        handle, channel_id = chosen
        self.text.clear()
        self.jobs.spawn(f"sending on channel {channel_id}", self._hub.send(handle, text.encode()))

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Send a file")
        if path:
            self.send_file(path)

    def send_file(self, path: str) -> None:
        if self._hub is None:
            return
        channel_id = self._free_id()
        self.jobs.spawn(f"sending {Path(path).name}", self._send_file(self._hub, channel_id, path))

    async def _send_file(self, hub: ChannelHub, channel_id: int, path: str) -> None:
        sent = await link_test.send_file(hub, channel_id, Path(path))
        self._message(f"sent {sent.name}: {sent.size} bytes, SHA-256 checked by the peer")

    def _free_id(self) -> int:
        used = set(self._channels.values())
        for candidate in own_channel_ids(self._role()):
            if candidate not in used and candidate % 64 < STREAM_CHANNEL_OFFSET:
                used.add(candidate)
                return candidate
        raise HoloremoteError("every channel id of this end is in use")

    async def _read(self, hub: ChannelHub, handle: int, channel_id: int) -> None:
        with contextlib.suppress(Exception):
            while True:
                data = await hub.receive(handle)
                self._message(f"channel {channel_id}: {_preview(data)}")

    async def _peer_channel(self, hub: ChannelHub, handle: int, first: bytes) -> None:
        channel_id = hub.channel_id(handle)
        if first == test_stream.STREAM_MAGIC:
            self._message(f"channel {channel_id}: test stream from the peer")
            await self._receive_stream(hub, handle)
            return
        self._channels[handle] = channel_id
        self.channel_list.addItem(f"{channel_id} (opened by the peer)")
        self._message(f"channel {channel_id}: {_preview(first)}")
        await self._read(hub, handle, channel_id)

    # --- link test ---------------------------------------------------------------------

    def run_link_test(self) -> None:
        if self._hub is None:
            return
        self.plot.clear()
        self.link_result.setText("running\u2026")
        self.link_button.setEnabled(False)
        channel_id = self._free_id()
        self.jobs.spawn("link test", self._link_test(self._hub, channel_id))

    async def _link_test(self, hub: ChannelHub, channel_id: int) -> None:
        offset = {"upload": 0.0, "download": 0.0}
        phase = self.seconds.value() / 3

        def progress(kind: str, value: float, elapsed: float) -> None:
            if kind == "rtt":
                self.plot.add("rtt", elapsed, value)
            else:
                base = phase if kind == "upload" else 2 * phase
                offset[kind] = elapsed
                self.plot.add("rate", base + elapsed, value)

        try:
            result = await link_test.run_link_test(
                hub,
                channel_id,
                seconds=self.seconds.value(),
                message_size=self.message_size.value(),
                progress=progress,
            )
        finally:
            self.link_button.setEnabled(self._hub is not None)
        self.link_result.setText(
            f"RTT p50 {result.rtt_p50_ms:.2f} ms, p99 {result.rtt_p99_ms:.2f} ms; "
            f"upload {result.upload.mbit_per_s:.0f} Mbit/s, "
            f"download {result.download.mbit_per_s:.0f} Mbit/s"
        )

    # --- test stream -------------------------------------------------------------------

    def _stream_toggled(self, on: bool) -> None:
        if not on:
            self._timer.stop()
            self.stream_button.setText("Start test stream")
            if self._stream_handle is not None and self._hub is not None:
                handle, self._stream_handle = self._stream_handle, None
                self.jobs.spawn("stopping the stream", self._hub.close(handle))
            return
        if self._hub is None:
            self.stream_button.setChecked(False)
            return
        self.stream_button.setText("Stop test stream")
        self.jobs.spawn("starting the stream", self._start_stream(self._hub))

    async def _start_stream(self, hub: ChannelHub) -> None:
        ids = own_channel_ids(self._role())
        handle = await hub.open(ids.start + STREAM_CHANNEL_OFFSET, DataChannelPriority.HIGH)
        await hub.send(handle, test_stream.STREAM_MAGIC)
        self._stream_handle = handle
        self._stream_number = 0
        self._timer.start(max(1, round(1000 / self.rate.value())))

    def _next_frame(self) -> None:
        if self._stream_handle is None or self._hub is None:
            return
        self._stream_number += 1
        self.jobs.spawn(
            "sending a frame", self._send_frame(self._stream_handle, self._stream_number)
        )

    async def _send_frame(self, handle: int, number: int) -> None:
        width, height = STREAM_SIZE
        now = time.time()
        jpeg = await run_blocking(card_jpeg, number, width, height, now)
        message = test_stream.encode_frame(number, width, height, jpeg, now)
        hub = self._hub
        if hub is not None and self._stream_handle == handle:
            await hub.send(handle, message, guaranteed=False)

    async def _receive_stream(self, hub: ChannelHub, handle: int) -> None:
        while True:
            data = await hub.receive(handle)
            try:
                frame = test_stream.decode_frame(data)
            except ValueError as exc:
                self._message(f"stream: {exc}")
                continue
            stats = self._meter.frame(frame)
            image = QImage.fromData(frame.image, "JPEG")  # type: ignore[arg-type]  # as above
            if image.isNull():
                self._message(f"stream: frame {frame.number} is not a JPEG image")
                continue
            self.frame_view.show_frame(image, stats)

    async def aclose(self) -> None:
        self._timer.stop()
        for task in list(self._tasks):
            task.cancel()
        await self.jobs.wait_all()
        if self._receive_dir is not None:
            self._receive_dir.cleanup()
            self._receive_dir = None


def _preview(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"{len(data)} bytes"
    return text if len(text) <= 200 else text[:200] + "\u2026"

"""The test stream: numbered, timestamped frames on a data channel, and what the
receiving end measures of them. Qt-free: the window draws and encodes the frames
(QPainter, JPEG) and hands the bytes here.

Wire: the channel's first message is STREAM_MAGIC; then one message per frame,
`header` (frame number u32, sent at f64 seconds since the epoch, width u16, height u16)
followed by the encoded image. Frames go without guaranteed delivery, so a link that
falls behind drops them (the runtime drops a best-effort message when its channel is
already behind); the receiver counts the gaps in the numbers as dropped frames.
End-to-end latency compares the sender's clock with the receiver's: exact on one
machine (the Loopback demo), as good as the clocks' agreement between two.
"""

from __future__ import annotations

import collections
import struct
import time
from dataclasses import dataclass

STREAM_MAGIC = b"HRTS1"
_HEADER = struct.Struct(">IdHH")
#: Frames per second the sender may be asked for.
MIN_RATE, MAX_RATE = 1, 60
#: The window over which the receiver's rate is measured.
RATE_WINDOW_S = 1.0


@dataclass(frozen=True)
class Frame:
    number: int
    sent_at: float
    width: int
    height: int
    image: bytes


def encode_frame(number: int, width: int, height: int, image: bytes, sent_at: float) -> bytes:
    return _HEADER.pack(number & 0xFFFFFFFF, sent_at, width, height) + image


def decode_frame(message: bytes) -> Frame:
    if len(message) < _HEADER.size:
        raise ValueError(f"a frame message is at least {_HEADER.size} bytes")
    number, sent_at, width, height = _HEADER.unpack_from(message)
    return Frame(number, sent_at, width, height, message[_HEADER.size :])


@dataclass(frozen=True)
class StreamStats:
    frames: int
    fps: float
    dropped: int
    latency_ms: float


class StreamMeter:
    """What the receiving end shows: frames per second over the last second, frames
    missing from the numbering, and the latest end-to-end latency."""

    def __init__(self) -> None:
        self._arrivals: collections.deque[float] = collections.deque()
        self._last_number: int | None = None
        self.frames = 0
        self.dropped = 0
        self.latency_ms = 0.0

    def frame(self, frame: Frame, received_at: float | None = None) -> StreamStats:
        now = time.time() if received_at is None else received_at
        mono = time.monotonic()
        self._arrivals.append(mono)
        while self._arrivals and mono - self._arrivals[0] > RATE_WINDOW_S:
            self._arrivals.popleft()
        if self._last_number is not None and frame.number > self._last_number + 1:
            self.dropped += frame.number - self._last_number - 1
        if self._last_number is None or frame.number > self._last_number:
            self._last_number = frame.number
        self.frames += 1
        self.latency_ms = max(0.0, (now - frame.sent_at) * 1000)
        return self.stats()

    def stats(self) -> StreamStats:
        if len(self._arrivals) >= 2:
            span = self._arrivals[-1] - self._arrivals[0]
            fps = (len(self._arrivals) - 1) / span if span > 0 else 0.0
        else:
            fps = 0.0
        return StreamStats(self.frames, fps, self.dropped, self.latency_ms)

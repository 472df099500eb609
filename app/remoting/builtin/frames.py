"""The transport as a sans-I/O state machine: length-prefixed frames, the session-id
greeting, heartbeats and the disconnect request.

Feed bytes with `receive_data(data, now)` (b"" = the peer closed), read events with
`next_event()`, send `data_to_send()`, and call `handle_timer(now)` at `get_timer()`.
The one timer covers, depending on the phase: the session-open deadline, the next
heartbeat to send, the peer's silence limit and the disconnect wait. Outcomes carry
the disconnect reason to report, so the shell only relays them.
"""

from __future__ import annotations

import collections
import enum
import struct
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from app.remoting.builtin.protocol import (
    CHANNEL_FRAME_SIZES,
    CHANNEL_ID_BYTES,
    EMPTY_FRAMES,
    FRAME_HEADER_BYTES,
    MAX_FRAME_PAYLOAD,
    MAX_HELLO_PAYLOAD,
    MAX_REJECT_PAYLOAD,
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    FrameType,
    RejectCode,
)
from app.xr.values import DisconnectReason

R = DisconnectReason
_HEADER = struct.Struct(">BI")
_VERSION = struct.Struct(">H")
_CHANNEL = struct.Struct(">Q")

Side = Literal["client", "server"]


class Phase(enum.Enum):
    OPENING = "opening"  # waiting for HELLO (server) or WELCOME (client)
    OPEN = "open"  # the session is up
    CLOSING = "closing"  # we asked to disconnect; waiting for the peer to close
    CLOSED = "closed"


# --- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HelloReceived:
    """Server: the client presented a session id; answer `welcome()` or `reject()`."""

    version: int
    session_id: str = field(repr=False)


@dataclass(frozen=True)
class SessionOpened:
    """Both: the transport session is up (the ConnectedEvent moment)."""


class DataReceived(NamedTuple):
    """A message on a data channel. A named tuple, not a frozen dataclass: one is
    made per message received, and a frozen dataclass's __init__ costs three times
    as much (it sets each field through object.__setattr__)."""

    channel_id: int
    payload: bytes

    def __repr__(self) -> str:
        return f"DataReceived(channel_id={self.channel_id}, {len(self.payload)} bytes)"


@dataclass(frozen=True)
class TransportEnded:
    """Both: the session (or the attempt) is over; report `reason`."""

    reason: DisconnectReason
    detail: str


@dataclass(frozen=True)
class ChannelFrame:
    """A data-channel control frame (CHANNEL_OPEN/ACCEPT/CLOSE), its size checked; the
    runtime's channel table reads it."""

    kind: FrameType
    payload: bytes


TransportEvent = HelloReceived | SessionOpened | DataReceived | ChannelFrame | TransportEnded


def encode_frame(frame_type: FrameType, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_FRAME_PAYLOAD:
        raise ValueError(f"a frame payload is at most {MAX_FRAME_PAYLOAD} bytes")
    return _HEADER.pack(int(frame_type), len(payload)) + payload


def _limits_by_type() -> dict[int, int]:
    """Largest payload allowed per frame type (by its byte on the wire)."""
    limits = {
        FrameType.HELLO: MAX_HELLO_PAYLOAD,
        FrameType.WELCOME: _VERSION.size,
        FrameType.REJECT: MAX_REJECT_PAYLOAD,
        FrameType.DATA: MAX_FRAME_PAYLOAD,
    }
    limits.update(dict.fromkeys(EMPTY_FRAMES, 0))
    limits.update(CHANNEL_FRAME_SIZES)
    return {int(kind): limits[kind] for kind in FrameType}


# Looked up once per frame received: a dict of ints, not an enum made per frame (an
# enum call and a dict built per message were a tenth of a busy receiver's frame cut).
_PAYLOAD_LIMITS = _limits_by_type()
_DATA = int(FrameType.DATA)


def _payload_limit(frame_type: int) -> int | None:
    """Largest payload allowed for a frame type; None for an unknown type."""
    return _PAYLOAD_LIMITS.get(frame_type)


class TransportConnection:
    """One end of the transport connection."""

    def __init__(
        self,
        side: Side,
        *,
        now: float,
        session_open_timeout: float,
        heartbeat_interval: float,
        heartbeat_timeout: float,
        disconnect_wait: float,
        version: int = PROTOCOL_VERSION,
    ) -> None:
        self.side: Side = side
        self.phase = Phase.OPENING
        self._version = version
        self._heartbeat_interval = heartbeat_interval
        self._heartbeat_timeout = heartbeat_timeout
        self._disconnect_wait = disconnect_wait
        self._buffer = bytearray()
        # What to write, as the pieces it was made of: joined once per write
        # (`data_to_send`), not grown piece by piece (each growth of a buffer can move
        # all of it), and a DATA frame's channel id and message are never joined.
        self._out: list[bytes] = []
        self._events: collections.deque[TransportEvent] = collections.deque()
        self._open_deadline: float | None = now + session_open_timeout
        self._next_heartbeat: float | None = None
        self._silence_deadline: float | None = None
        self._closing_deadline: float | None = None
        self.should_close = False

    # --- output -------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """The bytes to write (every frame made since the last call, joined once)."""
        out, self._out = self._out, []
        return b"".join(out)

    def data_to_send_pending(self) -> bool:
        return bool(self._out)

    def next_event_pending(self) -> bool:
        return bool(self._events)

    def next_event(self) -> TransportEvent | None:
        return self._events.popleft() if self._events else None

    def _frame(self, frame_type: FrameType, payload: bytes = b"", prefix: bytes = b"") -> None:
        """A frame whose payload is `prefix` + `payload` (kept apart until written: a
        1 MiB DATA payload is copied once, into what `data_to_send` returns)."""
        size = len(prefix) + len(payload)
        if size > MAX_FRAME_PAYLOAD:
            raise ValueError(f"a frame payload is at most {MAX_FRAME_PAYLOAD} bytes")
        out = self._out
        out.append(_HEADER.pack(int(frame_type), size))
        if prefix:
            out.append(prefix)
        if payload:
            out.append(payload)

    def send_hello(self, session_id: str) -> None:
        """Client: present the one-time session id from the handshake."""
        assert self.side == "client"
        self._frame(FrameType.HELLO, _VERSION.pack(self._version) + session_id.encode("ascii"))

    def welcome(self, now: float) -> None:
        """Server: the session id was valid; the session is open."""
        assert self.side == "server" and self.phase == Phase.OPENING
        self._frame(FrameType.WELCOME, _VERSION.pack(self._version))
        self._open(now)

    def reject(self, code: RejectCode, text: str) -> None:
        """Server: refuse the HELLO and close."""
        self._frame(FrameType.REJECT, bytes([int(code)]) + text.encode("utf-8")[:500])
        reason = (
            R.PROTOCOL_VERSION_MISMATCH
            if code == RejectCode.VERSION
            else (R.TRANSPORT_CONNECTION_FAILED)
        )
        self._end(reason, f"refused the client: {text}")

    def send_data(self, channel_id: int, payload: bytes) -> None:
        if self.phase != Phase.OPEN:
            raise RuntimeError("the transport session is not open")
        if len(payload) + CHANNEL_ID_BYTES > MAX_FRAME_PAYLOAD:
            raise ValueError(f"a message is at most {MAX_FRAME_PAYLOAD - CHANNEL_ID_BYTES} bytes")
        self._frame(FrameType.DATA, payload, _CHANNEL.pack(channel_id))

    def send_channel_frame(self, kind: FrameType, payload: bytes, prefix: bytes = b"") -> None:
        """A frame from the channel table: DATA (its channel id as `prefix`) or a
        channel control frame."""
        if self.phase != Phase.OPEN:
            raise RuntimeError("the transport session is not open")
        if kind != FrameType.DATA and len(prefix) + len(payload) != CHANNEL_FRAME_SIZES[kind]:
            raise ValueError(f"{kind.name} carries {CHANNEL_FRAME_SIZES[kind]} bytes")
        self._frame(kind, payload, prefix)

    def request_disconnect(self, now: float) -> None:
        """Ask the peer to close; it should close within the disconnect wait.
        Before the session is open this just cancels the attempt."""
        if self.phase == Phase.OPEN:
            self._frame(FrameType.DISCONNECT)
            self.phase = Phase.CLOSING
            self._closing_deadline = now + self._disconnect_wait
            self._next_heartbeat = None
            self._silence_deadline = None
        elif self.phase == Phase.OPENING:
            self._end(R.CANCELED, "the attempt was canceled before the session opened")

    # --- timers -------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        candidates = [
            t
            for t in (
                self._open_deadline,
                self._next_heartbeat,
                self._silence_deadline,
                self._closing_deadline,
            )
            if t is not None
        ]
        return min(candidates) if candidates and self.phase != Phase.CLOSED else None

    def handle_timer(self, now: float) -> None:
        if self.phase == Phase.CLOSED:
            return
        if self._open_deadline is not None and now >= self._open_deadline:
            self._end(R.SESSION_OPEN_TIMEOUT, "the transport session did not open in time")
        elif self._closing_deadline is not None and now >= self._closing_deadline:
            self._end(R.PEER_DISCONNECT_TIMEOUT, "the peer did not close after our request")
        elif self._silence_deadline is not None and now >= self._silence_deadline:
            self._end(
                R.CONNECTION_LOST,
                f"nothing heard from the peer for {self._heartbeat_timeout:g} s",
            )
        elif self._next_heartbeat is not None and now >= self._next_heartbeat:
            self._frame(FrameType.HEARTBEAT)
            self._next_heartbeat = now + self._heartbeat_interval

    def input_held(self, now: float) -> None:
        """The shell is not reading (the application's backlog, `TransportDriver`): the
        peer's silence cannot be told from our own pause, so its deadline restarts."""
        if self._silence_deadline is not None:
            self._silence_deadline = now + self._heartbeat_timeout

    # --- input --------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview, now: float) -> None:
        if self.phase == Phase.CLOSED:
            return
        if not data:
            self._on_eof()
            return
        if self._silence_deadline is not None:
            self._silence_deadline = now + self._heartbeat_timeout
        # Whole frames are cut straight out of `data` (each payload copied once, into
        # the bytes handed on); only a frame split across reads is put together in
        # `_buffer`. Copying every read into `_buffer` first was a fifth of a busy
        # receiver's time (docs/benchmarks.md). `data` is not kept after the call.
        with memoryview(data) as view:
            used = self._complete_buffered(view, now) if self._buffer else 0
            if self._buffer or self._ended():
                return
            used = self._cut_frames(view, used, now)
            if not self._ended():
                self._buffer += view[used:]

    def receive_frames(self, view: memoryview, now: float) -> int:
        """`receive_data` for a reader that keeps an unfinished frame itself (and
        presents it again, with what follows, next time): every whole frame at the
        head of `view` is handled where it lies; the bytes used (all, once ended).
        Only while `has_unfinished_frame()` is False."""
        if self.phase == Phase.CLOSED:
            return len(view)
        if self._silence_deadline is not None:
            self._silence_deadline = now + self._heartbeat_timeout
        used = self._cut_frames(view, 0, now)
        return len(view) if self._ended() else used

    def has_unfinished_frame(self) -> bool:
        return bool(self._buffer)

    def _complete_buffered(self, view: memoryview, now: float) -> int:
        """Finish the frame an earlier read began from the head of `view`; the bytes of
        `view` used. `_buffer` is empty afterwards unless `view` ran out first."""
        buffer = self._buffer
        used = 0
        if len(buffer) < FRAME_HEADER_BYTES:
            used = FRAME_HEADER_BYTES - len(buffer)
            buffer += view[:used]
            if len(buffer) < FRAME_HEADER_BYTES:
                return len(view)
        frame_type, length = _HEADER.unpack_from(buffer)
        if not self._header_allowed(frame_type, length):
            return len(view)
        missing: int = FRAME_HEADER_BYTES + length - len(buffer)
        buffer += view[used : used + missing]
        used = min(len(view), used + missing)
        del buffer[: self._cut_frames(buffer, 0, now)]
        return used

    def _header_allowed(self, frame_type: int, length: int) -> bool:
        limit = _payload_limit(frame_type)
        if limit is None:
            self._violation(f"unknown frame type 0x{frame_type:02x}")
            return False
        if length > limit:
            self._violation(f"frame 0x{frame_type:02x} of {length} bytes exceeds {limit}")
            return False
        return True

    def _cut_frames(self, source: bytearray | memoryview, start: int, now: float) -> int:
        """Handle every whole frame in `source` from `start` on; where the first
        unfinished one begins (or where handling stopped: the connection ended)."""
        size = len(source)
        limits = _PAYLOAD_LIMITS
        while self.phase != Phase.CLOSED and size - start >= FRAME_HEADER_BYTES:
            frame_type, length = _HEADER.unpack_from(source, start)
            limit = limits.get(frame_type)
            if limit is None or length > limit:
                self._header_allowed(frame_type, length)  # says which, and ends
                return start
            end = start + FRAME_HEADER_BYTES + length
            if size < end:
                return start
            body = start + FRAME_HEADER_BYTES
            start = end
            if frame_type == _DATA and self.phase == Phase.OPEN and length >= CHANNEL_ID_BYTES:
                (channel,) = _CHANNEL.unpack_from(source, body)
                # Per frame, not around the loop: ending the connection (`_end`)
                # clears the buffer this may be reading, which a live view forbids.
                with memoryview(source) as view:
                    message = bytes(view[body + CHANNEL_ID_BYTES : end])
                self._events.append(DataReceived(channel, message))
                continue
            with memoryview(source) as view:
                payload = bytes(view[body:end])
            self._on_frame(FrameType(frame_type), payload, now)
        return start

    def _on_eof(self) -> None:
        if self.phase == Phase.CLOSING:
            self._end(R.DISCONNECT_REQUEST, "closed on our request")
        elif self.phase == Phase.OPEN:
            # Even in the middle of a frame: a peer that dies while writing a large
            # message leaves half a frame, and that is a lost connection, not a peer
            # speaking another protocol (PROTOCOL_ERROR).
            unfinished = (
                f" ({len(self._buffer)} bytes of an unfinished frame)" if self._buffer else ""
            )
            self._end(
                R.CONNECTION_LOST, f"the peer closed the connection without a request{unfinished}"
            )
        elif self.phase == Phase.OPENING:
            self._end(
                R.TRANSPORT_CONNECTION_FAILED,
                "the transport connection closed before the session opened",
            )

    def _on_frame(self, kind: FrameType, payload: bytes, now: float) -> None:
        if self.phase == Phase.OPENING:
            self._on_opening_frame(kind, payload, now)
            return
        if kind == FrameType.HEARTBEAT:
            return
        if kind == FrameType.DATA:
            if len(payload) < CHANNEL_ID_BYTES:
                self._violation("a data frame without a channel id")
                return
            (channel,) = _CHANNEL.unpack_from(payload)
            if self.phase == Phase.OPEN:
                self._events.append(DataReceived(channel, payload[CHANNEL_ID_BYTES:]))
            return
        if kind in CHANNEL_FRAME_SIZES:
            if len(payload) != CHANNEL_FRAME_SIZES[kind]:
                self._violation(f"{kind.name} of {len(payload)} bytes")
            elif self.phase == Phase.OPEN:
                self._events.append(ChannelFrame(kind, payload))
            return
        if kind == FrameType.DISCONNECT:
            if self.phase == Phase.CLOSING:
                # Both asked at once: each closes, and each reports its own request.
                self._end(R.DISCONNECT_REQUEST, "both ends asked to disconnect")
            else:
                self._end(R.PEER_DISCONNECT_REQUEST, "the peer asked to disconnect")
            return
        self._violation(f"frame {kind.name} is not allowed once the session is open")

    def _on_opening_frame(self, kind: FrameType, payload: bytes, now: float) -> None:
        if self.side == "server" and kind == FrameType.HELLO:
            if len(payload) < _VERSION.size:
                self._violation("HELLO without a version")
                return
            (version,) = _VERSION.unpack_from(payload)
            if version not in SUPPORTED_VERSIONS:
                self.reject(RejectCode.VERSION, f"transport version {version} is not supported")
                return
            try:
                session_id = payload[_VERSION.size :].decode("ascii")
            except UnicodeDecodeError:
                session_id = ""
            self._events.append(HelloReceived(version, session_id))
        elif self.side == "client" and kind == FrameType.WELCOME:
            if len(payload) != _VERSION.size:
                self._violation("WELCOME without a version")
                return
            (version,) = _VERSION.unpack_from(payload)
            if version != self._version:
                self._end(
                    R.PROTOCOL_VERSION_MISMATCH,
                    f"the server opened version {version}, not {self._version}",
                )
                return
            self._open(now)
        elif self.side == "client" and kind == FrameType.REJECT:
            code = payload[0] if payload else 0
            text = payload[1:].decode("utf-8", "replace")
            reason = (
                R.PROTOCOL_VERSION_MISMATCH
                if code == RejectCode.VERSION
                else R.TRANSPORT_CONNECTION_FAILED
            )
            self._end(reason, f"the server refused the session: {text}")
        else:
            self._violation(f"frame {kind.name} before the session opened")

    def _ended(self) -> bool:
        return self.phase == Phase.CLOSED

    # --- transitions --------------------------------------------------------------------

    def _open(self, now: float) -> None:
        self.phase = Phase.OPEN
        self._open_deadline = None
        self._next_heartbeat = now + self._heartbeat_interval
        self._silence_deadline = now + self._heartbeat_timeout
        self._events.append(SessionOpened())

    def _violation(self, detail: str) -> None:
        reason = R.TRANSPORT_CONNECTION_FAILED if self.phase == Phase.OPENING else R.PROTOCOL_ERROR
        self._end(reason, detail)

    def _end(self, reason: DisconnectReason, detail: str) -> None:
        if self.phase == Phase.CLOSED:
            return
        self.phase = Phase.CLOSED
        self.should_close = True
        self._open_deadline = self._next_heartbeat = None
        self._silence_deadline = self._closing_deadline = None
        self._buffer.clear()
        self._events.append(TransportEnded(reason, detail))

    def abort(self, reason: DisconnectReason, detail: str) -> None:
        """The shell ends the connection (socket error, runtime closing)."""
        self._end(reason, detail)

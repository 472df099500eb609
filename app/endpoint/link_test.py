"""The link test and the file transfer: two small protocols on a session's data channels.

Qt-free and ctypes-free: they speak bytes through `ChannelHub`. Whoever opens a
channel says what it is for in its first message:

- `HRLT1` (link test): then, on the same channel,
  `P` + sequence (u32) + padding: a ping, echoed back unchanged (round-trip time);
  `U` + bytes: upload data, counted; `E`: upload done, answered `A` + JSON
  {"bytes": n}; `D` + JSON {"seconds": s, "size": n}: the answerer sends `d` + bytes
  for s seconds, then `F` + JSON {"bytes": n}.
- `HRFT1` + JSON {"name", "size", "sha256"} (file transfer): then `C` + chunk ... and
  `Z` (done). The receiver writes to a temporary file beside the target, checks size
  and SHA-256, and only then renames it into place; it answers `K` (kept) or
  `X` + reason. A transfer cut short (channel closed, disconnect) leaves nothing.

`ChannelServices` is the answering side (what `listen` runs); `run_link_test` and
`send_file` the asking side.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import statistics
import struct
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from app.endpoint.channels import ChannelClosedError, ChannelHub
from app.errors import HoloremoteError

LINK_TEST_MAGIC = b"HRLT1"
FILE_MAGIC = b"HRFT1"
REFUSED = b"X"
_SEQ = struct.Struct(">I")
FILE_CHUNK = 512 * 1024
MAX_FILE_NAME = 255
WAIT_S = 30.0
NO_ECHO = "this listener does not answer link tests (it runs with --no-echo)"
NO_SAVE_DIR = "this listener does not save files (start it with --save-dir DIR)"


class LinkTestError(HoloremoteError):
    """The peer refused or broke off a link test or a file transfer."""


@dataclass(frozen=True)
class Direction:
    bytes: int
    seconds: float

    @property
    def mbit_per_s(self) -> float:
        return self.bytes * 8 / self.seconds / 1e6 if self.seconds > 0 else 0.0

    @property
    def mib_per_s(self) -> float:
        return self.bytes / self.seconds / (1 << 20) if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class LinkTestResult:
    message_size: int
    rtt_ms: tuple[float, ...]
    upload: Direction
    download: Direction

    @property
    def rtt_p50_ms(self) -> float:
        return percentile(self.rtt_ms, 50)

    @property
    def rtt_p99_ms(self) -> float:
        return percentile(self.rtt_ms, 99)

    def to_json(self) -> dict[str, object]:
        return {
            "messageSize": self.message_size,
            "pings": len(self.rtt_ms),
            "rttP50Ms": round(self.rtt_p50_ms, 3),
            "rttP99Ms": round(self.rtt_p99_ms, 3),
            "uploadBytes": self.upload.bytes,
            "uploadSeconds": round(self.upload.seconds, 4),
            "uploadMbitPerS": round(self.upload.mbit_per_s, 1),
            "downloadBytes": self.download.bytes,
            "downloadSeconds": round(self.download.seconds, 4),
            "downloadMbitPerS": round(self.download.mbit_per_s, 1),
        }


def percentile(values: tuple[float, ...] | list[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


Progress = Callable[[str, float, float], None]  # (phase, value, elapsed seconds)


async def run_link_test(
    hub: ChannelHub,
    channel_id: int,
    *,
    seconds: float,
    message_size: int,
    progress: Progress | None = None,
) -> LinkTestResult:
    """Round trips for a third of `seconds`, then upload, then download."""
    if message_size < _SEQ.size + 1:
        raise LinkTestError(f"a message is at least {_SEQ.size + 1} bytes")
    handle = await hub.open(channel_id)
    try:
        await hub.send(handle, LINK_TEST_MAGIC)
        phase = seconds / 3
        rtts = await _pings(hub, handle, phase, message_size, progress)
        upload = await _upload(hub, handle, phase, message_size, progress)
        download = await _download(hub, handle, phase, message_size, progress)
        return LinkTestResult(message_size, tuple(rtts), upload, download)
    except ChannelClosedError as exc:
        raise LinkTestError(
            f"the peer ended the link test on channel {channel_id} ({exc.reason})",
            fix="run 'holoremote listen' without --no-echo on the other end",
        ) from None
    finally:
        with contextlib.suppress(HoloremoteError):
            await hub.close(handle)


async def _pings(
    hub: ChannelHub, handle: int, seconds: float, size: int, progress: Progress | None
) -> list[float]:
    padding = b"\0" * (size - 1 - _SEQ.size)
    rtts: list[float] = []
    start = time.perf_counter()
    sequence = 0
    while time.perf_counter() - start < seconds or not rtts:
        sent = time.perf_counter()
        await hub.send(handle, b"P" + _SEQ.pack(sequence) + padding)
        answer = await _expect(hub, handle, b"P")
        if answer[1 : 1 + _SEQ.size] != _SEQ.pack(sequence):
            raise LinkTestError("the peer echoed a different ping")
        rtt = (time.perf_counter() - sent) * 1000
        rtts.append(rtt)
        if progress is not None:
            progress("rtt", rtt, time.perf_counter() - start)
        sequence += 1
    return rtts


async def _upload(
    hub: ChannelHub, handle: int, seconds: float, size: int, progress: Progress | None
) -> Direction:
    payload = b"U" + os.urandom(size - 1)
    batch = [payload] * _batch_size(size)
    start = time.perf_counter()
    sent = 0
    while time.perf_counter() - start < seconds or not sent:
        await hub.send_many(handle, batch)
        sent += len(payload) * len(batch)
        if progress is not None:
            elapsed = time.perf_counter() - start
            progress("upload", sent * 8 / elapsed / 1e6 if elapsed else 0.0, elapsed)
    await hub.send(handle, b"E")
    answer = json.loads((await _expect(hub, handle, b"A"))[1:])
    elapsed = time.perf_counter() - start
    counted = int(answer["bytes"])
    if counted != sent:
        raise LinkTestError(f"the peer counted {counted} bytes of the {sent} sent")
    return Direction(sent, elapsed)


def _batch_size(message_size: int) -> int:
    """Messages per worker-thread trip: about 1 MiB, at least one, at most 64."""
    return max(1, min(64, (1 << 20) // message_size))


async def _download(
    hub: ChannelHub, handle: int, seconds: float, size: int, progress: Progress | None
) -> Direction:
    start = time.perf_counter()
    await hub.send(handle, b"D" + json.dumps({"seconds": seconds, "size": size}).encode())
    received = 0
    while True:
        message = await hub.receive(handle, WAIT_S)
        if message[:1] == b"d":
            received += len(message)
            if progress is not None and received % (size * 16) == 0:
                elapsed = time.perf_counter() - start
                progress("download", received * 8 / elapsed / 1e6 if elapsed else 0.0, elapsed)
        elif message[:1] == b"F":
            counted = int(json.loads(message[1:])["bytes"])
            if counted != received:
                raise LinkTestError(f"received {received} bytes, the peer sent {counted}")
            return Direction(received, time.perf_counter() - start)
        else:
            raise LinkTestError(f"unexpected message {message[:1]!r} during the download")


async def _expect(hub: ChannelHub, handle: int, kind: bytes) -> bytes:
    message = await hub.receive(handle, WAIT_S)
    if message[:1] == REFUSED:
        raise LinkTestError(f"the peer refused: {message[1:].decode('utf-8', 'replace')}")
    if message[:1] != kind:
        raise LinkTestError(f"expected {kind!r} from the peer, got {message[:1]!r}")
    return message


# --- file transfer, sending side ---------------------------------------------------------


@dataclass(frozen=True)
class FileSent:
    name: str
    size: int
    sha256: str
    seconds: float


async def send_file(hub: ChannelHub, channel_id: int, path: Path) -> FileSent:
    """Send one file; returns once the peer has checked its SHA-256 and kept it."""
    size, digest = await asyncio.to_thread(_hash_file, path)
    name = path.name
    start = time.perf_counter()
    handle = await hub.open(channel_id)
    try:
        header = {"name": name, "size": size, "sha256": digest}
        await hub.send(handle, FILE_MAGIC + json.dumps(header).encode())
        with path.open("rb") as source:
            while chunk := await asyncio.to_thread(source.read, FILE_CHUNK):
                await hub.send(handle, b"C" + chunk, paced=True)
        await hub.send(handle, b"Z")
        answer = await hub.receive(handle, WAIT_S + size / (1 << 20))
    except ChannelClosedError as exc:
        raise LinkTestError(
            f"the transfer of {name} on channel {channel_id} was cut off ({exc.reason})"
        ) from None
    finally:
        with contextlib.suppress(HoloremoteError):
            await hub.close(handle)
    if answer[:1] != b"K":
        reason = answer[1:].decode("utf-8", "replace") if answer[:1] == REFUSED else "no answer"
        raise LinkTestError(
            f"the peer did not keep {name}: {reason}",
            fix="run 'holoremote listen --save-dir DIR' on the other end",
        )
    return FileSent(name, size, digest, time.perf_counter() - start)


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


# --- the answering side ------------------------------------------------------------------


@dataclass(frozen=True)
class FileReceived:
    path: Path
    size: int
    sha256: str


class ChannelServices:
    """Answers the channels a peer opens: link tests (unless `echo` is off) and files
    (only with a `save_dir`). Anything else is refused on that channel alone."""

    def __init__(
        self,
        hub: ChannelHub,
        *,
        echo: bool = True,
        save_dir: Path | None = None,
        on_file: Callable[[FileReceived], None] | None = None,
        on_refusal: Callable[[str], None] | None = None,
        on_progress: Callable[[str, int], None] | None = None,
        on_other: Callable[[int, bytes], Awaitable[None]] | None = None,
    ) -> None:
        self._hub = hub
        self._echo = echo
        self._save_dir = save_dir
        self._on_file = on_file
        self._on_refusal = on_refusal
        self._on_progress = on_progress
        # Channels of any other purpose (text, the test stream): given the channel and
        # its first message; without it they are refused.
        self._on_other = on_other
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Serve every channel the peer opens, until cancelled."""
        try:
            while True:
                try:
                    handle = await self._hub.accept()
                except ChannelClosedError:
                    return  # the session is closed
                task = asyncio.ensure_future(self._serve(handle))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            for task in list(self._tasks):
                task.cancel()

    async def _serve(self, handle: int) -> None:
        hub = self._hub
        try:
            first = await hub.receive(handle, WAIT_S)
            if first == LINK_TEST_MAGIC:
                if self._echo:
                    await self._link_test(handle)
                else:
                    await self._refuse(
                        handle, "this listener does not answer link tests (it runs with --no-echo)"
                    )
            elif first.startswith(FILE_MAGIC):
                if self._save_dir is None:
                    await self._refuse(
                        handle, "this listener does not save files (start it with --save-dir DIR)"
                    )
                else:
                    await self._receive_file(handle, first[len(FILE_MAGIC) :], self._save_dir)
            elif self._on_other is not None:
                await self._on_other(handle, first)
            else:
                await self._refuse(handle, "unknown channel purpose")
        except ChannelClosedError as exc:
            # The peer closing its channel (PROTOCOL) is how a link test ends.
            if exc.reason != "PROTOCOL" and self._on_refusal is not None:
                self._on_refusal(f"channel {hub.channel_id(handle)}: {exc}")
        except (TimeoutError, LinkTestError, HoloremoteError) as exc:
            if self._on_refusal is not None:
                self._on_refusal(f"channel {hub.channel_id(handle)}: {exc}")

    async def _refuse(self, handle: int, reason: str) -> None:
        """Answer X + reason and leave the closing to the peer: a runtime drops what a
        closed channel had not handed out yet (the specification allows no retrieve on
        a closed channel), so closing first could lose the answer."""
        if self._on_refusal is not None:
            self._on_refusal(f"channel {self._hub.channel_id(handle)}: {reason}")
        await self._hub.send(handle, REFUSED + reason.encode())
        with contextlib.suppress(ChannelClosedError, TimeoutError):
            while True:  # until the peer closes (bounded)
                await self._hub.receive(handle, WAIT_S)
        with contextlib.suppress(HoloremoteError):
            await self._hub.close(handle)

    async def _link_test(self, handle: int) -> None:
        hub = self._hub
        uploaded = 0
        while True:
            message = await hub.receive(handle)
            kind = message[:1]
            if kind == b"P":
                await hub.send(handle, message)
            elif kind == b"U":
                uploaded += len(message)
            elif kind == b"E":
                await hub.send(handle, b"A" + json.dumps({"bytes": uploaded}).encode())
                uploaded = 0
            elif kind == b"D":
                request = json.loads(message[1:])
                seconds = min(float(request["seconds"]), 600.0)
                size = max(2, min(int(request["size"]), 1 << 20))
                payload = b"d" + os.urandom(size - 1)
                batch = [payload] * _batch_size(size)
                sent = 0
                start = time.perf_counter()
                while time.perf_counter() - start < seconds or not sent:
                    await hub.send_many(handle, batch)
                    sent += len(payload) * len(batch)
                await hub.send(handle, b"F" + json.dumps({"bytes": sent}).encode())
            else:
                raise LinkTestError(f"unknown link-test message {kind!r}")

    async def _receive_file(self, handle: int, header_bytes: bytes, save_dir: Path) -> None:
        hub = self._hub
        try:
            header = json.loads(header_bytes)
            name = str(header["name"])
            size = int(header["size"])
            expected = str(header["sha256"]).lower()
        except (ValueError, KeyError, TypeError):
            await self._refuse(handle, "the file header is not valid JSON with name/size/sha256")
            return
        safe = Path(name).name
        if not safe or safe != name or len(safe) > MAX_FILE_NAME or safe.startswith("."):
            await self._refuse(handle, f"refusing the file name {name!r}")
            return
        target = save_dir / safe
        descriptor, temp_name = tempfile.mkstemp(prefix=f".{safe}.", suffix=".part", dir=save_dir)
        temp = Path(temp_name)
        digest = hashlib.sha256()
        received = 0
        kept = False

        async def refuse(reason: str) -> None:
            # Nothing half-written stays behind, and it is gone before the sender hears.
            with contextlib.suppress(OSError):
                temp.unlink()
            await self._refuse(handle, reason)

        try:
            with os.fdopen(descriptor, "wb") as out:
                while True:
                    try:
                        message = await hub.receive(handle, WAIT_S)
                    except ChannelClosedError as exc:
                        if self._on_refusal is not None:
                            self._on_refusal(
                                f"{safe}: the channel closed ({exc.reason}) after {received} of "
                                f"{size} bytes; nothing kept"
                            )
                        return
                    if message[:1] == b"C":
                        received += len(message) - 1
                        if received > size:
                            out.close()
                            await refuse(f"more than the announced {size} bytes")
                            return
                        digest.update(message[1:])
                        await asyncio.to_thread(out.write, message[1:])
                        if self._on_progress is not None:
                            self._on_progress(safe, received)
                    elif message[:1] == b"Z":
                        break
                    else:
                        raise LinkTestError(f"unexpected message {message[:1]!r} in a file")
            actual = digest.hexdigest()
            if received != size or actual != expected:
                await refuse(
                    f"{safe}: got {received} bytes with SHA-256 {actual}, expected {size} "
                    f"bytes with {expected}; not kept"
                )
                return
            if target.exists():
                await refuse(f"{target} exists; not overwritten")
                return
            os.replace(temp, target)
            kept = True
            await hub.send(handle, b"K")
            if self._on_file is not None:
                self._on_file(FileReceived(target, size, actual))
        finally:
            if not kept:
                with contextlib.suppress(OSError):
                    temp.unlink()


def mean(values: tuple[float, ...]) -> float:
    return statistics.fmean(values) if values else 0.0

"""Keep freed memory for reuse once a session can carry data-channel traffic (glibc).

Every data-channel message is a fresh bytes object (up to 1 MiB): cut out of the
TLS read on the runtime's loop thread, freed on the application's thread once read;
the sender makes one per message and frees it once written. glibc's malloc gives
the free top of a heap back to the kernel as soon as more than M_TRIM_THRESHOLD is
free there (128 KiB until larger blocks have been freed), and serves blocks above
M_MMAP_THRESHOLD with mmap/munmap. At a few thousand 64 KiB messages a second the
same pages went back to the kernel and were faulted in again, zero-filled, for the
next message: a 2 s download took about 170,000 minor page faults in the two
processes, about one per 4 KiB moved, and 21,000 with the thresholds below
(docs/benchmarks.md, "Data-channel throughput, this pass").

A process keeps up to TRIM_THRESHOLD_BYTES of free heap per arena for reuse; that
is done only once a session is connected, so an idle or handshaking listener keeps
glibc's defaults. Elsewhere (musl, macOS, Windows) nothing changes.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Callable

# mallopt(3) parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Free heap kept per arena: several times the send queue a bulk sender keeps
# (channels.PACE_QUEUE_BYTES, 4 MiB) and the packets a receiver holds in flight.
TRIM_THRESHOLD_BYTES = 16 << 20
# Blocks below this come from the heap, not mmap: every message (at most 1 MiB
# plus framing) and every TLS buffer the transport makes.
MMAP_THRESHOLD_BYTES = 4 << 20

Mallopt = Callable[[int, int], int]

_done = False
_lock = threading.Lock()


def _glibc_mallopt(platform: str | None = None) -> Mallopt | None:
    """glibc's mallopt, or None where the C library is not glibc."""
    if not (sys.platform if platform is None else platform).startswith("linux"):
        return None
    try:
        # The process's own symbols (dlopen(NULL)): libc is loaded already, and
        # ctypes.util.find_library would run ldconfig in a subprocess.
        libc = ctypes.CDLL(None)
        # gnu_get_libc_version exists only in glibc: musl's mallopt does nothing useful.
        libc.gnu_get_libc_version  # noqa: B018 - raises AttributeError elsewhere
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def set_thresholds(mallopt: Mallopt) -> bool:
    """Both thresholds through `mallopt`; whether it took both (it answers 1 on
    success; a refusal leaves glibc's defaults in place)."""
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )


def keep_freed_memory() -> bool:
    """Set the thresholds once per process; whether they are set (False where the
    C library is not glibc). Safe from any thread, and more than once."""
    global _done
    with _lock:
        if not _done:
            mallopt = _glibc_mallopt()
            _done = mallopt is not None and set_thresholds(mallopt)
        return _done

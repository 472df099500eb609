"""Data-channel throughput for `make bench`: `holoremote link-test` against
`holoremote listen` (two processes, the built-in runtime, TLS 1.3, one data
channel) against a bare CPython `ssl` socket pair moving the same bytes, in rounds
(the measurement itself is `bench/link_vs_tls.py`'s; not a test). For scale, with no
target: the same download into a receiver without the session layer (the runtime
driven as a bare OpenXR application would), against the same bare download.

    python bench/link.py [--rounds 3] [--seconds 4] [--message-size 65536]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import Figure, add_arguments, emit  # noqa: E402


def figures(rounds: int, seconds: float, size: int) -> list[Figure]:
    from bench.link_vs_tls import bare_tls, link_test, prepare, runtime_download

    mbit = 1e6 / 8
    rates: dict[str, list[float]] = {
        "up": [],
        "down": [],
        "bare_up": [],
        "bare_down": [],
        "runtime_down": [],
    }
    with tempfile.TemporaryDirectory(prefix="holoremote-bench-") as tmp:
        folder = Path(tmp)
        prepare(folder)
        for _ in range(rounds):
            link = link_test(folder, seconds, size)
            up, down = int(link["uploadBytes"]), int(link["downloadBytes"])
            bare_up, bare_down = bare_tls(folder, str(folder / "ca.pem"), up, down, size)
            rates["up"].append(up / float(link["uploadSeconds"]) / mbit)
            rates["down"].append(down / float(link["downloadSeconds"]) / mbit)
            rates["bare_up"].append(bare_up / mbit)
            rates["bare_down"].append(bare_down / mbit)
            # link-test downloads for a third of its time; so does this receiver.
            rates["runtime_down"].append(runtime_download(folder, seconds / 3, size) / mbit)
    return [
        Figure(
            name=f"data channel {direction} ({size // 1024} KiB messages)",
            unit="Mbit/s",
            ours=rates[key],
            baseline_name="bare ssl socket pair",
            baseline=rates["bare_" + key],
            target="ratio>=",
            bound=0.7,
        )
        for direction, key in (("upload", "up"), ("download", "down"))
    ] + [
        Figure(
            name="same download, runtime-level receiver (no session layer)",
            unit="Mbit/s",
            ours=rates["runtime_down"],
            baseline_name="bare ssl socket pair",
            baseline=rates["bare_down"],
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--seconds", type=float, default=4.0, help="link test per round")
    parser.add_argument("--message-size", type=int, default=64 * 1024)
    args = parser.parse_args()
    rounds, seconds = (1, 1.0) if args.smoke else (args.rounds, args.seconds)
    emit(figures(rounds, seconds, args.message_size), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

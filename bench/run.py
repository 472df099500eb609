"""`make bench`: every benchmark script, each in its own process, and one table of
every figure against its baseline in the same run: figure, ours (median of the
rounds, min-max), baseline, ratio (median of the per-round ratios), target, met.

    python bench/run.py [--rounds 3] [--smoke] [--only connect,handshake,...]

Exit status 0 whether or not a target is met (a benchmark is not a test); 1 if a
script failed.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import Figure, load_figures, table  # noqa: E402

SCRIPTS = ("connect", "handshake", "window", "stall", "chain", "idle", "link")
# Scripts whose per-round ratio swings most get more rounds (times --rounds), so that
# the median of the per-round ratios is an estimate, not a draw: the data channel's
# bare socket pair moves 6-12 Gbit/s from round to round, by whether the scheduler puts
# its two processes on one core or two (docs/benchmarks.md, "Data-channel throughput:
# CPU per byte"). A link round takes about 9 s.
ROUNDS_FACTOR = {"link": 3}


def machine() -> str:
    import ssl

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, "
        f"CPython {platform.python_version()}, {ssl.OPENSSL_VERSION}, load {load:.1f} at start"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="a tiny iteration count each")
    parser.add_argument("--only", default=",".join(SCRIPTS), help="comma-separated scripts")
    args = parser.parse_args()
    chosen = [s for s in args.only.split(",") if s]
    unknown = set(chosen) - set(SCRIPTS)
    if unknown:
        parser.error(
            f"unknown benchmark {', '.join(sorted(unknown))}; choose from {', '.join(SCRIPTS)}"
        )
    figures: list[Figure] = []
    failed: list[str] = []
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"machine: {machine()}", flush=True)
    for name in chosen:
        command = [sys.executable, str(ROOT / "bench" / f"{name}.py"), "--json"]
        rounds = args.rounds * ROUNDS_FACTOR.get(name, 1)
        command += ["--smoke"] if args.smoke else ["--rounds", str(rounds)]
        print(f"running bench/{name}.py ...", file=sys.stderr, flush=True)
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
        if result.returncode != 0 or not lines:
            failed.append(name)
            print(
                f"bench/{name}.py failed ({result.returncode}):\n{result.stderr[-2000:]}",
                file=sys.stderr,
            )
            continue
        figures.extend(load_figures(lines[-1]))
    extra = ", ".join(
        f"{name}: {args.rounds * factor}"
        for name, factor in ROUNDS_FACTOR.items()
        if name in chosen
    )
    rounds = "1 (smoke)" if args.smoke else f"{args.rounds}" + (f" ({extra})" if extra else "")
    print(f"started {started}; rounds per figure: {rounds}; ratio = median of per-round ratios")
    print(table(figures))
    met = [f.met() for f in figures if f.met() is not None]
    print(f"targets met: {sum(bool(m) for m in met)} of {len(met)}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

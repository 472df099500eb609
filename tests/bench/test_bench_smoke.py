"""Every benchmark script runs end to end with a tiny iteration count, and the table
says met / not met the way each target reads. No timing is asserted: speed lives in
`make bench`, whose figures are noisy on a shared machine."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from bench.harness import Figure, table
from tests.reference import REPO_ROOT

SMOKE_TIMEOUT_S = 240


# Six scripts, each spawning listeners, clients and windows: longer than the suite's
# 60 s default on a loaded 2-core machine, bounded all the same.
@pytest.mark.timeout(SMOKE_TIMEOUT_S + 30)
def test_make_bench_runs_every_script_and_prints_one_table(
    require_tool: Callable[[str], str],
) -> None:
    require_tool("openssl")
    require_tool("Xvfb")
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for row in (
        "secure connect (3-cert chain, separate processes)",
        "same connect, against bare asyncio",
        "TLS 1.3 handshakes + request /s",
        "listener CPU per handshake",
        "same handshakes /s, against bare asyncio",
        "same CPU per handshake, against bare asyncio",
        "window start to first paint (offscreen)",
        "window start to first paint (xcb under Xvfb)",
        "longest loop stall at 1,000 records/s",
        "longest loop stall at 10,000 records/s",
        "longest loop stall at 50,000 records/s",
        "3-cert chain validations/s",
        "idle TLS connections",
        "data channel upload",
        "data channel download",
        "same download, runtime-level receiver (no session layer)",
    ):
        assert row in out, f"{row!r} missing from:\n{out}"
    assert "targets met:" in out
    assert "0 dropped" in out


def test_relay_bench_runs() -> None:
    result = subprocess.run(
        [sys.executable, "bench/relay.py", "--smoke"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RecordRelay" in result.stdout


def test_stall_parts_bench_runs() -> None:
    result = subprocess.run(
        [sys.executable, "bench/stall_parts.py", "--smoke", "--rate", "2000"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "0 not shown" in result.stdout
    for part in ("relay drain", "dispatch", "repaint", "ms CPU per burst"):
        assert part in result.stdout, result.stdout


def test_targets_read_as_their_kind() -> None:
    faster = Figure("rate", "/s", [90.0, 100.0, 80.0], "base", [100.0] * 3, "ratio>=", 0.85)
    assert faster.ratio() == 0.9 and faster.met() is True
    slower = Figure("latency", "ms", [14.0, 13.5, 12.0], "base", [10.0] * 3, "ratio<=", 1.3)
    assert slower.met() is False
    memory = Figure("rss", "MB", [81.0, 79.0, 79.5], target="abs<=", bound=80.0)
    assert memory.met() is True
    lost = Figure("stall", "ms", [5.0], "base", [2.0], "abs<", 16.0, ok_extra=False)
    assert lost.met() is False
    untargeted = Figure("stall 1k", "ms", [5.0], "base", [2.0])
    assert untargeted.met() is None
    text = table([faster, slower, memory, lost, untargeted])
    assert [line.split("|")[-2].strip() for line in text.splitlines()[2:]] == [
        "yes",
        "NO",
        "yes",
        "NO",
        "-",
    ]

"""The runtime's own words about a disconnect reach the user (human and JSON)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from tests.reference import REPO_ROOT


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _connect(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOLOREMOTE_TOKEN": "t" * 32, "HOME": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "app", "connect", *args, "--runtime", "builtin"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_refused_connection_names_the_address_it_tried() -> None:
    port = _closed_port()
    result = _connect(f"127.0.0.1:{port}")
    assert result.returncode == 3
    lines = result.stdout.splitlines()
    at = lines.index(
        "disconnected: XR_REMOTING_DISCONNECT_REASON_HANDSHAKE_CONNECTION_REFUSED_MSFT (21)"
    )
    assert f"127.0.0.1:{port}" in lines[at + 1]
    assert "t" * 32 not in result.stdout + result.stderr


def test_json_carries_the_runtime_detail() -> None:
    port = _closed_port()
    result = _connect(f"127.0.0.1:{port}", "--json")
    assert result.returncode == 3
    events = [json.loads(line) for line in result.stdout.splitlines()]
    disconnected = [e for e in events if e["event"] == "disconnected"]
    assert len(disconnected) == 1
    assert disconnected[0]["reason"] == (
        "XR_REMOTING_DISCONNECT_REASON_HANDSHAKE_CONNECTION_REFUSED_MSFT"
    )
    assert f"127.0.0.1:{port}" in disconnected[0]["runtimeDetail"]

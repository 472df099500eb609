"""Run `holoremote listen --once` and `holoremote connect` as real subprocesses
(`python -m app`, cwd = the repository root), each end on the built-in runtime or on
a test OpenXR runtime given with `--runtime openxr --runtime-json FILE`, and boil what
they print down to what must not depend on the runtime: exit status, disconnect
reason names, callbacks.

Every wait is bounded: lines arrive through a reader thread and a queue, processes
are waited for with a timeout, and a process still running at the end is killed.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.security.testpki import GeneratedPki
from tests.app.remoting.cli_support import ROOT, env, holoremote_argv

WAIT_S = 30.0
# How long a listener gets to end after its client did, when it is expected to end.
LISTENER_END_S = 20.0


def runtime_args(manifest: Path | None) -> list[str]:
    """`--runtime builtin`, or the OpenXR path through the test runtime `manifest`."""
    if manifest is None:
        return ["--runtime", "builtin"]
    return ["--runtime", "openxr", "--runtime-json", str(manifest)]


@dataclass(frozen=True)
class Files:
    """One PKI and the token, written where the CLI reads them (never argv)."""

    pki: GeneratedPki = field(repr=False)
    folder: Path
    token: str = field(repr=False)

    @property
    def pfx(self) -> Path:
        return self.folder / "server.pfx"

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def passphrase_file(self) -> Path:
        return self.folder / "passphrase.txt"

    @property
    def token_file(self) -> Path:
        return self.folder / "token.txt"

    def listen_args(self, *, passphrase_file: Path | None = None) -> list[str]:
        return [
            "--cert-store",
            str(self.pfx),
            "--key-passphrase-file",
            str(passphrase_file or self.passphrase_file),
            "--token-file",
            str(self.token_file),
        ]


def write_files(pki: GeneratedPki, folder: Path, token: str) -> Files:
    folder.mkdir(parents=True, exist_ok=True)
    pki.write(folder)
    (folder / "passphrase.txt").write_text(pki.passphrase + "\n")
    (folder / "token.txt").write_text(token + "\n")
    return Files(pki, folder, token)


class Process:
    """A CLI process whose stdout lines (JSON) are read on a thread into a queue."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            holoremote_argv(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env(),
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.stderr = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                self.lines.put({"event": "raw", "text": line})
        self.lines.put(None)

    def wait_event(self, name: str, timeout: float = WAIT_S) -> dict[str, Any] | None:
        """The first event `name`, or None if the process ended first."""
        while True:
            item = self.lines.get(timeout=timeout)
            if item is None:
                self.lines.put(None)
                return None
            self.seen.append(item)
            if item.get("event") == name:
                return item

    def finish(self, timeout: float) -> int | None:
        """Exit status, or None if still running after `timeout` (then it is stopped)."""
        try:
            code: int | None = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.wait_event("(end of output)", timeout=10)
        assert self.process.stderr is not None
        self.stderr = self.process.stderr.read()
        self.process.stderr.close()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    @property
    def text(self) -> str:
        return "\n".join(json.dumps(item) for item in self.seen) + "\n" + self.stderr


def listen(manifest: Path | None, files: Files, *extra: str) -> Process:
    return Process(
        "listen",
        "--once",
        "--json",
        "--ephemeral-port",
        "--listen-interface",
        "127.0.0.1",
        *runtime_args(manifest),
        *files.listen_args(),
        *extra,
    )


def connect(manifest: Path | None, port: int, *extra: str, host: str = "127.0.0.1") -> Process:
    return Process(
        "connect", f"{host}:{port}", "--json", "--hold", "0.2", *runtime_args(manifest), *extra
    )


def reasons(events: list[dict[str, Any]]) -> list[str]:
    return [e["reason"] for e in events if e.get("event") == "disconnected"]


def succeeded_callbacks(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["callback"]
        for e in events
        if e.get("event") == "callback" and e["result"] == "XR_SUCCESS"
    ]


def first_buffers(events: list[dict[str, Any]], callback: str) -> list[tuple[str, dict[str, Any]]]:
    """(result, inputs) of each call of `callback`."""
    return [
        (e["result"], e["inputs"])
        for e in events
        if e.get("event") == "callback" and e["callback"] == callback
    ]

"""Run `holoremote` as a real subprocess and wait for lines without polling sleeps."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from app.security.testpki import GeneratedPki

ROOT = Path(__file__).resolve().parents[3]


def holoremote_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "app", *args]


def env(**extra: str) -> dict[str, str]:
    # Other tests point XR_RUNTIME_JSON at a test OpenXR runtime in this process;
    # these tests are about the built-in runtime, so neither it nor a token leaks in.
    dropped = ("HOLOREMOTE_TOKEN", "XR_RUNTIME_JSON")
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    base["PYTHONPATH"] = str(ROOT)
    base.update(extra)
    return base


def run_cli(
    *args: str, timeout: float = 30.0, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        holoremote_argv(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env(**extra_env),
        check=False,
    )


class Listener:
    """`holoremote listen --json --ephemeral-port ...` in the background."""

    def __init__(self, *args: str, json: bool = True, **extra_env: str) -> None:
        flags = ["--json"] if json else []
        self.process = subprocess.Popen(
            holoremote_argv(
                "listen", *flags, "--ephemeral-port", "--listen-interface", "127.0.0.1", *args
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env(**extra_env),
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                self.lines.put({"event": "raw", "text": line})
        self.lines.put(None)

    def wait_event(self, name: str, timeout: float = 15.0) -> dict[str, Any]:
        while True:
            item = self.lines.get(timeout=timeout)
            if item is None:
                raise AssertionError(f"listener ended before {name!r}: {self.seen}")
            self.seen.append(item)
            if item.get("event") == name:
                return item

    def rest(self, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Every remaining line, until the process closes its output."""
        while (item := self.lines.get(timeout=timeout)) is not None:
            self.seen.append(item)
        self.lines.put(None)
        return self.seen

    def text_port(self, timeout: float = 15.0) -> int:
        """Text mode: the handshake port from the `listening: handshake port N` line."""
        while True:
            item = self.lines.get(timeout=timeout)
            if item is None:
                raise AssertionError(f"listener ended before listening: {self.seen}")
            self.seen.append(item)
            text = str(item.get("text", ""))
            if text.startswith("listening: handshake port "):
                return int(text.split()[3].rstrip(","))

    def ports(self) -> tuple[int, int]:
        event = self.wait_event("listening")
        return int(event["port"]), int(event["transportPort"])

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout=10)
        stderr = self.process.stderr.read() if self.process.stderr else ""
        return code, stderr

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def write_pki(pki: GeneratedPki, directory: Path, token: str) -> dict[str, Path]:
    paths = pki.write(directory)
    passphrase = directory / "passphrase.txt"
    passphrase.write_text(pki.passphrase + "\n")
    token_file = directory / "token.txt"
    token_file.write_text(token + "\n")
    return {**paths, "passphrase": passphrase, "token": token_file}


def secure_listen_args(files: dict[str, Path]) -> list[str]:
    return [
        "--cert-store",
        str(files["pfx"]),
        "--key-passphrase-file",
        str(files["passphrase"]),
        "--token-file",
        str(files["token"]),
    ]

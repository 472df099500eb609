"""Output any console can print (issue 16, point 6): `certs create` redirected on a
cp1252 console (PYTHONIOENCODING=cp1252, as Windows sets it up for a pipe) writes its
files and prints the pin's QR code in ASCII with a note instead of dying with
UnicodeEncodeError; other text the console cannot encode is replaced, not fatal."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import segno

from app import console

ROOT = Path(__file__).resolve().parents[3]


def _certs_create(tmp_path: Path, encoding: str, *extra: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    env.pop("HOLOREMOTE_KEY_PASSPHRASE", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "certs",
            "create",
            "--out",
            str(tmp_path / "pki"),
            "--host",
            "cp1252.test",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )


def _ascii_rows(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("pin as QR code")) + 1
    return lines[start:]


def test_cp1252_redirected_prints_the_pin_as_ascii_qr(tmp_path: Path) -> None:
    done = _certs_create(tmp_path, "cp1252")
    assert done.returncode == 0, done.stderr.decode("cp1252", "replace")
    text = done.stdout.decode("cp1252")
    assert "this console cannot show block characters" in text
    assert "thumbprint-qr.svg has it as an image" in text
    assert "█" not in text and "▀" not in text
    pin = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("pin: "))
    expected = [
        "".join("##" if dark else "  " for dark in row)
        for row in segno.make(pin, error="m").matrix_iter(scale=1, border=2)
    ]
    assert _ascii_rows(text) == expected
    assert (tmp_path / "pki" / "server.pfx").is_file()


def test_utf8_console_keeps_the_block_characters(tmp_path: Path) -> None:
    done = _certs_create(tmp_path, "utf-8")
    text = done.stdout.decode("utf-8")
    assert done.returncode == 0 and "pin as QR code:" in text and "█" in text
    assert "cannot show block characters" not in text


def test_unencodable_text_is_replaced_not_fatal(tmp_path: Path) -> None:
    done = _certs_create(tmp_path, "cp1252", "--friendly-name", "lab ✓ server")
    assert done.returncode == 0, done.stderr.decode("cp1252", "replace")
    assert "friendly name 'lab ? server'" in done.stdout.decode("cp1252")


def test_can_print_asks_the_stream_encoding() -> None:
    cp1252 = io.TextIOWrapper(io.BytesIO(), encoding="cp1252")
    assert console.can_print("plain ASCII and é", cp1252)
    assert not console.can_print("▀▄█", cp1252)
    assert console.can_print("▀▄█", io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))


def test_missing_streams_become_the_null_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """A windowed executable (the Windows GUI build) starts with sys.stdout = None."""
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    console.make_streams_printable()
    assert sys.stdout is not None and sys.stderr is not None
    print("goes nowhere, raises nothing")
    sys.stdout.close()
    sys.stderr.close()


def test_strict_streams_become_replacing(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="cp1252", errors="strict")
    monkeypatch.setattr(sys, "stdout", stream)
    console.make_streams_printable()
    print("a ✓ b", file=stream)
    stream.flush()
    assert raw.getvalue() == b"a ? b\n"

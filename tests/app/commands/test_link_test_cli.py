"""`holoremote link-test`, `connect --send` and `listen --save-dir/--no-echo` as real
subprocesses over TLS on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from app.security.testpki import GeneratedPki
from tests.app.remoting.cli_support import Listener, run_cli, secure_listen_args, write_pki
from tests.app.remoting.remoting_support import TOKEN


def _client(command: str, port: int, files: dict[str, Path], *extra: str):  # type: ignore[no-untyped-def]
    return run_cli(
        command,
        "--runtime",
        "builtin",
        f"127.0.0.1:{port}",
        "--ca-file",
        str(files["ca"]),
        "--token-file",
        str(files["token"]),
        *extra,
        timeout=60,
    )


def test_link_test_against_listen_reports_latency_and_throughput(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener(*secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        result = _client(
            "link-test", port, files, "--seconds", "0.6", "--message-size", "4096", "--json"
        )
        assert result.returncode == 0, result.stdout + result.stderr
        (report,) = [
            json.loads(line)
            for line in result.stdout.splitlines()
            if json.loads(line).get("event") == "linkTest"
        ]
        assert report["messageSize"] == 4096
        assert report["pings"] >= 1
        assert 0 < report["rttP50Ms"] <= report["rttP99Ms"]
        assert report["uploadBytes"] >= 4096 and report["uploadMbitPerS"] > 0
        assert report["downloadBytes"] >= 4096 and report["downloadMbitPerS"] > 0
        # and the table
        text = _client("link-test", port, files, "--seconds", "0.3", "--message-size", "256")
        assert text.returncode == 0, text.stdout + text.stderr
        assert "round trip   p50" in text.stdout and "upload" in text.stdout
        assert "Mbit/s" in text.stdout


def test_listen_no_echo_refuses_the_link_test_by_name(pki: GeneratedPki, tmp_path: Path) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener("--no-echo", *secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        result = _client("link-test", port, files, "--seconds", "0.3")
        assert result.returncode == 3, result.stdout + result.stderr
        assert "does not answer link tests" in result.stdout
        assert "--no-echo" in result.stdout  # the fix names the flag


def test_connect_send_is_saved_with_its_sha256_checked(pki: GeneratedPki, tmp_path: Path) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    save = tmp_path / "received"
    save.mkdir()
    payload = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "payload.bin"
    source.write_bytes(payload)
    with Listener("--save-dir", str(save), *secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        result = _client("connect", port, files, "--send", str(source), "--channel", "5")
        assert result.returncode == 0, result.stdout + result.stderr
        digest = hashlib.sha256(payload).hexdigest()
        assert digest in result.stdout
        saved = listener.wait_event("info")
        while "saved" not in saved["message"]:
            saved = listener.wait_event("info")
        assert saved["sha256"] == digest
    assert (save / "payload.bin").read_bytes() == payload
    assert [p.name for p in save.iterdir()] == ["payload.bin"]  # no temporary left


def test_send_without_save_dir_is_refused_and_nothing_is_written(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    source = tmp_path / "note.txt"
    source.write_text("hello")
    with Listener(*secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        result = _client("connect", port, files, "--send", str(source))
        assert result.returncode == 3
        assert "does not save files" in result.stdout
        assert "--save-dir" in result.stdout


def test_bad_flags_name_the_flag(pki: GeneratedPki, tmp_path: Path) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    missing = _client("connect", 9, files, "--send", str(tmp_path / "nope.bin"))
    assert missing.returncode == 2 and "--send" in missing.stderr
    channel = _client("link-test", 9, files, "--channel", "64")
    assert channel.returncode == 2 and "--channel" in channel.stderr
    assert "0..63" in channel.stderr
    size = _client("link-test", 9, files, "--message-size", "3")
    assert size.returncode == 2 and "--message-size" in size.stderr
    folder = run_cli("listen", "--save-dir", str(tmp_path / "absent"), "--plain")
    assert folder.returncode == 2 and "--save-dir" in folder.stderr

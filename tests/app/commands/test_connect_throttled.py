"""`holoremote connect` says how long to wait when the listener blocks its address
after too many refused tokens; `holoremote listen` keeps listening (subprocesses,
127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

from app.remoting.builtin.protocol import AUTH_MAX_FAILURES
from app.security.testpki import GeneratedPki
from tests.app.remoting.cli_support import Listener, run_cli, secure_listen_args, write_pki
from tests.app.remoting.remoting_support import TOKEN

AUTH_FAILED = "disconnected: XR_REMOTING_DISCONNECT_REASON_AUTHENTICATION_FAILED_MSFT (6)"


def test_connect_prints_the_wait_after_too_many_refused_tokens(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not-the-token-" + "x" * 24 + "\n")

    def connect(port: int, token_file: Path) -> str:
        result = run_cli(
            "connect",
            "--runtime",
            "builtin",
            f"127.0.0.1:{port}",
            "--ca-file",
            str(files["ca"]),
            "--token-file",
            str(token_file),
        )
        assert result.returncode == 3, result.stdout + result.stderr
        return result.stdout

    with Listener(*secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        for _ in range(AUTH_MAX_FAILURES):
            out = connect(port, wrong)
            assert AUTH_FAILED in out and "try again" not in out
            # The refusal ended that listen; the CLI listens again on the same port.
            port, _ = listener.ports()
        out = connect(port, files["token"])
        note = listener.wait_event("note")
        while "too many refused tokens" not in note["message"]:
            note = listener.wait_event("note")
        assert listener.process.poll() is None  # still listening
    lines = out.splitlines()
    told = next(i for i, line in enumerate(lines) if "too many failed attempts" in line)
    assert lines[told].startswith("info: the server refused to check the token")
    assert " try again in " in lines[told] and lines[told].endswith(" s")
    # Just above the disconnect (only the state change between them).
    assert lines[told + 1 : told + 3] == [
        "state: XR_REMOTING_CONNECTION_STATE_DISCONNECTED_MSFT",
        AUTH_FAILED,
    ]
    assert "ValidateAuthenticationToken" not in out
    assert "from 127.0.0.1" in note["message"]
    validated = [e for e in listener.seen if e.get("callback") == "ValidateAuthenticationToken"]
    assert [e["outputs"]["tokenValidOut"] for e in validated] == [False] * AUTH_MAX_FAILURES
    last_listen = max(i for i, e in enumerate(listener.seen) if e.get("event") == "listening")
    assert not any(e.get("event") == "disconnected" for e in listener.seen[last_listen:])
    assert TOKEN not in out and TOKEN not in str(listener.seen)

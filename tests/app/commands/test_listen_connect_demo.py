"""`holoremote listen`, `connect` and `demo` as real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

from app.security.testpki import GeneratedPki
from tests.app.remoting.cli_support import (
    Listener,
    run_cli,
    secure_listen_args,
    write_pki,
)
from tests.app.remoting.remoting_support import TOKEN

CALLBACKS = (
    "RequestServerCertificate",
    "ValidateServerCertificate",
    "RequestAuthenticationToken",
    "ValidateAuthenticationToken",
)


def test_demo_exits_0_and_prints_all_four_callbacks() -> None:
    # Bounded by run_cli's timeout; how fast the demo is belongs to bench/, not here.
    result = run_cli("demo", timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in CALLBACKS:
        assert f"callback {name}" in result.stdout
    assert "XR_REMOTING_DISCONNECT_REASON_DISCONNECT_REQUEST_MSFT" in result.stdout
    # demo has no --runtime flag, so its runtime line must not name one.
    runtime_lines = [line for line in result.stdout.splitlines() if "runtime: " in line]
    assert runtime_lines == [
        "[player] runtime: built-in runtime: the demo runs both ends on it, in this process",
        "[remote] runtime: built-in runtime: the demo runs both ends on it, in this process",
    ]


def test_demo_json_is_one_object_per_line() -> None:
    result = run_cli("demo", "--json", timeout=10)
    assert result.returncode == 0
    events = [json.loads(line) for line in result.stdout.splitlines()]
    names = [
        e["callback"] for e in events if e["event"] == "callback" and e["result"] == "XR_SUCCESS"
    ]
    assert sorted(names) == sorted(CALLBACKS)


def test_secure_listen_once_and_connect_exit_0(pki: GeneratedPki, tmp_path: Path) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener("--once", *secure_listen_args(files)) as listener:
        port, transport = listener.ports()
        assert port and transport and port != transport
        result = run_cli(
            "connect",
            "--runtime",
            "builtin",
            f"127.0.0.1:{port}",
            "--ca-file",
            str(files["ca"]),
            "--token-file",
            str(files["token"]),
            "--hold",
            "0.2",
            "--json",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        events = [json.loads(line) for line in result.stdout.splitlines()]
        assert {"event": "connected"} in events
        ended = listener.wait_event("disconnected")
        assert ended["reason"] == "XR_REMOTING_DISCONNECT_REASON_PEER_DISCONNECT_REQUEST_MSFT"
        assert listener.process.wait(timeout=10) == 0
    everything = result.stdout + result.stderr + json.dumps(listener.seen)
    assert TOKEN not in everything and pki.passphrase not in everything


def test_connect_with_wrong_token_exits_3_with_the_reason(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener(*secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        result = run_cli(
            "connect",
            "--runtime",
            "builtin",
            f"127.0.0.1:{port}",
            "--ca-file",
            str(files["ca"]),
            HOLOREMOTE_TOKEN="not-the-right-token-at-all",
        )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "XR_REMOTING_DISCONNECT_REASON_AUTHENTICATION_FAILED_MSFT" in result.stdout
    assert "fix:" in result.stdout
    assert "not-the-right-token-at-all" not in result.stdout + result.stderr


def test_connect_refused_exits_3() -> None:
    from tests.app.remoting.remoting_support import bound_port

    with bound_port() as sock:
        result = run_cli("connect", f"127.0.0.1:{sock.getsockname()[1]}", "--plain")
    assert result.returncode == 3
    assert "XR_REMOTING_DISCONNECT_REASON_HANDSHAKE_CONNECTION_REFUSED_MSFT" in result.stdout


def test_usage_errors_exit_2_naming_the_flag_or_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pfx"
    result = run_cli("listen", "--cert-store", str(missing), "--token-file", str(missing))
    assert result.returncode == 2
    assert str(missing) in result.stderr and "fix:" in result.stderr
    result = run_cli("listen")
    assert result.returncode == 2 and "--cert-store" in result.stderr
    result = run_cli("connect", "127.0.0.1:99999")
    assert result.returncode == 2 and "HOST[:PORT]" in result.stderr
    result = run_cli("connect", "127.0.0.1")  # secure, no token anywhere
    assert result.returncode == 2 and "--token-file" in result.stderr
    result = run_cli(
        "connect", "127.0.0.1", "--plain", "--runtime", "builtin", "--runtime-json", "x.json"
    )
    assert result.returncode == 2 and "--runtime-json" in result.stderr


def _connect(port: int, files: dict[str, Path], *extra: str, **env: str):  # type: ignore[no-untyped-def]
    return run_cli(
        "connect",
        "--runtime",
        "builtin",
        f"127.0.0.1:{port}",
        "--ca-file",
        str(files["ca"]),
        *extra,
        **env,
    )


def test_listen_once_exits_3_with_the_reason_after_a_refused_token(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener("--once", *secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        result = _connect(port, files, HOLOREMOTE_TOKEN="not-the-right-token-at-all")
        assert result.returncode == 3
        ended = listener.wait_event("disconnected")
        assert ended["reason"] == "XR_REMOTING_DISCONNECT_REASON_AUTHENTICATION_FAILED_MSFT"
        assert listener.process.wait(timeout=10) == 3
    notes = [e["message"] for e in listener.seen if e["event"] == "note"]
    assert any("the token was refused" in n for n in notes), listener.seen
    assert "not-the-right-token-at-all" not in json.dumps(listener.seen)


def test_listen_once_text_output_names_the_reason(pki: GeneratedPki, tmp_path: Path) -> None:
    """The same in text mode, with the role mismatch (HANDSHAKE_FAILED)."""
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener("--once", "--role", "remote", *secure_listen_args(files), json=False) as listener:
        port = listener.text_port()
        result = _connect(port, files, "--token-file", str(files["token"]))
        assert result.returncode == 3
        assert "XR_REMOTING_DISCONNECT_REASON_HANDSHAKE_FAILED_MSFT" in result.stdout
        assert listener.process.wait(timeout=10) == 3
        text = "".join(str(x.get("text", "")) for x in listener.rest())
    assert "disconnected: XR_REMOTING_DISCONNECT_REASON_HANDSHAKE_FAILED_MSFT (9)" in text
    assert "the remote as well" in text


def test_listen_without_once_listens_again_on_the_same_ports(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener(*secure_listen_args(files)) as listener:
        port, transport = listener.ports()
        wrong = _connect(port, files, HOLOREMOTE_TOKEN="not-the-right-token-at-all")
        assert wrong.returncode == 3
        ended = listener.wait_event("disconnected")
        assert ended["reason"] == "XR_REMOTING_DISCONNECT_REASON_AUTHENTICATION_FAILED_MSFT"
        # Listening again, on the ports it printed first (ephemeral ones included).
        assert listener.ports() == (port, transport)
        good = _connect(port, files, "--token-file", str(files["token"]), "--hold", "0.1")
        assert good.returncode == 0, good.stdout + good.stderr
        listener.wait_event("connected")


def test_a_doctor_probe_does_not_end_listen_once(pki: GeneratedPki, tmp_path: Path) -> None:
    """The listener is the remote, so the doctor's first guess (remote) is refused as
    the same role; a marked probe still leaves the listener listening."""
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener("--once", "--role", "remote", *secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        doctor = run_cli("doctor", f"127.0.0.1:{port}", "--ca-file", str(files["ca"]), "--json")
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert '"step": "challenge"' in doctor.stdout
        good = _connect(
            port, files, "--role", "player", "--token-file", str(files["token"]), "--hold", "0.1"
        )
        assert good.returncode == 0, good.stdout + good.stderr
        assert listener.process.wait(timeout=10) == 0
    reasons = [e.get("reason") for e in listener.seen if e["event"] == "disconnected"]
    assert reasons in ([], ["XR_REMOTING_DISCONNECT_REASON_PEER_DISCONNECT_REQUEST_MSFT"])

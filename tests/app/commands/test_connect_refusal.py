"""`holoremote connect` says which certificate check failed and what to do, in text
and in --json, against a real listener (subprocesses, 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path

from app.security.testpki import GeneratedPki, create_test_pki
from tests.app.remoting.cli_support import Listener, run_cli, secure_listen_args, write_pki
from tests.app.remoting.remoting_support import TOKEN

REFUSED = (
    "disconnected: XR_REMOTING_DISCONNECT_REASON_HANDSHAKE_CONNECTION_FAILED_MSFT (5): "
    "this client refused the server's certificate"
)


def test_untrusted_root_names_the_check_the_reason_and_the_pin(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener(*secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        # No --ca-file: the OS store, which does not hold the test CA.
        args = ("connect", "--runtime", "builtin", f"127.0.0.1:{port}")
        text = run_cli(*args, "--token-file", str(files["token"]))
        as_json = run_cli(*args, "--token-file", str(files["token"]), "--json")
    assert text.returncode == as_json.returncode == 3
    out = text.stdout
    assert "ValidateServerCertificate (client) -> XR_SUCCESS" in out
    assert "REFUSED (trustedRoot)" in out
    assert "refused: trustedRoot: the chain ends at root" in out
    assert f"--pin {pki.pin}" in out and "--ca-file CA.pem" in out
    assert f"{REFUSED} (trustedRoot)" in out
    assert "disagree about secure mode" not in out  # no generic guess when we know
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    record = next(e for e in events if e.get("callback") == "ValidateServerCertificate")
    verdict = record["outputs"]["validationResultOut"]
    assert verdict["trustedRoot"] is False
    assert set(verdict["reasons"]) >= {"trustedRoot", "nameMismatch", "expired"}
    assert "not in" in verdict["reasons"]["trustedRoot"]
    ended = next(e for e in events if e["event"] == "disconnected")
    assert ended["reason"] == "XR_REMOTING_DISCONNECT_REASON_HANDSHAKE_CONNECTION_FAILED_MSFT"
    assert ended["failedChecks"] == ["trustedRoot"]


def test_name_mismatch_lists_the_names_the_certificate_holds(tmp_path: Path) -> None:
    other_name = create_test_pki(["holo.example"], ["127.0.0.1"])
    files = write_pki(other_name, tmp_path, TOKEN)
    with Listener(*secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        result = run_cli(
            "connect",
            "--runtime",
            "builtin",
            f"localhost:{port}",
            "--ca-file",
            str(files["ca"]),
            "--token-file",
            str(files["token"]),
        )
    assert result.returncode == 3
    out = result.stdout
    assert "refused: nameMismatch: " in out
    assert "(holo.example, 127.0.0.1) instead of localhost" in out
    assert "--allow-name-mismatch" in out
    assert f"{REFUSED} (nameMismatch)" in out


def test_accepted_connection_prints_each_callback_summary(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener("--once", *secure_listen_args(files)) as listener:
        port, _ = listener.ports()
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
            "0.1",
        )
        assert listener.process.wait(timeout=10) == 0
        seen = listener.rest()
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert (
        "hostName=127.0.0.1, 3 certificate(s), with the runtime's system validation: accepted"
        in out
    )
    assert "RequestAuthenticationToken (client) -> XR_SUCCESS" in out
    assert f"tokenSizeOut={len(TOKEN) + 1} (capacity" in out
    assert "refused:" not in out and TOKEN not in out
    validated = [e for e in seen if e.get("callback") == "ValidateAuthenticationToken"]
    assert validated and validated[0]["outputs"]["tokenValidOut"] is True

"""`holoremote doctor` against a secure listener, a plain one, a closed port and a
listener with an expired certificate."""

from __future__ import annotations

import json
from pathlib import Path

from app.security.testpki import GeneratedPki
from tests.app.remoting.cli_support import Listener, run_cli, secure_listen_args, write_pki
from tests.app.remoting.remoting_support import TOKEN, bound_port


def steps(stdout: str) -> dict[str, dict]:
    return {s["step"]: s for s in map(json.loads, stdout.splitlines())}


def test_doctor_secure_listener(pki: GeneratedPki, tmp_path: Path) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener("--realm", "lab-7", *secure_listen_args(files)) as listener:
        port, transport = listener.ports()
        result = run_cli("doctor", f"127.0.0.1:{port}", "--ca-file", str(files["ca"]), "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        found = steps(result.stdout)
        assert found["tls"]["secure"] is True
        assert found["tls-versions"]["versions"]["TLSv1.3"] is True
        assert found["tls-versions"]["versions"]["TLSv1.2"] is True
        assert found["tls-versions"]["versions"]["TLSv1.1"] is not True
        assert found["tls-versions"]["versions"]["TLSv1"] is not True
        assert len(found["chain"]["certificates"]) == 3
        assert found["chain"]["validation"]["trustedRoot"] is True
        assert found["challenge"]["realm"] == "lab-7"
        assert found["transport"]["ok"] is None  # needs a token
        # Text mode too.
        text = run_cli("doctor", f"127.0.0.1:{port}", "--ca-file", str(files["ca"]))
        assert 'realm="lab-7"' in text.stdout and "trustedRoot: True" in text.stdout
        # With the token: the transport port and a real session (which ends this
        # listen; the listener then listens again on new ephemeral ports).
        result = run_cli(
            "doctor",
            f"127.0.0.1:{port}",
            "--ca-file",
            str(files["ca"]),
            "--json",
            "--token-file",
            str(files["token"]),
        )
        assert result.returncode == 0, result.stdout
        found = steps(result.stdout)
        assert found["handshake"]["transportPort"] == transport
        assert found["transport"]["ok"] is True


def test_doctor_plain_listener() -> None:
    with Listener("--plain") as listener:
        port, _ = listener.ports()
        result = run_cli("doctor", f"127.0.0.1:{port}", "--json")
    found = steps(result.stdout)
    assert found["tls"]["secure"] is False
    assert "plain" in found["tls"]["detail"]
    assert found["transport"]["ok"] is True


def test_doctor_closed_port() -> None:
    with bound_port() as sock:
        result = run_cli("doctor", f"127.0.0.1:{sock.getsockname()[1]}", "--json")
    assert result.returncode == 3
    found = steps(result.stdout)
    assert found["tcp"]["ok"] is False
    assert (
        found["tcp"]["reason"] == "XR_REMOTING_DISCONNECT_REASON_HANDSHAKE_CONNECTION_REFUSED_MSFT"
    )


def test_doctor_expired_certificate(expired_pki: GeneratedPki, tmp_path: Path) -> None:
    files = write_pki(expired_pki, tmp_path, TOKEN)
    with Listener(*secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        result = run_cli("doctor", f"127.0.0.1:{port}", "--ca-file", str(files["ca"]), "--json")
    assert result.returncode == 3
    found = steps(result.stdout)
    assert found["chain"]["ok"] is False
    assert found["chain"]["validation"]["expired"] is True
    assert "HANDSHAKE_CONNECTION_FAILED" in found["chain"]["detail"]

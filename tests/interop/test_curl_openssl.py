"""Real tools against `holoremote listen`: curl speaks the handshake, openssl sees
the whole chain from a .pfx with an intermediate, and TLS 1.0/1.1 are refused."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from app.remoting.builtin.protocol import HANDSHAKE_PATH, ROLE_HEADER, VERSION_HEADER
from app.security.testpki import GeneratedPki
from tests.app.remoting.cli_support import Listener, secure_listen_args, write_pki
from tests.app.remoting.remoting_support import TOKEN

TOOL_TIMEOUT_S = 15


def curl(port: int, ca: Path, *extra: str) -> tuple[int, str, str]:
    """(status, headers, body) of one POST to the handshake path."""
    result = subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--max-time",
            "10",
            "--cacert",
            str(ca),
            "--request",
            "POST",
            "--header",
            f"{VERSION_HEADER}: 1",
            "--header",
            f"{ROLE_HEADER}: remote",
            "--dump-header",
            "-",
            *extra,
            f"https://127.0.0.1:{port}{HANDSHAKE_PATH}",
        ],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # text=True turns CRLF into LF.
    head, _, body = result.stdout.partition("\n\n")
    status = int(head.split()[1])
    return status, head, body


def test_curl_gets_the_challenge_then_200_then_401_for_a_wrong_token(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener("--realm", "studio-3", *secure_listen_args(files)) as listener:
        port, transport = listener.ports()
        status, head, _ = curl(port, files["ca"])
        assert status == 401
        assert re.search(r'(?im)^www-authenticate: Bearer realm="studio-3"$', head), head

        status, head, _ = curl(port, files["ca"], "--header", "Authorization: Bearer wrong-token-1")
        assert status == 401
        assert 'error="invalid_token"' in head
        # A refused token ends that listen (Microsoft's semantics); `listen` listens
        # again on the same ports.
        ended = listener.wait_event("disconnected")
        assert ended["reason"] == "XR_REMOTING_DISCONNECT_REASON_AUTHENTICATION_FAILED_MSFT"
        assert listener.ports() == (port, transport)

        status, _, body = curl(port, files["ca"], "--header", f"Authorization: Bearer {TOKEN}")
        assert status == 200
        import json

        answer = json.loads(body)
        assert answer["transportPort"] == transport
        assert answer["role"] == "player" and answer["protocolVersion"] == 1
        assert len(answer["sessionId"]) == 43


def test_openssl_sees_the_full_chain_from_the_pfx(pki: GeneratedPki, tmp_path: Path) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener(*secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        result = subprocess.run(
            [
                "openssl",
                "s_client",
                "-connect",
                f"127.0.0.1:{port}",
                "-showcerts",
                "-CAfile",
                str(files["ca"]),
            ],
            input="",
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT_S,
            check=False,
        )
    out = result.stdout
    assert out.count("-----BEGIN CERTIFICATE-----") == 3, out
    assert "intermediate CA" in out
    assert re.search(r"Verify return code: 0 \(ok\)", out), out


def test_listener_refuses_tls_1_1_and_1_0(pki: GeneratedPki, tmp_path: Path) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener(*secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        outcomes = {}
        for flag in ("-tls1_1", "-tls1", "-tls1_2", "-tls1_3"):
            result = subprocess.run(
                [
                    "openssl",
                    "s_client",
                    "-connect",
                    f"127.0.0.1:{port}",
                    flag,
                    "-cipher",
                    "DEFAULT:@SECLEVEL=0",
                ],
                input="",
                capture_output=True,
                text=True,
                timeout=TOOL_TIMEOUT_S,
                check=False,
            )
            negotiated = re.search(r"New, (TLSv[\d.]+)", result.stdout)
            outcomes[flag] = (result.returncode, negotiated.group(1) if negotiated else None)
    assert outcomes["-tls1_1"] == (1, None), outcomes
    assert outcomes["-tls1"] == (1, None), outcomes
    assert outcomes["-tls1_2"] == (0, "TLSv1.2"), outcomes
    assert outcomes["-tls1_3"] == (0, "TLSv1.3"), outcomes

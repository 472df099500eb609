"""The listener's TLS profile (docs/security.md): a real `sslyze` scan against
`holoremote listen` finds it compliant with Mozilla's "intermediate" configuration,
and openssl sees exactly the key-exchange groups X25519, P-256 and P-384."""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from app.remoting.builtin import tls, tls_groups
from app.security.testpki import GeneratedPki
from tests.app.remoting.cli_support import Listener, secure_listen_args, write_pki
from tests.app.remoting.remoting_support import TOKEN

SCAN_TIMEOUT_S = 120
TOOL_TIMEOUT_S = 15


def test_sslyze_finds_the_listener_compliant_with_mozilla_intermediate(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener(*secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        scan = subprocess.run(
            [
                sys.executable,
                "-m",
                "sslyze",
                "--mozilla_config=intermediate",
                # The test CA is not in the system store; path validation needs it.
                "--certinfo_ca_file",
                str(files["ca"]),
                f"127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=SCAN_TIMEOUT_S,
            check=False,
        )
        # The scan's hundreds of probes (TLS versions, suites, curves, an HTTP GET)
        # never end the listen: it still serves after the scan.
        assert listener.process.poll() is None
    report = scan.stdout
    assert scan.returncode == 0, report[-3000:] + scan.stderr[-2000:]
    assert f"127.0.0.1:{port}: OK - Compliant." in report
    curves = re.search(r"Supported curves:\s+(.+)", report)
    assert curves is not None, report
    assert curves.group(1).strip() == "X25519, secp256r1, secp384r1"
    assert re.search(r"Deflate Compression:\s+OK - Compression disabled", report)
    assert re.search(r"Client Renegotiation DoS Attack:\s+OK - Not vulnerable", report)


def _openssl_handshake(port: int, *flags: str) -> tuple[int, str]:
    result = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *flags],
        input="",
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    return result.returncode, result.stdout


def test_listener_accepts_only_the_intermediate_groups(pki: GeneratedPki, tmp_path: Path) -> None:
    """TLS 1.3: supported_groups is about the key exchange only, so a client offering
    one group connects exactly when the listener allows it. TLS 1.2: the same list also
    names the curves of ECDSA certificates (RFC 8422 section 5.1.1), so the client must
    offer P-256 for the test certificate; offered X448 and P-521 first, the listener
    still picks P-256."""
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener(*secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        outcomes = {
            group: _openssl_handshake(port, "-tls1_3", "-groups", group)[0]
            for group in ("X25519", "P-256", "P-384", "X448", "P-521")
        }
        code, output = _openssl_handshake(port, "-tls1_2", "-groups", "X448:P-521:P-256")
    assert outcomes == {"X25519": 0, "P-256": 0, "P-384": 0, "X448": 1, "P-521": 1}
    assert code == 0, output
    assert re.search(r"Server Temp Key: ECDH, (prime256v1|P-256)", output), output


def _key_pem(pki: GeneratedPki) -> bytes:
    return pki.server.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _negotiates(server: ssl.SSLContext, group: str) -> bool:
    """Whether an in-memory TLS handshake against `server` succeeds for a client
    context that offers only `group` (limited through the same call)."""
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    tls_groups.restrict_groups(client, (group,))
    server_in, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_in, client_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_side = server.wrap_bio(server_in, server_out, server_side=True)
    client_side = client.wrap_bio(client_in, client_out)
    done = {"client": False, "server": False}
    for _ in range(10):  # a TLS handshake is a few flights
        for name, side in (("client", client_side), ("server", server_side)):
            if done[name]:
                continue
            try:
                side.do_handshake()
                done[name] = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:
                return False
        server_in.write(client_out.read())
        client_in.write(server_out.read())
        if all(done.values()):
            return True
    raise AssertionError("the in-memory handshake did not finish")


def test_restrict_groups_changes_only_the_context_it_is_given(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    """The listener's context is limited; a context made beside it keeps OpenSSL's
    defaults (no process-wide configuration)."""
    limited = tls.server_context(pki.chain_pem, _key_pem(pki))
    assert _negotiates(limited, "X448") is False
    assert _negotiates(limited, "secp521r1") is False
    assert _negotiates(limited, "P-384") is True
    assert _negotiates(limited, "X25519") is True
    beside = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pem = tmp_path / "server.pem"
    pem.write_bytes(pki.chain_pem + _key_pem(pki))
    beside.load_cert_chain(pem)
    assert _negotiates(beside, "X448") is True


def test_restrict_groups_fails_closed() -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(tls_groups.TlsProfileError, match="refused the key-exchange groups"):
        tls_groups.restrict_groups(context, ("no-such-group",))
    with pytest.raises(tls_groups.TlsProfileError, match="not a list of TLS group names"):
        tls_groups.restrict_groups(context, ())

    class Subclassed(ssl.SSLContext):
        pass

    with pytest.raises(tls_groups.TlsProfileError, match=r"not a plain ssl\.SSLContext"):
        tls_groups.restrict_groups(Subclassed(ssl.PROTOCOL_TLS_SERVER), ("X25519",))

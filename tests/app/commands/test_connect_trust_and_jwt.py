"""`listen --jwks` accepting JWTs from an identity provider, and `connect
--known-hosts F [--trust-on-first-use]`, end to end as subprocesses on 127.0.0.1."""

from __future__ import annotations

import json
import time
from pathlib import Path

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from app.security.known_hosts import load_known_hosts
from app.security.testpki import GeneratedPki
from tests.app.remoting.cli_support import Listener, run_cli, secure_listen_args, write_pki
from tests.app.remoting.remoting_support import TOKEN

AUTH_FAILED = "XR_REMOTING_DISCONNECT_REASON_AUTHENTICATION_FAILED_MSFT"
ISSUER, AUDIENCE = "https://idp.example", "holoremote-lab"


def _jwt(key: ECKey, **claims: object) -> str:
    now = int(time.time())
    body: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "headset-7",
        "iat": now,
        "exp": now + 300,
    }
    body.update(claims)
    return jwt.encode({"alg": "ES256", "kid": "idp-1"}, body, key)


def test_listen_accepts_a_jwt_from_the_jwks_and_refuses_bad_ones(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    key = ECKey.generate_key("P-256", parameters={"kid": "idp-1"})
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(KeySet([key]).as_dict(private=False)))
    files = write_pki(pki, tmp_path, TOKEN)
    listen_args = [
        "--cert-store",
        str(files["pfx"]),
        "--key-passphrase-file",
        str(files["passphrase"]),
        "--jwks",
        str(jwks),
        "--jwt-issuer",
        ISSUER,
        "--jwt-audience",
        AUDIENCE,
        "--jwt-algorithm",
        "ES256",
    ]
    tokens = {
        "expired": _jwt(key, exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
        "wrong-audience": _jwt(key, aud="someone-else"),
        "wrong-issuer": _jwt(key, iss="https://evil.example"),
        "good": _jwt(key),
    }
    with Listener(*listen_args) as listener:
        port, transport = listener.ports()
        for name, token in tokens.items():
            token_file = tmp_path / f"{name}.jwt"
            token_file.write_text(token)
            result = run_cli(
                "connect",
                "--runtime",
                "builtin",
                f"127.0.0.1:{port}",
                "--ca-file",
                str(files["ca"]),
                "--token-file",
                str(token_file),
                "--hold",
                "0.1",
                "--json",
            )
            events = [json.loads(line) for line in result.stdout.splitlines()]
            ended = [e["reason"] for e in events if e["event"] == "disconnected"]
            if name == "good":
                assert result.returncode == 0, result.stdout + result.stderr
                assert {"event": "connected"} in events
                listener.wait_event("connected")
            else:
                assert result.returncode == 3, (name, result.stdout)
                assert ended == [AUTH_FAILED], name
                # The listener reports the same reason, then listens again.
                assert listener.wait_event("disconnected")["reason"] == AUTH_FAILED
                assert listener.ports() == (port, transport)
            assert token not in result.stdout + result.stderr
        listener.wait_event("disconnected")
    assert not any(t in json.dumps(listener.seen) for t in tokens.values())


def _connect(port: int, known_hosts: Path, files: dict[str, Path], *extra: str):  # type: ignore[no-untyped-def]
    return run_cli(
        "connect",
        "--runtime",
        "builtin",
        f"127.0.0.1:{port}",
        "--known-hosts",
        str(known_hosts),
        "--token-file",
        str(files["token"]),
        "--hold",
        "0.1",
        *extra,
    )


def test_trust_on_first_use_learns_saves_and_then_requires_the_same_certificate(
    pki: GeneratedPki, other_pki: GeneratedPki, tmp_path: Path
) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    known_hosts = tmp_path / "known_hosts"
    with Listener(*secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        endpoint = f"127.0.0.1:{port}"
        # Unknown and no flag: refused, naming the file and the flag.
        refused = _connect(port, known_hosts, files)
        assert refused.returncode == 3
        assert str(known_hosts) in refused.stdout and "--trust-on-first-use" in refused.stdout
        assert f"pin {pki.pin}" in refused.stdout
        assert "this client refused the server's certificate (trustedRoot)" in refused.stdout
        assert not known_hosts.exists()
        # With the flag: learned, saved, said so, with the pin.
        learned = _connect(port, known_hosts, files, "--trust-on-first-use")
        assert learned.returncode == 0, learned.stdout + learned.stderr
        assert "warning: trusted on first use" in learned.stdout
        assert pki.pin in learned.stdout and str(known_hosts) in learned.stdout
        memory = load_known_hosts(known_hosts)
        assert memory.get(endpoint) == pki.sha256_thumbprint.lower()
        listener.wait_event("disconnected")
        listener.ports()
        # Known now: accepted without the flag, and nothing new is said.
        again = _connect(port, known_hosts, files)
        assert again.returncode == 0, again.stdout
        assert "trusted on first use" not in again.stdout
        listener.wait_event("disconnected")
    # Another certificate on the same endpoint: refused even with the flag.
    (tmp_path / "other").mkdir()
    other_files = write_pki(other_pki, tmp_path / "other", TOKEN)
    with Listener(*secure_listen_args(other_files)) as listener:
        new_port, _ = listener.ports()
        known_hosts.write_text(f"127.0.0.1:{new_port} {pki.sha256_thumbprint}\n")
        changed = _connect(new_port, known_hosts, other_files, "--trust-on-first-use")
    assert changed.returncode == 3
    assert "CHANGED since it was first trusted" in changed.stdout
    assert load_known_hosts(known_hosts).get(f"127.0.0.1:{new_port}") == (
        pki.sha256_thumbprint.lower()
    )


def test_trust_on_first_use_without_known_hosts_remembers_in_the_windows_file(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    """The two faces disagreed: the window remembered a server in the per-user file
    (app.defaults.known_hosts_file) while the command line refused the flag without
    --known-hosts. The window's answer is the right one: trust on first use means
    remembering, and one person's servers belong in one file whichever face asked."""
    files = write_pki(pki, tmp_path, TOKEN)
    config_home = tmp_path / "config"
    with Listener(*secure_listen_args(files)) as listener:
        port, _ = listener.ports()
        learned = run_cli(
            "connect",
            "--runtime",
            "builtin",
            f"127.0.0.1:{port}",
            "--token-file",
            str(files["token"]),
            "--hold",
            "0.1",
            "--trust-on-first-use",
            XDG_CONFIG_HOME=str(config_home),
        )
        assert learned.returncode == 0, learned.stdout + learned.stderr
        listener.wait_event("disconnected")
    remembered = config_home / "holoremote" / "known_hosts"
    assert str(remembered) in learned.stdout
    assert load_known_hosts(remembered).get(f"127.0.0.1:{port}") == (pki.sha256_thumbprint.lower())

"""Both ends in their own processes, each loading its runtime through the real loader;
outcomes on the OpenXR path must equal those on the built-in runtime: exit status,
disconnect reason names, and no secret in anything either end prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.security.testpki import create_test_pki
from tests.app.xr.e2e_support import Secrets, make_secrets
from tests.support.openxr_runtime.build import REPO_ROOT, BuiltRuntime

TIMEOUT = 30
SERVER_GRACE = 2.0


@pytest.fixture(scope="module")
def secret_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    shared = make_secrets()
    good = tmp_path_factory.mktemp("secrets")
    write_secrets(good, shared)
    wrong_token = tmp_path_factory.mktemp("wrong-token")
    write_secrets(wrong_token, shared)
    (wrong_token / "token.txt").write_text("not-the-token")
    other_ca = tmp_path_factory.mktemp("other-ca")
    write_secrets(other_ca, shared)
    (other_ca / "ca.pem").write_bytes(create_test_pki(["localhost"]).ca_pem)
    return {"good": good, "wrong-token": wrong_token, "other-ca": other_ca}


def write_secrets(folder: Path, shared: Secrets) -> None:
    (folder / "token.txt").write_text(shared.token)
    (folder / "server.pfx").write_bytes(shared.pki.pfx)
    (folder / "passphrase.txt").write_text(shared.pki.passphrase)
    (folder / "subject.txt").write_text(shared.pki.friendly_name)
    (folder / "ca.pem").write_bytes(shared.pki.ca_pem)


def peer(mode: str, runtime: str, manifest: Path | None, secrets: Path, **extra: str) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "tests.app.xr.peer",
        mode,
        "--runtime",
        runtime,
        "--secrets",
        str(secrets),
    ]
    if manifest is not None:
        command += ["--runtime-json", str(manifest)]
    for key, value in extra.items():
        command += [f"--{key.replace('_', '-')}", value]
    return command


def run_pair(
    server_side: tuple[str, Path | None],
    client_side: tuple[str, Path | None],
    dirs: dict[str, Path],
    *,
    client_secrets: str = "good",
    client_token: str | None = None,
) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("XR_RUNTIME_JSON", None)
    server = subprocess.Popen(
        peer("listen", *server_side, dirs["good"]),
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        lines = []
        port = None
        for line in server.stdout:
            lines.append(line)
            event = json.loads(line)
            if event.get("event") == "listening":
                port = event["port"]
                break
        assert port, "".join(lines) + (server.stderr.read() if server.stderr else "")
        extra = {"port": str(port)}
        if client_token is not None:
            extra["token_file"] = client_token
        client = subprocess.run(
            peer("connect", *client_side, dirs[client_secrets], **extra),
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        try:
            # A listener whose client failed keeps listening; it has said all it will.
            server_out, server_err = server.communicate(timeout=SERVER_GRACE)
        except subprocess.TimeoutExpired:
            server.terminate()
            server_out, server_err = server.communicate(timeout=TIMEOUT)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    server_text = "".join(lines) + server_out
    return {
        "client_exit": client.returncode,
        "server_exit": server.returncode,
        "client_events": [json.loads(x) for x in client.stdout.splitlines()],
        "server_events": [json.loads(x) for x in server_text.splitlines()],
        "all_output": client.stdout + client.stderr + server_text + server_err,
    }


def summary(run: dict[str, object]) -> dict[str, object]:
    def reasons(events: object) -> list[str]:
        return [e["reason"] for e in events if e["event"] == "disconnected"]  # type: ignore[union-attr,index]

    def callbacks(events: object) -> list[tuple[str, str]]:
        return [
            (e["callback"], e["result"])
            for e in events  # type: ignore[union-attr,index]
            if e["event"] == "callback" and e["result"] != "XR_ERROR_SIZE_INSUFFICIENT"
        ]

    return {
        "client_exit": run["client_exit"],
        "client_reasons": reasons(run["client_events"]),
        "server_reasons": reasons(run["server_events"]),
        "callbacks": sorted(callbacks(run["client_events"]) + callbacks(run["server_events"])),
    }


SCENARIOS = {
    "clean": {},
    "wrong-token": {"client_secrets": "wrong-token"},
    "untrusted-ca": {"client_secrets": "other-ca"},
}
CLIENT_REASON = {
    "clean": "XR_REMOTING_DISCONNECT_REASON_DISCONNECT_REQUEST_MSFT",
    "wrong-token": "XR_REMOTING_DISCONNECT_REASON_AUTHENTICATION_FAILED_MSFT",
    "untrusted-ca": "XR_REMOTING_DISCONNECT_REASON_HANDSHAKE_CONNECTION_FAILED_MSFT",
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_openxr_on_both_ends_matches_the_builtin_runtime(
    scenario: str, xr_runtimes: dict[str, BuiltRuntime], secret_dirs: dict[str, Path]
) -> None:
    options = SCENARIOS[scenario]
    reference = run_pair(("builtin", None), ("builtin", None), secret_dirs, **options)
    on_openxr = run_pair(
        ("openxr", xr_runtimes["player"].manifest),
        ("openxr", xr_runtimes["no-system-result"].manifest),
        secret_dirs,
        **options,
    )
    assert summary(on_openxr) == summary(reference), (reference, on_openxr)
    runtime_lines = [
        e["why"]
        for e in on_openxr["server_events"] + on_openxr["client_events"]  # type: ignore[operator]
        if e["event"] == "runtime"
    ]
    assert all(
        line.startswith("OpenXR runtime 'holoremote test runtime'") for line in runtime_lines
    )
    assert summary(on_openxr)["client_reasons"] == [CLIENT_REASON[scenario]]
    if scenario == "clean":
        assert (on_openxr["client_exit"], on_openxr["server_exit"]) == (0, 0)
    else:
        assert on_openxr["client_exit"] == 3
    # Secrecy: neither end printed the token or the key passphrase.
    good = secret_dirs["good"]
    for secret in ((good / "token.txt").read_text(), (good / "passphrase.txt").read_text()):
        assert secret not in on_openxr["all_output"]  # type: ignore[operator]
        assert secret not in reference["all_output"]  # type: ignore[operator]

"""The same scenarios through `holoremote connect` / `holoremote listen --once` on the
built-in runtime and on the OpenXR path, with the "twin" of the independent stand-in
for Microsoft's runtime: loaded by the real Khronos loader, it calls every callback on
a thread it creates with pthreads, offers 1-byte first buffers for the token, the
certificate store, the passphrase and the subject name, and passes the chain as DER,
with (`twin`) or without (`twin-no-system-result`) a system validation result.

For every scenario the expected outcome is written out below (exit status and the
disconnect reasons each end prints), and all three paths must give exactly it, and
print neither the token nor the key passphrase (right or wrong ones) anywhere.

"Kept listening" means the failed client did not end `listen --once`: the next
(good) client is served, and that is the outcome the listener exits with.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.security.testpki import create_test_pki
from tests.app.xr.cli_pairs import (
    LISTENER_END_S,
    WAIT_S,
    Files,
    Process,
    connect,
    first_buffers,
    listen,
    reasons,
    succeeded_callbacks,
    write_files,
)
from tests.support.openxr_runtime.build import BuiltRuntime

REASON = "XR_REMOTING_DISCONNECT_REASON_{}_MSFT".format
OK_CLIENT = (0, (REASON("DISCONNECT_REQUEST"),))
OK_SERVER = (0, (REASON("PEER_DISCONNECT_REQUEST"),))
CALLBACKS = [
    "RequestServerCertificate",
    "ValidateServerCertificate",
    "RequestAuthenticationToken",
    "ValidateAuthenticationToken",
]


@dataclass(frozen=True)
class Outcome:
    """What must not depend on the runtime."""

    connect: tuple[int, tuple[str, ...]] | None  # exit, reasons; None: no client ran
    listen: tuple[int | None, tuple[str, ...]] | None  # None: no listener
    kept_listening: bool = False  # the failed client did not end `listen --once`


@dataclass(frozen=True)
class Scenario:
    connect_args: Callable[[dict[str, Files]], list[str]]
    expected: Outcome
    pki: str = "main"  # which certificate the listener serves
    wrong_token: bool = False
    wrong_passphrase: bool = False
    listener: bool = True


SCENARIOS: dict[str, Scenario] = {
    # A good connection; the chain is from a private CA, trusted through --ca-file
    # (so this is also "untrusted by the system, but --ca-file given").
    "good-with-ca-file": Scenario(
        lambda f: ["--ca-file", str(f["main"].ca)], Outcome(OK_CLIENT, OK_SERVER)
    ),
    "wrong-token": Scenario(
        lambda f: ["--ca-file", str(f["main"].ca)],
        Outcome(
            (3, (REASON("AUTHENTICATION_FAILED"),)),
            (3, (REASON("AUTHENTICATION_FAILED"),)),
        ),
        wrong_token=True,
    ),
    "untrusted-chain-without-ca-file": Scenario(
        lambda f: [],
        Outcome((3, (REASON("HANDSHAKE_CONNECTION_FAILED"),)), OK_SERVER, kept_listening=True),
    ),
    "pin-match": Scenario(lambda f: ["--pin", f["main"].pki.pin], Outcome(OK_CLIENT, OK_SERVER)),
    "name-mismatch": Scenario(
        lambda f: ["--ca-file", str(f["named"].ca)],
        Outcome((3, (REASON("HANDSHAKE_CONNECTION_FAILED"),)), OK_SERVER, kept_listening=True),
        pki="named",
    ),
    "name-mismatch-allowed": Scenario(
        lambda f: ["--ca-file", str(f["named"].ca), "--allow-name-mismatch"],
        Outcome(OK_CLIENT, OK_SERVER),
        pki="named",
    ),
    # The store is checked before the runtime is loaded: usage error, nothing listens.
    "server-store-wrong-passphrase": Scenario(
        lambda f: [], Outcome(None, (2, ())), wrong_passphrase=True
    ),
    "nobody-listening": Scenario(
        lambda f: ["--ca-file", str(f["main"].ca)],
        Outcome((3, (REASON("HANDSHAKE_CONNECTION_REFUSED"),)), None),
        listener=False,
    ),
}

# path -> (listener's runtime variant, client's runtime variant); None: built-in.
PATHS: dict[str, tuple[str | None, str | None]] = {
    "builtin": (None, None),
    "openxr": ("twin-player", "twin"),
    "openxr-no-system-result": ("twin-player", "twin-no-system-result"),
}


@dataclass
class Run:
    outcome: Outcome
    client_events: list[dict[str, Any]] = field(default_factory=list)
    server_events: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Files]:
    folder = tmp_path_factory.mktemp("twin-files")
    main = write_files(
        create_test_pki(["localhost"], ["127.0.0.1"], intermediate=True),
        folder / "main",
        "twin-token-Xq9w2LmR7vKp",
    )
    named = write_files(
        create_test_pki(["holo.example"], intermediate=True), folder / "named", main.token
    )
    (folder / "wrong-token.txt").write_text("twin-wrong-token-Zt4bN8sD\n")
    (folder / "wrong-passphrase.txt").write_text("twin-wrong-passphrase-Hy7c\n")
    return {"main": main, "named": named}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_path(
    scenario: Scenario, path: str, files: dict[str, Files], built: dict[str, BuiltRuntime]
) -> Run:
    server_variant, client_variant = PATHS[path]
    server_manifest = built[server_variant].manifest if server_variant else None
    client_manifest = built[client_variant].manifest if client_variant else None
    served = files[scenario.pki]
    extras = served.folder.parent
    server: Process | None = None
    processes: list[Process] = []
    try:
        port = free_port()
        if scenario.listener:
            passphrase = extras / "wrong-passphrase.txt" if scenario.wrong_passphrase else None
            server = listen(server_manifest, served, *_passphrase_args(served, passphrase))
            processes.append(server)
            listening = server.wait_event("listening")
            if listening is None:
                code = server.finish(WAIT_S)
                return Run(
                    Outcome(None, (code, tuple(reasons(server.seen)))),
                    server_events=server.seen,
                    text=server.text,
                )
            port = int(listening["port"])
        token = extras / "wrong-token.txt" if scenario.wrong_token else served.token_file
        client = connect(
            client_manifest, port, "--token-file", str(token), *scenario.connect_args(files)
        )
        processes.append(client)
        client_exit = client.finish(WAIT_S)
        assert client_exit is not None, client.text
        outcome_connect = (client_exit, tuple(reasons(client.seen)))
        if server is None:
            return Run(Outcome(outcome_connect, None), client.seen, text=client.text)
        kept = scenario.expected.kept_listening
        if kept:
            # The listener must still be there: the next (good) client is served.
            follow = connect(
                client_manifest,
                port,
                "--token-file",
                str(served.token_file),
                "--ca-file",
                str(served.ca),
                "--allow-name-mismatch",
            )
            processes.append(follow)
            assert follow.finish(WAIT_S) is not None, follow.text
        server_exit = server.finish(LISTENER_END_S)
        text = "\n".join(p.text for p in processes)
        return Run(
            Outcome(outcome_connect, (server_exit, tuple(reasons(server.seen))), kept),
            client.seen,
            server.seen,
            text,
        )
    finally:
        for process in processes:
            process.kill()


def _passphrase_args(files: Files, passphrase: Path | None) -> list[str]:
    return ["--key-passphrase-file", str(passphrase)] if passphrase else []


def secrets_in(files: dict[str, Files]) -> list[str]:
    extras = files["main"].folder.parent
    return [
        files["main"].token,
        files["main"].pki.passphrase,
        files["named"].pki.passphrase,
        (extras / "wrong-token.txt").read_text().strip(),
        (extras / "wrong-passphrase.txt").read_text().strip(),
    ]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_openxr_path_gives_the_builtin_outcome(
    name: str, files: dict[str, Files], xr_runtimes: dict[str, BuiltRuntime]
) -> None:
    scenario = SCENARIOS[name]
    with ThreadPoolExecutor(len(PATHS)) as pool:
        futures = {
            path: pool.submit(run_path, scenario, path, files, xr_runtimes) for path in PATHS
        }
        runs = {path: future.result(timeout=120) for path, future in futures.items()}
    outcomes = {path: run.outcome for path, run in runs.items()}
    assert outcomes == dict.fromkeys(PATHS, scenario.expected), {
        path: run.text for path, run in runs.items() if run.outcome != scenario.expected
    }
    for path, run in runs.items():
        for secret in secrets_in(files):
            assert secret not in run.text, (path, "a secret was printed")
    if name == "good-with-ca-file":
        check_good_connection(runs)
    if name == "server-store-wrong-passphrase":
        for run in runs.values():
            assert "--cert-store" in run.text and "passphrase" in run.text


def check_good_connection(runs: dict[str, Run]) -> None:
    """The four callbacks, connected and disconnected on both ends; on the OpenXR path
    the app answered 1-byte first buffers and got the chain as DER."""
    for path, run in runs.items():
        both = run.client_events + run.server_events
        assert sorted(succeeded_callbacks(both)) == sorted(CALLBACKS), path
        for events in (run.client_events, run.server_events):
            assert {"event": "connected"} in events, path
        if path == "builtin":
            continue
        token_calls = first_buffers(run.client_events, "RequestAuthenticationToken")
        assert token_calls[0][0] == "XR_ERROR_SIZE_INSUFFICIENT"
        assert token_calls[0][1]["tokenCapacityIn"] == 1
        assert token_calls[1][0] == "XR_SUCCESS"
        store_calls = first_buffers(run.server_events, "RequestServerCertificate")
        assert store_calls[0][0] == "XR_ERROR_SIZE_INSUFFICIENT"
        assert store_calls[0][1] == {
            "certStoreCapacityIn": 1,
            "keyPassphraseCapacityIn": 1,
            "subjectNameCapacityIn": 1,
        }
        assert store_calls[1][0] == "XR_SUCCESS"
        ((result, inputs),) = first_buffers(run.client_events, "ValidateServerCertificate")
        assert result == "XR_SUCCESS"
        assert inputs["numCertificates"] == 3  # leaf, intermediate, root: the whole chain
        system = inputs["systemValidationResult"]
        assert (system is None) == (path == "openxr-no-system-result")

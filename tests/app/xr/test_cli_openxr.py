"""The OpenXR path through the command line, as issue 6 asks: `holoremote listen` /
`holoremote connect` as subprocesses (`python -m app`, cwd = the repository root) with
`--runtime openxr --runtime-json <test manifest>`, the Khronos loader in pyopenxr
loading the test runtime like any other; the runtime choice of `--runtime auto` on a
machine without OpenXR runtime; and each runtime selection error with its message.

Both ends on the OpenXR path (two processes: the loader allows one XrInstance per
process) is in `test_twin_comparison.py`, scenario `good-with-ca-file`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.security.testpki import create_test_pki
from tests.app.remoting.cli_support import run_cli
from tests.app.xr.cli_pairs import (
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
NO_RUNTIME = (
    "runtime: built-in runtime: no OpenXR runtime found "
    "(XR_RUNTIME_JSON unset and no active_runtime.json)"
)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return write_files(
        create_test_pki(["localhost"], ["127.0.0.1"], intermediate=True),
        tmp_path_factory.mktemp("cli-openxr"),
        "cli-openxr-token-4fJ8sK2p",
    )


def run_pair(
    server: Path | None, client: Path | None, files: Files, *client_runtime: str
) -> tuple[Process, int | None, Process, int | None]:
    listener = listen(server, files)
    try:
        listening = listener.wait_event("listening")
        assert listening is not None, listener.text
        if client_runtime:  # a runtime choice other than runtime_args(client)
            peer = Process(
                "connect",
                f"127.0.0.1:{listening['port']}",
                "--json",
                "--hold",
                "0.2",
                *client_runtime,
                "--token-file",
                str(files.token_file),
                "--ca-file",
                str(files.ca),
            )
        else:
            peer = connect(
                client,
                int(listening["port"]),
                "--token-file",
                str(files.token_file),
                "--ca-file",
                str(files.ca),
            )
        client_exit = peer.finish(WAIT_S)
        server_exit = listener.finish(WAIT_S)
    finally:
        listener.kill()
    return listener, server_exit, peer, client_exit


def assert_clean_secure_connection(
    listener: Process, server_exit: int | None, peer: Process, client_exit: int | None, files: Files
) -> None:
    assert (client_exit, server_exit) == (0, 0), listener.text + peer.text
    assert sorted(succeeded_callbacks(listener.seen + peer.seen)) == sorted(
        [
            "RequestServerCertificate",
            "ValidateServerCertificate",
            "RequestAuthenticationToken",
            "ValidateAuthenticationToken",
        ]
    )
    assert {"event": "connected"} in listener.seen
    assert {"event": "connected"} in peer.seen
    assert reasons(peer.seen) == [REASON("DISCONNECT_REQUEST")]
    assert reasons(listener.seen) == [REASON("PEER_DISCONNECT_REQUEST")]
    for secret in (files.token, files.pki.passphrase):
        assert secret not in listener.text + peer.text


def runtime_line(process: Process) -> str:
    return next(e["message"] for e in process.seen if e.get("event") == "info")


def test_openxr_listener_and_a_client_that_auto_chose_the_builtin_runtime(
    files: Files, xr_runtimes: dict[str, BuiltRuntime]
) -> None:
    built = xr_runtimes["twin-player"]
    # The client: --runtime auto with XR_RUNTIME_JSON unset and HOME an empty folder.
    listener, server_exit, peer, client_exit = run_pair(
        built.manifest, None, files, "--runtime", "auto"
    )
    assert_clean_secure_connection(listener, server_exit, peer, client_exit, files)
    assert runtime_line(listener) == (
        f"runtime: OpenXR runtime 'holoremote test runtime' from {built.manifest} offers "
        "XR_MSFT_holographic_remoting"
    )
    assert runtime_line(peer) == NO_RUNTIME
    # The OpenXR runtime offered 1-byte buffers first; the app asked for what it needs.
    calls = first_buffers(listener.seen, "RequestServerCertificate")
    assert [result for result, _inputs in calls] == ["XR_ERROR_SIZE_INSUFFICIENT", "XR_SUCCESS"]
    assert calls[0][1] == {
        "certStoreCapacityIn": 1,
        "keyPassphraseCapacityIn": 1,
        "subjectNameCapacityIn": 1,
    }


@pytest.mark.parametrize("variant", ["twin", "twin-no-system-result"])
def test_builtin_listener_and_openxr_client(
    files: Files, xr_runtimes: dict[str, BuiltRuntime], variant: str
) -> None:
    built = xr_runtimes[variant]
    listener, server_exit, peer, client_exit = run_pair(None, built.manifest, files)
    assert_clean_secure_connection(listener, server_exit, peer, client_exit, files)
    assert runtime_line(peer).startswith("runtime: OpenXR runtime 'holoremote test runtime'")
    calls = first_buffers(peer.seen, "RequestAuthenticationToken")
    assert [result for result, _inputs in calls] == ["XR_ERROR_SIZE_INSUFFICIENT", "XR_SUCCESS"]
    assert calls[0][1] == {"tokenCapacityIn": 1}
    ((_result, inputs),) = first_buffers(peer.seen, "ValidateServerCertificate")
    assert (inputs["systemValidationResult"] is None) == (variant == "twin-no-system-result")


def test_a_runtime_that_keeps_listening_after_a_refused_token_still_ends_listen_once(
    files: Files, xr_runtimes: dict[str, BuiltRuntime], tmp_path: Path
) -> None:
    """The runtime says nothing to the server about the refused client (the spec names
    AUTHENTICATION_FAILED a client's reason): `listen --once` still exits 3 with
    AUTHENTICATION_FAILED, as on the built-in runtime."""
    wrong = tmp_path / "wrong-token.txt"
    wrong.write_text("silent-wrong-token-8Gq2\n")
    listener = listen(xr_runtimes["silent-refusal-player"].manifest, files)
    try:
        listening = listener.wait_event("listening")
        assert listening is not None, listener.text
        peer = connect(
            None, int(listening["port"]), "--token-file", str(wrong), "--ca-file", str(files.ca)
        )
        client_exit = peer.finish(WAIT_S)
        server_exit = listener.finish(WAIT_S)
    finally:
        listener.kill()
    assert (client_exit, reasons(peer.seen)) == (3, [REASON("AUTHENTICATION_FAILED")])
    assert (server_exit, reasons(listener.seen)) == (3, [REASON("AUTHENTICATION_FAILED")])
    for secret in (files.token, "silent-wrong-token-8Gq2", files.pki.passphrase):
        assert secret not in listener.text + peer.text


def test_instance_loss_ends_connect_with_internal_error(
    files: Files, xr_runtimes: dict[str, BuiltRuntime]
) -> None:
    """The runtime loses the instance while connected: `connect --hold 30` does not
    wait out its hold; it exits 3 with INTERNAL_ERROR and says what happened."""
    listener = listen(None, files)
    try:
        listening = listener.wait_event("listening")
        assert listening is not None, listener.text
        peer = Process(
            "connect",
            f"127.0.0.1:{listening['port']}",
            "--json",
            "--hold",
            "30",
            "--runtime",
            "openxr",
            "--runtime-json",
            str(xr_runtimes["instance-loss"].manifest),
            "--token-file",
            str(files.token_file),
            "--ca-file",
            str(files.ca),
        )
        client_exit = peer.finish(WAIT_S)
    finally:
        listener.kill()
    assert client_exit == 3, peer.text
    assert {"event": "connected"} in peer.seen
    assert reasons(peer.seen) == [REASON("INTERNAL_ERROR")]
    notes = [e["message"] for e in peer.seen if e.get("event") == "note"]
    assert any("lost the instance (XrEventDataInstanceLossPending)" in n for n in notes), notes


# --- runtime selection through the CLI ----------------------------------------------------


def connect_with(files: Files, *runtime: str) -> tuple[int, str, str]:
    result = run_cli(
        "connect", "127.0.0.1:9", "--token-file", str(files.token_file), *runtime, timeout=WAIT_S
    )
    return result.returncode, result.stdout, result.stderr


def test_auto_without_any_openxr_runtime_takes_the_builtin_one_and_says_so(
    files: Files,
) -> None:
    code, out, err = connect_with(files, "--runtime", "auto")
    # Nothing listens on port 9: the built-in runtime ran and reported why it failed.
    assert code == 3, out + err
    assert out.splitlines()[0] == NO_RUNTIME
    assert REASON("HANDSHAKE_CONNECTION_REFUSED") in out


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", "{path}: the OpenXR runtime manifest does not exist"),
        ("invalid-json", "{path}: the OpenXR runtime manifest is not valid JSON"),
        (
            "no-library-path",
            '{path}: the manifest has no "runtime.library_path"; not an OpenXR runtime manifest',
        ),
        (
            "no-extension",
            "OpenXR runtime 'holoremote test runtime (no ext)' (from {path}) does not offer "
            "XR_MSFT_holographic_remoting",
        ),
        (
            "missing-function",
            "OpenXR runtime 'holoremote test runtime' offers XR_MSFT_holographic_remoting but "
            "has no xrRemotingGetConnectionStateMSFT (xrGetInstanceProcAddr returned "
            "XR_ERROR_FUNCTION_UNSUPPORTED)",
        ),
    ],
)
def test_each_selection_error_exits_2_with_its_message(
    case: str,
    expected: str,
    files: Files,
    xr_runtimes: dict[str, BuiltRuntime],
    tmp_path: Path,
) -> None:
    if case in xr_runtimes:
        path = xr_runtimes[case].manifest
    else:
        path = tmp_path / "RemotingXR.json"
        if case == "invalid-json":
            path.write_text('{"runtime": ')
        elif case == "no-library-path":
            path.write_text(json.dumps({"file_format_version": "1.0.0", "runtime": {"name": "x"}}))
    code, out, err = connect_with(files, "--runtime", "openxr", "--runtime-json", str(path))
    assert code == 2, out + err
    assert out == ""
    first = err.splitlines()[0]
    assert first.startswith("holoremote connect: --runtime: ")
    assert expected.format(path=path) in first
    assert "fix: " in err
    assert files.token not in out + err


def test_a_missing_manifest_is_an_error_under_auto_too(files: Files, tmp_path: Path) -> None:
    path = tmp_path / "gone.json"
    code, out, err = connect_with(files, "--runtime", "auto", "--runtime-json", str(path))
    assert code == 2, out + err
    assert f"{path}: the OpenXR runtime manifest does not exist" in err

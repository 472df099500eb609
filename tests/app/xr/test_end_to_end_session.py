"""The whole chain in one process, driven through `Session`:

app -> pyopenxr's Khronos loader -> test runtime (shim + Python body) -> built-in
engine -> the runtime's relays -> the app's callbacks through their function pointers,

against a built-in runtime on the other end, and with both ends on the OpenXR path.
"""

from __future__ import annotations

import asyncio

import pytest

from app.endpoint.runtime_choice import create_runtime
from app.endpoint.session import Session
from app.remoting.builtin import BuiltinRuntime
from app.remoting.openxr.errors import OpenXRCallError
from app.remoting.openxr.runtime import OpenXRRuntime
from app.xr.records import CallbackRecord
from app.xr.values import Result
from tests.app.xr.conftest import installed
from tests.app.xr.e2e_support import (
    Secrets,
    builtin,
    make_secrets,
    openxr,
    records,
    run_clean_connection,
)
from tests.support.openxr_runtime.build import BuiltRuntime


@pytest.fixture(scope="module")
def shared() -> Secrets:
    return make_secrets()


def assert_four_callbacks(
    server: Session, client: Session, *, openxr_client: bool, openxr_server: bool, secrets: Secrets
) -> None:
    def calls(session: Session, name: str) -> list[CallbackRecord]:
        return [r for r in records(session) if r.callback == name]

    # Each callback succeeded exactly once, in the order the protocol implies: the
    # server's certificate, the client's check of it, the token, the server's check.
    succeeded = sorted(
        (r for r in records(client) + records(server) if r.result_name == "XR_SUCCESS"),
        key=lambda r: r.started_at,
    )
    assert [r.callback for r in succeeded] == [
        "RequestServerCertificate",
        "ValidateServerCertificate",
        "RequestAuthenticationToken",
        "ValidateAuthenticationToken",
    ]
    token_calls = calls(client, "RequestAuthenticationToken")
    store_calls = calls(server, "RequestServerCertificate")
    if openxr_client:
        # The runtime offered a 1-byte token buffer; the app asked for more.
        assert [r.result_name for r in token_calls] == ["XR_ERROR_SIZE_INSUFFICIENT", "XR_SUCCESS"]
        assert token_calls[0].inputs["tokenCapacityIn"] == 1
        assert token_calls[1].inputs["tokenCapacityIn"] == len(secrets.token) + 1
    if openxr_server:
        assert [r.result_name for r in store_calls] == ["XR_ERROR_SIZE_INSUFFICIENT", "XR_SUCCESS"]
        assert store_calls[0].inputs["certStoreCapacityIn"] == 1
        assert store_calls[0].inputs["keyPassphraseCapacityIn"] == 1
        assert store_calls[0].inputs["subjectNameCapacityIn"] == 1
    # The chain arrived as DER, leaf first, whole.
    validation = next(r for r in records(client) if r.callback == "ValidateServerCertificate")
    assert validation.chain[0] == secrets.pki.server.der
    assert len(validation.chain) >= 2
    # Secrecy: no record carries the token or the passphrase.
    for record in records(client) + records(server):
        text = repr(record.to_json())
        assert secrets.token not in text
        assert secrets.pki.passphrase not in text


@pytest.mark.parametrize("variant", ["full", "no-system-result"])
def test_openxr_client_against_builtin_server(
    xr_runtimes: dict[str, BuiltRuntime], shared: Secrets, variant: str
) -> None:
    built = xr_runtimes[variant]
    server, client = asyncio.run(run_clean_connection(shared, builtin("player")(), openxr(built)()))
    assert_four_callbacks(server, client, openxr_client=True, openxr_server=False, secrets=shared)
    trace = installed(built).trace
    assert ("RequestAuthenticationToken", 1) in trace.callback_capacities
    validation = next(r for r in records(client) if r.callback == "ValidateServerCertificate")
    if variant == "full":
        assert trace.system_result_passed[-1] is True
        assert validation.inputs["systemValidationResult"] is not None
    else:
        assert trace.system_result_passed[-1] is False
        assert validation.inputs["systemValidationResult"] is None


def test_openxr_server_against_builtin_client(
    xr_runtimes: dict[str, BuiltRuntime], shared: Secrets
) -> None:
    built = xr_runtimes["player"]
    server, client = asyncio.run(run_clean_connection(shared, openxr(built)(), builtin("remote")()))
    assert_four_callbacks(server, client, openxr_client=False, openxr_server=True, secrets=shared)
    assert ("RequestServerCertificate", 1) in installed(built).trace.callback_capacities


def test_a_second_openxr_instance_in_one_process_is_refused_clearly(
    xr_runtimes: dict[str, BuiltRuntime],
) -> None:
    first = openxr(xr_runtimes["full"])()
    try:
        with pytest.raises(OpenXRCallError) as caught:
            create_runtime("openxr", str(xr_runtimes["player"].manifest))
        assert caught.value.result == Result.ERROR_LIMIT_REACHED
        assert "one XrInstance per process" in (caught.value.fix or "")
    finally:
        first.close()
    # Once the first is closed, the loader takes the other runtime.
    second, _why = create_runtime("openxr", str(xr_runtimes["player"].manifest))
    second.close()


def test_auto_takes_the_openxr_runtime_that_offers_the_extension(
    xr_runtimes: dict[str, BuiltRuntime],
) -> None:
    built = xr_runtimes["full"]
    runtime, why = create_runtime("auto", str(built.manifest))
    try:
        assert isinstance(runtime, OpenXRRuntime)
        assert why == (
            f"OpenXR runtime 'holoremote test runtime' from {built.manifest} offers "
            "XR_MSFT_holographic_remoting"
        )
    finally:
        runtime.close()


def test_auto_without_any_runtime_takes_the_builtin_one() -> None:
    runtime, why = create_runtime("auto", None)
    try:
        assert isinstance(runtime, BuiltinRuntime)
        assert why == (
            "built-in runtime: no OpenXR runtime found "
            "(XR_RUNTIME_JSON unset and no active_runtime.json)"
        )
    finally:
        runtime.close()


def test_auto_with_a_runtime_without_the_extension_takes_the_builtin_one(
    xr_runtimes: dict[str, BuiltRuntime],
) -> None:
    built = xr_runtimes["no-extension"]
    runtime, why = create_runtime("auto", str(built.manifest))
    try:
        assert isinstance(runtime, BuiltinRuntime)
        assert why == (
            "built-in runtime: OpenXR runtime 'holoremote test runtime (no ext)' from "
            f"{built.manifest} does not offer XR_MSFT_holographic_remoting"
        )
    finally:
        runtime.close()

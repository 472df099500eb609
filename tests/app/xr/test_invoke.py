"""The runtime side: calling an app's callbacks through function pointers, and not
believing what a misbehaving callback writes."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import pytest

from app.endpoint.callbacks import (
    SecureConnectionCallbacks,
    fixed_server_certificate,
    fixed_token,
    system_result_validator,
)
from app.xr import invoke, structs
from app.xr.callback_types import ServerCertificateMaterial
from app.xr.validation_result import ValidationResult
from app.xr.values import CertificateNameValidationResult as NameCheck
from app.xr.values import Result

SUCCESS = int(Result.SUCCESS)
SIZE_INSUFFICIENT = int(Result.ERROR_SIZE_INSUFFICIENT)


def test_token_round_trip_takes_two_calls_when_the_first_buffer_is_short() -> None:
    with SecureConnectionCallbacks(token_provider=fixed_token("t" * 200)) as cb:
        outcome = invoke.request_authentication_token(cb.client_callbacks(), initial_capacity=1)
        assert outcome.ok and outcome.value == "t" * 200 and outcome.calls == 2
        outcome = invoke.request_authentication_token(cb.client_callbacks(), initial_capacity=512)
        assert outcome.ok and outcome.calls == 1


def test_certificate_round_trip_with_one_byte_first_buffers() -> None:
    material = ServerCertificateMaterial(b"\x30\x82" * 900, "secret", "server")
    with SecureConnectionCallbacks(
        server_certificate_provider=fixed_server_certificate(material)
    ) as cb:
        outcome = invoke.request_server_certificate(
            cb.server_callbacks(realm="r"), initial_store_capacity=1, initial_string_capacity=1
        )
    assert outcome.ok and outcome.calls == 2
    assert outcome.value == material
    assert outcome.value is not None and outcome.value.key_passphrase == "secret"


def test_validation_and_token_validation_round_trip() -> None:
    with SecureConnectionCallbacks(
        certificate_validator=system_result_validator, token_validator=lambda t: t == "ok"
    ) as cb:
        system = ValidationResult(trusted_root=True, name_mismatch=NameCheck.MATCH)
        outcome = invoke.validate_server_certificate(
            cb.client_callbacks(),
            host_name="h",
            chain=(b"a", b"b"),
            force_revocation_check=False,
            system_result=system,
        )
        assert outcome.ok and outcome.value == system
        server = cb.server_callbacks(realm="r")
        assert invoke.validate_authentication_token(server, "ok").value is True
        assert invoke.validate_authentication_token(server, "no").value is False


def test_validation_that_writes_nothing_reads_as_refusal() -> None:
    @structs.PFN_xrRemotingValidateServerCertificateCallbackMSFT
    def lazy(pointer: Any) -> int:
        return SUCCESS

    callbacks = structs.XrRemotingSecureConnectionClientCallbacksMSFT(
        validateServerCertificateCallback=lazy
    )
    outcome = invoke.validate_server_certificate(
        callbacks, host_name="h", chain=(b"a",), force_revocation_check=False, system_result=None
    )
    assert outcome.value is not None
    assert outcome.value.trusted_root is False
    assert outcome.value.invalid_cert_or_chain is True


def test_invalid_name_value_reads_as_mismatch() -> None:
    @structs.PFN_xrRemotingValidateServerCertificateCallbackMSFT
    def garbage(pointer: Any) -> int:
        pointer.contents.validationResultOut.trustedRoot = 1
        pointer.contents.validationResultOut.invalidCertOrChain = 0
        pointer.contents.validationResultOut.nameMismatch = 77
        return SUCCESS

    callbacks = structs.XrRemotingSecureConnectionClientCallbacksMSFT(
        validateServerCertificateCallback=garbage
    )
    outcome = invoke.validate_server_certificate(
        callbacks, host_name="h", chain=(b"a",), force_revocation_check=False, system_result=None
    )
    assert outcome.value is not None and outcome.value.name_mismatch == NameCheck.MISMATCH


def _token_callback(behaviour: Callable[[Any], int]) -> Any:
    fn = structs.PFN_xrRemotingRequestAuthenticationTokenCallbackMSFT(behaviour)
    return structs.XrRemotingSecureConnectionClientCallbacksMSFT(
        requestAuthenticationTokenCallback=fn
    ), fn


def _asks_for(size: int) -> Callable[[Any], int]:
    def behaviour(pointer: Any) -> int:
        pointer.contents.tokenSizeOut = size
        return SIZE_INSUFFICIENT

    return behaviour


def _writes(data: bytes, size_out: int) -> Callable[[Any], int]:
    def behaviour(pointer: Any) -> int:
        request = pointer.contents
        if request.tokenCapacityIn < len(data):
            request.tokenSizeOut = len(data)
            return SIZE_INSUFFICIENT
        ctypes.memmove(request.tokenBuffer, data, len(data))
        request.tokenSizeOut = size_out
        return SUCCESS

    return behaviour


@pytest.mark.parametrize(
    ("behaviour", "problem"),
    [
        (_asks_for(1025), "at most 1024"),
        (_asks_for(10), "grants more than 64"),
        (_writes(b"abc", 3), "not NUL-terminated"),
        (_writes(b"abc\0", 100), "outside the buffer"),
        (_writes(b"a\0c\0", 4), "NUL byte before its end"),
        (_writes(b"\xff\xfe\0", 3), "utf-8"),
    ],
)
def test_misbehaving_token_callbacks_are_not_believed(
    behaviour: Callable[[Any], int], problem: str
) -> None:
    callbacks, _keep = _token_callback(behaviour)
    outcome = invoke.request_authentication_token(callbacks, initial_capacity=64)
    assert not outcome.ok
    assert problem in (outcome.problem or "")


def test_second_size_insufficient_is_a_failure() -> None:
    callbacks, _keep = _token_callback(_asks_for(100))
    outcome = invoke.request_authentication_token(callbacks, initial_capacity=64)
    assert not outcome.ok
    assert outcome.calls == 2


def test_missing_function_pointers_are_reported() -> None:
    client = structs.XrRemotingSecureConnectionClientCallbacksMSFT()
    server = structs.XrRemotingSecureConnectionServerCallbacksMSFT()
    assert "no RequestAuthenticationToken" in (
        invoke.request_authentication_token(client).problem or ""
    )
    assert "no ValidateServerCertificate" in (
        invoke.validate_server_certificate(
            client, host_name="h", chain=(), force_revocation_check=False, system_result=None
        ).problem
        or ""
    )
    assert "no ValidateAuthenticationToken" in (
        invoke.validate_authentication_token(server, "t").problem or ""
    )
    assert "no RequestServerCertificate" in (
        invoke.request_server_certificate(server).problem or ""
    )


def test_certificate_callback_asking_for_too_much_is_refused() -> None:
    @structs.PFN_xrRemotingRequestServerCertificateCallbackMSFT
    def greedy(pointer: Any) -> int:
        pointer.contents.certStoreSizeOut = (1 << 20) + 1
        return SIZE_INSUFFICIENT

    server = structs.XrRemotingSecureConnectionServerCallbacksMSFT(
        requestServerCertificateCallback=greedy
    )
    outcome = invoke.request_server_certificate(server)
    assert not outcome.ok and "certStore" in (outcome.problem or "")

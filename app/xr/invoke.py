"""The runtime side of the callbacks: call an application's callbacks through the
function pointers it registered, with structs laid out as the specification says,
running the two-call idiom as a runtime must.

The built-in runtime uses this, so the app's trampolines are exercised the same way
whichever runtime runs. Everything a callback writes is checked before it is
believed: sizes within capacity, terminators present, sizes within the limits.
Buffers that held secrets are zeroed before they are released.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from app.xr import limits
from app.xr.callback_types import ServerCertificateMaterial
from app.xr.structs import (
    XrRemotingAuthenticationTokenRequestMSFT,
    XrRemotingAuthenticationTokenValidationMSFT,
    XrRemotingCertificateDataMSFT,
    XrRemotingCertificateValidationResultMSFT,
    XrRemotingSecureConnectionClientCallbacksMSFT,
    XrRemotingSecureConnectionServerCallbacksMSFT,
    XrRemotingServerCertificateRequestMSFT,
    XrRemotingServerCertificateValidationMSFT,
)
from app.xr.validation_result import ValidationResult
from app.xr.validation_result_struct import fail_closed_verdict, read_verdict, write_verdict
from app.xr.values import XR_FALSE, XR_TRUE, Result

T = TypeVar("T")

SUCCESS = int(Result.SUCCESS)
SIZE_INSUFFICIENT = int(Result.ERROR_SIZE_INSUFFICIENT)
CALLBACK_ERROR = int(Result.ERROR_REMOTING_CALLBACK_ERROR_MSFT)


@dataclass(frozen=True)
class Invocation(Generic[T]):
    """Outcome of calling one callback (both calls of the idiom, if it took two).

    `value` is set only when `result` is XR_SUCCESS and everything written checked
    out. `problem` says in plain words why not, without secret content.
    """

    result: int
    value: T | None = field(default=None, repr=False)
    problem: str | None = None
    calls: int = 1

    @property
    def ok(self) -> bool:
        return self.result == SUCCESS and self.value is not None


def _zero(buffer: Any, size: int) -> None:
    if size:
        ctypes.memset(buffer, 0, size)


def _terminated_text(buffer: Any, size_out: int, capacity: int, what: str) -> str:
    if size_out < 1 or size_out > capacity:
        raise ValueError(f"{what}: size {size_out} is outside the buffer's capacity {capacity}")
    raw = ctypes.string_at(buffer, size_out)
    if raw[-1:] != b"\0":
        raise ValueError(f"{what}: the string is not NUL-terminated at its reported size")
    text = raw[:-1]
    if b"\0" in text:
        raise ValueError(f"{what}: the string contains a NUL byte before its end")
    return text.decode("utf-8")


# --- client callbacks ----------------------------------------------------------------


def request_authentication_token(
    callbacks: XrRemotingSecureConnectionClientCallbacksMSFT,
    *,
    initial_capacity: int = limits.INITIAL_STRING_CAPACITY,
) -> Invocation[str]:
    function = callbacks.requestAuthenticationTokenCallback
    if not function:
        return Invocation(CALLBACK_ERROR, problem="no RequestAuthenticationToken callback is set")
    capacity = initial_capacity
    for call in (1, 2):
        allocated_capacity = capacity
        buffer = ctypes.create_string_buffer(capacity) if capacity else None
        request = XrRemotingAuthenticationTokenRequestMSFT(
            context=callbacks.context,
            tokenCapacityIn=capacity,
            tokenSizeOut=0,
            tokenBuffer=ctypes.cast(buffer, ctypes.POINTER(ctypes.c_char)) if buffer else None,
        )
        try:
            result = function(ctypes.byref(request))
            size_out = request.tokenSizeOut
            if result == SIZE_INSUFFICIENT and call == 1:
                if size_out <= capacity or size_out > limits.MAX_STRING_BUFFER:
                    return Invocation(
                        result,
                        problem=f"the callback asked for a {size_out}-byte token buffer; "
                        f"a runtime grants more than {capacity} and at most "
                        f"{limits.MAX_STRING_BUFFER}",
                        calls=call,
                    )
                capacity = size_out
                continue
            if result != SUCCESS:
                return Invocation(
                    result, problem="the callback refused to provide a token", calls=call
                )
            try:
                token = _terminated_text(buffer, size_out, capacity, "token")
            except (ValueError, UnicodeDecodeError) as exc:
                return Invocation(CALLBACK_ERROR, problem=str(exc), calls=call)
            return Invocation(result, token, calls=call)
        finally:
            if buffer is not None:
                _zero(buffer, allocated_capacity)
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class _ChainArgs:
    """Keeps every buffer alive for the duration of the call."""

    array: Any
    buffers: list[Any]


def _chain_array(chain: tuple[bytes, ...]) -> _ChainArgs:
    buffers = [(ctypes.c_uint8 * len(der)).from_buffer_copy(der) for der in chain]
    array = (XrRemotingCertificateDataMSFT * max(len(chain), 1))()
    for index, (der, buf) in enumerate(zip(chain, buffers, strict=True)):
        array[index] = XrRemotingCertificateDataMSFT(
            size=len(der), data=ctypes.cast(buf, ctypes.POINTER(ctypes.c_uint8))
        )
    return _ChainArgs(array, buffers)


def validate_server_certificate(
    callbacks: XrRemotingSecureConnectionClientCallbacksMSFT,
    *,
    host_name: str,
    chain: tuple[bytes, ...],
    force_revocation_check: bool,
    system_result: ValidationResult | None,
) -> Invocation[ValidationResult]:
    """Call ValidateServerCertificate; the returned verdict is what the callback wrote
    to `validationResultOut` (pre-set to a refusing verdict)."""
    function = callbacks.validateServerCertificateCallback
    if not function:
        return Invocation(CALLBACK_ERROR, problem="no ValidateServerCertificate callback is set")
    args = _chain_array(chain)
    host = host_name.encode("utf-8")
    system_struct = None
    if system_result is not None:
        system_struct = XrRemotingCertificateValidationResultMSFT()
        write_verdict(system_struct, system_result)
    request = XrRemotingServerCertificateValidationMSFT(
        context=callbacks.context,
        hostName=host,
        forceRevocationCheck=XR_TRUE if force_revocation_check else XR_FALSE,
        numCertificates=len(chain),
        certificates=ctypes.cast(args.array, ctypes.POINTER(XrRemotingCertificateDataMSFT)),
        systemValidationResult=ctypes.pointer(system_struct) if system_struct else None,
    )
    write_verdict(request.validationResultOut, fail_closed_verdict())
    result = function(ctypes.byref(request))
    verdict = read_verdict(request.validationResultOut)
    if result != SUCCESS:
        return Invocation(result, verdict, problem="the certificate validation callback failed")
    return Invocation(result, verdict)


# --- server callbacks ----------------------------------------------------------------


def validate_authentication_token(
    callbacks: XrRemotingSecureConnectionServerCallbacksMSFT, token: str
) -> Invocation[bool]:
    """Call ValidateAuthenticationToken. `value` is True only for XR_SUCCESS with
    tokenValidOut set; the token buffer is zeroed afterwards."""
    function = callbacks.validateAuthenticationTokenCallback
    if not function:
        return Invocation(CALLBACK_ERROR, problem="no ValidateAuthenticationToken callback is set")
    data = token.encode("utf-8")
    buffer = ctypes.create_string_buffer(data, len(data) + 1)
    try:
        request = XrRemotingAuthenticationTokenValidationMSFT(
            context=callbacks.context,
            token=ctypes.cast(buffer, ctypes.POINTER(ctypes.c_char)),
            tokenValidOut=XR_FALSE,
        )
        result = function(ctypes.byref(request))
        valid = result == SUCCESS and request.tokenValidOut == XR_TRUE
        if result != SUCCESS:
            return Invocation(result, False, problem="the token validation callback failed")
        return Invocation(result, valid)
    finally:
        _zero(buffer, len(data) + 1)


def request_server_certificate(
    callbacks: XrRemotingSecureConnectionServerCallbacksMSFT,
    *,
    initial_store_capacity: int = limits.INITIAL_CERT_STORE_CAPACITY,
    initial_string_capacity: int = limits.INITIAL_STRING_CAPACITY,
) -> Invocation[ServerCertificateMaterial]:
    function = callbacks.requestServerCertificateCallback
    if not function:
        return Invocation(CALLBACK_ERROR, problem="no RequestServerCertificate callback is set")
    capacities = [initial_store_capacity, initial_string_capacity, initial_string_capacity]
    maxima = (limits.MAX_CERT_STORE_BYTES, limits.MAX_STRING_BUFFER, limits.MAX_STRING_BUFFER)
    names = ("certStore", "keyPassphrase", "subjectName")
    for call in (1, 2):
        allocated = tuple(capacities)
        store = (ctypes.c_uint8 * capacities[0])() if capacities[0] else None
        passphrase = ctypes.create_string_buffer(capacities[1]) if capacities[1] else None
        subject = ctypes.create_string_buffer(capacities[2]) if capacities[2] else None
        request = XrRemotingServerCertificateRequestMSFT(
            context=callbacks.context,
            certStoreCapacityIn=capacities[0],
            certStoreBuffer=ctypes.cast(store, ctypes.POINTER(ctypes.c_uint8)) if store else None,
            keyPassphraseCapacityIn=capacities[1],
            keyPassphraseBuffer=(
                ctypes.cast(passphrase, ctypes.POINTER(ctypes.c_char)) if passphrase else None
            ),
            subjectNameCapacityIn=capacities[2],
            subjectNameBuffer=(
                ctypes.cast(subject, ctypes.POINTER(ctypes.c_char)) if subject else None
            ),
        )
        try:
            result = function(ctypes.byref(request))
            sizes = (
                request.certStoreSizeOut,
                request.keyPassphraseSizeOut,
                request.subjectNameSizeOut,
            )
            if result == SIZE_INSUFFICIENT and call == 1:
                for name, size, maximum in zip(names, sizes, maxima, strict=True):
                    if size > maximum:
                        return Invocation(
                            result,
                            problem=f"the callback asked for a {size}-byte {name} buffer; "
                            f"at most {maximum} is granted",
                            calls=call,
                        )
                if all(size <= cap for size, cap in zip(sizes, capacities, strict=True)):
                    return Invocation(
                        result,
                        problem="the callback reported SIZE_INSUFFICIENT but every buffer "
                        "was already large enough",
                        calls=call,
                    )
                capacities = [max(s, c) for s, c in zip(sizes, capacities, strict=True)]
                continue
            if result != SUCCESS:
                return Invocation(
                    result, problem="the callback refused to provide a certificate", calls=call
                )
            try:
                if store is None or sizes[0] < 1 or sizes[0] > capacities[0]:
                    raise ValueError(
                        f"certStore: size {sizes[0]} is outside the capacity {capacities[0]}"
                    )
                material = ServerCertificateMaterial(
                    cert_store=ctypes.string_at(store, sizes[0]),
                    key_passphrase=_terminated_text(
                        passphrase, sizes[1], capacities[1], "keyPassphrase"
                    ),
                    subject_name=_terminated_text(subject, sizes[2], capacities[2], "subjectName"),
                )
            except (ValueError, UnicodeDecodeError) as exc:
                return Invocation(CALLBACK_ERROR, problem=str(exc), calls=call)
            return Invocation(result, material, calls=call)
        finally:
            if passphrase is not None:
                _zero(passphrase, allocated[1])
    raise AssertionError("unreachable")  # pragma: no cover

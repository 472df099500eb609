"""C-callable static trampolines for the four secure-connection callbacks.

As in the seed page, a runtime calls one static function per callback with a struct
whose `context` field holds a pointer-size value the application chose. Here that
value is a small integer handle registered in this module (never `id()` of an
object, which could be reused after collection), mapped back to the Python handler.

Fail closed, always: ctypes turns a Python exception inside a callback into a return
value of 0, which is XR_SUCCESS, which would accept a token or certificate nobody
checked. So every trampoline catches everything and returns XR_ERROR_RUNTIME_FAILURE,
and every output the runtime will read is set to its refusing value *before* any
Python code that could fail runs.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from app.errors import HoloremoteError
from app.xr import limits
from app.xr.callback_types import (
    CallbackRefusal,
    CertificateValidationRequest,
    ServerCertificateMaterial,
)
from app.xr.masking import mask_secret
from app.xr.records import CallbackRecord
from app.xr.structs import (
    PFN_xrRemotingRequestAuthenticationTokenCallbackMSFT,
    PFN_xrRemotingRequestServerCertificateCallbackMSFT,
    PFN_xrRemotingValidateAuthenticationTokenCallbackMSFT,
    PFN_xrRemotingValidateServerCertificateCallbackMSFT,
    XrRemotingAuthenticationTokenRequestMSFT,
    XrRemotingAuthenticationTokenValidationMSFT,
    XrRemotingSecureConnectionClientCallbacksMSFT,
    XrRemotingSecureConnectionServerCallbacksMSFT,
    XrRemotingServerCertificateRequestMSFT,
    XrRemotingServerCertificateValidationMSFT,
)
from app.xr.validation_result import ValidationResult
from app.xr.validation_result_struct import fail_closed_verdict, read_verdict, write_verdict
from app.xr.values import XR_FALSE, XR_TRUE, Result, StructureType

log = logging.getLogger(__name__)

SUCCESS = int(Result.SUCCESS)
RUNTIME_FAILURE = int(Result.ERROR_RUNTIME_FAILURE)
SIZE_INSUFFICIENT = int(Result.ERROR_SIZE_INSUFFICIENT)
VALIDATION_FAILURE = int(Result.ERROR_VALIDATION_FAILURE)


class CallbackHandler(Protocol):
    """What a context object must offer, in plain Python values of this package.

    Defined here, beside the trampolines that call it, so that `app.xr` depends on
    nothing above it; `app.endpoint.callbacks.SecureConnectionCallbacks` implements
    it with the providers the session chose."""

    def request_authentication_token(self) -> str: ...

    def validate_server_certificate(
        self, request: CertificateValidationRequest
    ) -> ValidationResult: ...

    def validate_authentication_token(self, token: str) -> bool: ...

    def request_server_certificate(self) -> ServerCertificateMaterial: ...

    def record_call(self, record: CallbackRecord) -> None: ...


# --- context handles -------------------------------------------------------------

_registry_lock = threading.Lock()
_registry: dict[int, CallbackHandler] = {}
# Start far from 0 and small pointers, so a stray small integer is not a valid handle.
_handles = itertools.count(0x5EC0_0001)


def register_context(handler: CallbackHandler) -> int:
    """Return the pointer-size value to put in the callback structs' `context`."""
    with _registry_lock:
        handle = next(_handles)
        _registry[handle] = handler
        return handle


def unregister_context(handle: int) -> None:
    with _registry_lock:
        _registry.pop(handle, None)


def _lookup(context: int | None) -> CallbackHandler | None:
    if not context:
        return None
    with _registry_lock:
        return _registry.get(context)


# --- helpers ---------------------------------------------------------------------


def read_c_string(pointer: Any, limit: int, what: str) -> str:
    """Read a NUL-terminated UTF-8 string of at most `limit` bytes including the NUL.

    Reads byte by byte so that a string without a terminator is refused rather than
    read past its end.
    """
    raw = bytearray()
    for index in range(limit):
        byte = pointer[index]
        if byte == b"\0":
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CallbackRefusal(f"{what} is not valid UTF-8") from None
        raw += byte
    raise CallbackRefusal(f"{what} is longer than {limit - 1} bytes or not NUL-terminated")


def raw_char_pointer(struct: ctypes.Structure, field: str) -> Any:
    """The `const char*` in a c_char_p field as a bounded-readable pointer.

    Reading a c_char_p field makes ctypes run strlen on it, unbounded; this reads the
    pointer value itself instead.
    """
    offset = getattr(type(struct), field).offset
    address = ctypes.c_void_p.from_address(ctypes.addressof(struct) + offset).value or 0
    return ctypes.cast(address, ctypes.POINTER(ctypes.c_char))


def _encode(value: str, what: str) -> bytes:
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:
        raise CallbackRefusal(f"{what} cannot be encoded as UTF-8") from None
    if b"\0" in data:
        raise CallbackRefusal(f"{what} contains a NUL byte")
    return data


def _describe_exception(exc: BaseException) -> str:
    """A secret-free description: our own errors are written to be shown; for others
    only the type is kept unless the message is known to carry no input text."""
    if isinstance(exc, CallbackRefusal):
        return exc.reason
    if isinstance(exc, HoloremoteError):
        return str(exc)
    if isinstance(exc, UnicodeError):
        return f"{type(exc).__name__}: text is not valid UTF-8"
    return f"{type(exc).__name__}: {exc}"[:300]


Body = Callable[[Any, CallbackHandler, dict[str, Any], dict[str, Any], list[bytes]], int]


def _run(
    name: str, expected: StructureType, pointer: Any, prepare: Callable[[Any], None], body: Body
) -> int:
    """Common frame of every trampoline: null checks, fail-closed outputs, the record,
    and the catch-all. Never raises."""
    try:
        if not pointer:
            log.warning("%s called with a null struct pointer", name)
            return RUNTIME_FAILURE
        struct = pointer.contents
        prepare(struct)  # fail-closed outputs first
        handler = _lookup(struct.context)
        if handler is None:
            log.warning("%s called with a null or unknown context", name)
            return RUNTIME_FAILURE
    except BaseException:  # noqa: BLE001 - nothing may escape into C
        return RUNTIME_FAILURE

    inputs: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    chain: list[bytes] = []
    started = time.time()
    clock = time.perf_counter()
    error: str | None = None
    try:
        if struct.type != int(expected):
            raise CallbackRefusal(
                f"struct type is {struct.type}, expected {expected.spec_name}",
                VALIDATION_FAILURE,
            )
        result = body(struct, handler, inputs, outputs, chain)
    except CallbackRefusal as exc:
        result = exc.result if exc.result < 0 else RUNTIME_FAILURE
        error = exc.reason
    except BaseException as exc:  # noqa: BLE001 - fail closed, record why
        result = RUNTIME_FAILURE
        error = _describe_exception(exc)
    if result not in (SUCCESS, SIZE_INSUFFICIENT):
        try:
            prepare(struct)  # a failed call leaves only refusing values behind
        except BaseException:  # noqa: BLE001
            result = RUNTIME_FAILURE
    try:
        handler.record_call(
            CallbackRecord(
                callback=name,
                started_at=started,
                duration_s=time.perf_counter() - clock,
                inputs=inputs,
                outputs=outputs,
                result=result,
                error=error,
                chain=tuple(chain),
            )
        )
    except BaseException:  # noqa: BLE001 - a broken record sink must not accept anything
        log.warning("%s: recording the call failed", name)
    return result


# --- RequestAuthenticationToken (client) ------------------------------------------


def _prepare_token_request(req: XrRemotingAuthenticationTokenRequestMSFT) -> None:
    req.tokenSizeOut = 0


def _token_request(
    req: XrRemotingAuthenticationTokenRequestMSFT,
    handler: CallbackHandler,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    _chain: list[bytes],
) -> int:
    inputs["tokenCapacityIn"] = req.tokenCapacityIn
    token = handler.request_authentication_token()
    data = _encode(token, "the authentication token")
    needed = len(data) + 1
    outputs["tokenSizeOut"] = needed
    if needed > limits.MAX_STRING_BUFFER:
        raise CallbackRefusal(
            f"the authentication token is {len(data)} bytes; the specification allows at "
            f"most {limits.MAX_STRING_BUFFER - 1} (a {limits.MAX_STRING_BUFFER}-byte buffer "
            "with its terminator)"
        )
    req.tokenSizeOut = needed
    if req.tokenCapacityIn < needed:
        return SIZE_INSUFFICIENT
    if not req.tokenBuffer:
        raise CallbackRefusal("tokenBuffer is null although tokenCapacityIn is not 0")
    ctypes.memmove(req.tokenBuffer, data + b"\0", needed)
    outputs["token"] = mask_secret(data)
    return SUCCESS


@PFN_xrRemotingRequestAuthenticationTokenCallbackMSFT  # type: ignore[untyped-decorator]
def request_authentication_token_trampoline(pointer: Any) -> int:
    return _run(
        "RequestAuthenticationToken",
        StructureType.REMOTING_AUTHENTICATION_TOKEN_REQUEST_MSFT,
        pointer,
        _prepare_token_request,
        _token_request,
    )


# --- ValidateServerCertificate (client) -------------------------------------------


def _prepare_certificate_validation(req: XrRemotingServerCertificateValidationMSFT) -> None:
    write_verdict(req.validationResultOut, fail_closed_verdict())


def _certificate_validation(
    req: XrRemotingServerCertificateValidationMSFT,
    handler: CallbackHandler,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    chain: list[bytes],
) -> int:
    host_pointer = raw_char_pointer(req, "hostName")
    host = (
        read_c_string(host_pointer, limits.MAX_HOST_NAME_BYTES, "hostName")
        if host_pointer
        else None
    )
    count = req.numCertificates
    inputs.update(
        hostName=host,
        forceRevocationCheck=bool(req.forceRevocationCheck),
        numCertificates=count,
    )
    if count > limits.MAX_CHAIN_CERTIFICATES:
        raise CallbackRefusal(
            f"numCertificates is {count}; at most {limits.MAX_CHAIN_CERTIFICATES} are accepted"
        )
    if count and not req.certificates:
        raise CallbackRefusal("certificates is null although numCertificates is not 0")
    sizes = []
    for index in range(count):
        item = req.certificates[index]
        if item.size > limits.MAX_CERTIFICATE_BYTES:
            raise CallbackRefusal(
                f"certificate {index} is {item.size} bytes; at most "
                f"{limits.MAX_CERTIFICATE_BYTES} are accepted"
            )
        if item.size and not item.data:
            raise CallbackRefusal(f"certificate {index} has a null data pointer")
        chain.append(ctypes.string_at(item.data, item.size) if item.size else b"")
        sizes.append(item.size)
    inputs["certificateSizes"] = sizes
    system = (
        read_verdict(req.systemValidationResult.contents) if req.systemValidationResult else None
    )
    inputs["systemValidationResult"] = system.to_json() if system else None
    verdict = handler.validate_server_certificate(
        CertificateValidationRequest(
            host_name=host,
            force_revocation_check=bool(req.forceRevocationCheck),
            chain=tuple(chain),
            system_result=system,
        )
    )
    if not isinstance(verdict, ValidationResult):
        raise CallbackRefusal("the certificate validator returned no verdict")
    write_verdict(req.validationResultOut, verdict)
    outputs["validationResultOut"] = verdict.to_json()
    return SUCCESS


@PFN_xrRemotingValidateServerCertificateCallbackMSFT  # type: ignore[untyped-decorator]
def validate_server_certificate_trampoline(pointer: Any) -> int:
    return _run(
        "ValidateServerCertificate",
        StructureType.REMOTING_SERVER_CERTIFICATE_VALIDATION_MSFT,
        pointer,
        _prepare_certificate_validation,
        _certificate_validation,
    )


# --- ValidateAuthenticationToken (server) -----------------------------------------


def _prepare_token_validation(req: XrRemotingAuthenticationTokenValidationMSFT) -> None:
    req.tokenValidOut = XR_FALSE


def _token_validation(
    req: XrRemotingAuthenticationTokenValidationMSFT,
    handler: CallbackHandler,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    _chain: list[bytes],
) -> int:
    if not req.token:
        inputs["token"] = mask_secret(None)
        outputs["tokenValidOut"] = False
        return SUCCESS  # validated: no token is not a valid token
    token = read_c_string(req.token, limits.MAX_STRING_BUFFER, "the authentication token")
    inputs["token"] = mask_secret(token)
    valid = handler.validate_authentication_token(token) is True
    req.tokenValidOut = XR_TRUE if valid else XR_FALSE
    outputs["tokenValidOut"] = valid
    return SUCCESS


@PFN_xrRemotingValidateAuthenticationTokenCallbackMSFT  # type: ignore[untyped-decorator]
def validate_authentication_token_trampoline(pointer: Any) -> int:
    return _run(
        "ValidateAuthenticationToken",
        StructureType.REMOTING_AUTHENTICATION_TOKEN_VALIDATION_MSFT,
        pointer,
        _prepare_token_validation,
        _token_validation,
    )


# --- RequestServerCertificate (server) --------------------------------------------


def _prepare_certificate_request(req: XrRemotingServerCertificateRequestMSFT) -> None:
    req.certStoreSizeOut = 0
    req.keyPassphraseSizeOut = 0
    req.subjectNameSizeOut = 0


def _certificate_request(
    req: XrRemotingServerCertificateRequestMSFT,
    handler: CallbackHandler,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    _chain: list[bytes],
) -> int:
    inputs.update(
        certStoreCapacityIn=req.certStoreCapacityIn,
        keyPassphraseCapacityIn=req.keyPassphraseCapacityIn,
        subjectNameCapacityIn=req.subjectNameCapacityIn,
    )
    material = handler.request_server_certificate()
    store = bytes(material.cert_store)
    passphrase = _encode(material.key_passphrase, "the key passphrase")
    subject = _encode(material.subject_name, "the subject name")
    if not store:
        raise CallbackRefusal("the certificate store is empty")
    if len(store) > limits.MAX_CERT_STORE_BYTES:
        raise CallbackRefusal(
            f"the certificate store is {len(store)} bytes; at most "
            f"{limits.MAX_CERT_STORE_BYTES} are accepted"
        )
    for what, data in (("key passphrase", passphrase), ("subject name", subject)):
        if len(data) + 1 > limits.MAX_STRING_BUFFER:
            raise CallbackRefusal(
                f"the {what} is {len(data)} bytes; at most {limits.MAX_STRING_BUFFER - 1} "
                "fit the specification's 1 KiB buffer"
            )
    sizes = (len(store), len(passphrase) + 1, len(subject) + 1)
    req.certStoreSizeOut, req.keyPassphraseSizeOut, req.subjectNameSizeOut = sizes
    outputs.update(
        certStoreSizeOut=sizes[0], keyPassphraseSizeOut=sizes[1], subjectNameSizeOut=sizes[2]
    )
    if (
        req.certStoreCapacityIn < sizes[0]
        or req.keyPassphraseCapacityIn < sizes[1]
        or req.subjectNameCapacityIn < sizes[2]
    ):
        return SIZE_INSUFFICIENT
    if not (req.certStoreBuffer and req.keyPassphraseBuffer and req.subjectNameBuffer):
        raise CallbackRefusal("a buffer pointer is null although its capacity is not 0")
    ctypes.memmove(req.certStoreBuffer, store, sizes[0])
    ctypes.memmove(req.keyPassphraseBuffer, passphrase + b"\0", sizes[1])
    ctypes.memmove(req.subjectNameBuffer, subject + b"\0", sizes[2])
    outputs.update(
        certStore=f"PKCS#12, {sizes[0]} bytes",
        keyPassphrase=mask_secret(passphrase),
        subjectName=material.subject_name,
    )
    return SUCCESS


@PFN_xrRemotingRequestServerCertificateCallbackMSFT  # type: ignore[untyped-decorator]
def request_server_certificate_trampoline(pointer: Any) -> int:
    return _run(
        "RequestServerCertificate",
        StructureType.REMOTING_SERVER_CERTIFICATE_REQUEST_MSFT,
        pointer,
        _prepare_certificate_request,
        _certificate_request,
    )


# --- the structs an application hands to xrRemotingSetSecureConnection*Callbacks ---


def client_callbacks_struct(
    context: int, *, perform_system_validation: bool
) -> XrRemotingSecureConnectionClientCallbacksMSFT:
    return XrRemotingSecureConnectionClientCallbacksMSFT(
        context=context,
        requestAuthenticationTokenCallback=request_authentication_token_trampoline,
        validateServerCertificateCallback=validate_server_certificate_trampoline,
        performSystemValidation=XR_TRUE if perform_system_validation else XR_FALSE,
    )


def server_callbacks_struct(
    context: int, *, realm: bytes
) -> XrRemotingSecureConnectionServerCallbacksMSFT:
    """`realm` must stay referenced by the caller while the struct is in use."""
    return XrRemotingSecureConnectionServerCallbacksMSFT(
        context=context,
        requestServerCertificateCallback=request_server_certificate_trampoline,
        validateAuthenticationTokenCallback=validate_authentication_token_trampoline,
        authenticationRealm=realm,
    )

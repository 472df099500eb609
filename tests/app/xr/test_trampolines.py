"""The four trampolines, called through the function pointers stored in the callback
structs, with structs allocated the way a runtime allocates them."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from app.endpoint.callbacks import (
    SecureConnectionCallbacks,
    fixed_server_certificate,
    fixed_token,
    system_result_validator,
)
from app.xr import structs
from app.xr.callback_types import (
    CallbackRefusal,
    CertificateValidationRequest,
    ServerCertificateMaterial,
)
from app.xr.records import CallbackRecord
from app.xr.validation_result import ValidationResult
from app.xr.values import CertificateNameValidationResult as NameCheck
from app.xr.values import Result

SUCCESS = int(Result.SUCCESS)
SIZE_INSUFFICIENT = int(Result.ERROR_SIZE_INSUFFICIENT)
RUNTIME_FAILURE = int(Result.ERROR_RUNTIME_FAILURE)

TOKEN = "correct horse battery staple"
STORE = bytes(range(256)) * 12  # 3072 bytes of binary data, NULs included
PASSPHRASE = "pässwörd"  # non-ASCII: sizes are UTF-8 bytes, not characters
SUBJECT = "holoremote test server"


def _pointer(function: Any, pfn_type: Any) -> Any:
    """Rebuild the callable from the raw address stored in the struct, as C would."""
    address = ctypes.cast(function, ctypes.c_void_p).value
    assert address, "the struct holds a null function pointer"
    return pfn_type(address)


@pytest.fixture
def records() -> list[CallbackRecord]:
    return []


@pytest.fixture
def callbacks(records: list[CallbackRecord]) -> Iterator[SecureConnectionCallbacks]:
    material = ServerCertificateMaterial(STORE, PASSPHRASE, SUBJECT)
    with SecureConnectionCallbacks(
        token_provider=fixed_token(TOKEN),
        certificate_validator=system_result_validator,
        token_validator=lambda token: token == TOKEN,
        server_certificate_provider=fixed_server_certificate(material),
        record_sink=records.append,
    ) as cb:
        yield cb


def _token_fn(cb: SecureConnectionCallbacks) -> Any:
    return _pointer(
        cb.client_callbacks().requestAuthenticationTokenCallback,
        structs.PFN_xrRemotingRequestAuthenticationTokenCallbackMSFT,
    )


def _token_request(context: int | None, capacity: int) -> tuple[Any, Any]:
    buffer = ctypes.create_string_buffer(capacity) if capacity else None
    request = structs.XrRemotingAuthenticationTokenRequestMSFT(
        context=context,
        tokenCapacityIn=capacity,
        tokenBuffer=ctypes.cast(buffer, ctypes.POINTER(ctypes.c_char)) if buffer else None,
    )
    return request, buffer


# --- RequestAuthenticationToken ---------------------------------------------------


@pytest.mark.parametrize("first_capacity", [0, 1, len(TOKEN)])
def test_token_two_call_idiom_reports_exact_size_then_fills(
    callbacks: SecureConnectionCallbacks, records: list[CallbackRecord], first_capacity: int
) -> None:
    fn = _token_fn(callbacks)
    needed = len(TOKEN.encode()) + 1
    request, _ = _token_request(callbacks.context, first_capacity)
    assert fn(ctypes.byref(request)) == SIZE_INSUFFICIENT
    assert request.tokenSizeOut == needed

    request, buffer = _token_request(callbacks.context, request.tokenSizeOut)
    assert fn(ctypes.byref(request)) == SUCCESS
    assert request.tokenSizeOut == needed
    assert buffer.raw == TOKEN.encode() + b"\0"
    assert [r.result for r in records] == [SIZE_INSUFFICIENT, SUCCESS]
    assert records[0].inputs["tokenCapacityIn"] == first_capacity


def test_token_larger_capacity_is_fine(callbacks: SecureConnectionCallbacks) -> None:
    request, buffer = _token_request(callbacks.context, 1024)
    assert _token_fn(callbacks)(ctypes.byref(request)) == SUCCESS
    assert buffer.value == TOKEN.encode()


@pytest.mark.parametrize("length", [1024, 1025, 5000])
def test_token_over_one_kib_is_refused(length: int, records: list[CallbackRecord]) -> None:
    with SecureConnectionCallbacks(
        token_provider=fixed_token("x" * length), record_sink=records.append
    ) as cb:
        request, buffer = _token_request(cb.context, 2048)
        assert _token_fn(cb)(ctypes.byref(request)) == RUNTIME_FAILURE
        assert buffer.raw == b"\0" * 2048, "nothing may be written on refusal"
        assert request.tokenSizeOut == 0
    assert "at most 1023" in (records[-1].error or "")


def test_token_of_1023_bytes_fits_the_1_kib_buffer() -> None:
    with SecureConnectionCallbacks(token_provider=fixed_token("y" * 1023)) as cb:
        request, _ = _token_request(cb.context, 16)
        assert _token_fn(cb)(ctypes.byref(request)) == SIZE_INSUFFICIENT
        assert request.tokenSizeOut == 1024
        request, buffer = _token_request(cb.context, 1024)
        assert _token_fn(cb)(ctypes.byref(request)) == SUCCESS
        assert buffer.value == b"y" * 1023


def test_null_buffer_with_capacity_is_refused(callbacks: SecureConnectionCallbacks) -> None:
    request = structs.XrRemotingAuthenticationTokenRequestMSFT(
        context=callbacks.context, tokenCapacityIn=100, tokenBuffer=None
    )
    assert _token_fn(callbacks)(ctypes.byref(request)) == RUNTIME_FAILURE


@pytest.mark.parametrize(
    "exception",
    [RuntimeError("boom"), KeyError("k"), ValueError("v"), SystemExit(0), KeyboardInterrupt()],
)
def test_raising_provider_gives_runtime_failure(
    exception: BaseException, records: list[CallbackRecord]
) -> None:
    def provider() -> str:
        raise exception

    with SecureConnectionCallbacks(token_provider=provider, record_sink=records.append) as cb:
        request, buffer = _token_request(cb.context, 64)
        assert _token_fn(cb)(ctypes.byref(request)) == RUNTIME_FAILURE
        assert buffer.raw == b"\0" * 64
    assert records[-1].result == RUNTIME_FAILURE
    assert type(exception).__name__ in (records[-1].error or "")


def test_missing_provider_is_a_refusal_with_reason(records: list[CallbackRecord]) -> None:
    with SecureConnectionCallbacks(record_sink=records.append) as cb:
        request, _ = _token_request(cb.context, 64)
        assert _token_fn(cb)(ctypes.byref(request)) == RUNTIME_FAILURE
    assert "no authentication token is configured" in (records[-1].error or "")


@pytest.mark.parametrize("context", [None, 0, 12345, 0x5EC0_0000])
def test_null_or_unknown_context_gives_runtime_failure(
    callbacks: SecureConnectionCallbacks, context: int | None
) -> None:
    request, buffer = _token_request(context, 64)
    assert _token_fn(callbacks)(ctypes.byref(request)) == RUNTIME_FAILURE
    assert buffer.raw == b"\0" * 64


def test_closed_context_refuses(records: list[CallbackRecord]) -> None:
    cb = SecureConnectionCallbacks(token_provider=fixed_token(TOKEN), record_sink=records.append)
    fn = _token_fn(cb)
    cb.close()
    request, _ = _token_request(cb.context, 64)
    assert fn(ctypes.byref(request)) == RUNTIME_FAILURE
    assert records == []


def test_null_struct_pointer_gives_runtime_failure(callbacks: SecureConnectionCallbacks) -> None:
    assert _token_fn(callbacks)(None) == RUNTIME_FAILURE


def test_wrong_struct_type_is_refused(callbacks: SecureConnectionCallbacks) -> None:
    request, _ = _token_request(callbacks.context, 64)
    request.type = 42
    assert _token_fn(callbacks)(ctypes.byref(request)) == int(Result.ERROR_VALIDATION_FAILURE)


def test_token_never_appears_in_records(
    callbacks: SecureConnectionCallbacks, records: list[CallbackRecord]
) -> None:
    request, _ = _token_request(callbacks.context, 64)
    _token_fn(callbacks)(ctypes.byref(request))
    text = repr(records) + str([r.to_json() for r in records])
    assert TOKEN not in text
    assert "bytes" in records[-1].outputs["token"]


def test_broken_record_sink_does_not_turn_a_refusal_into_success() -> None:
    def sink(record: CallbackRecord) -> None:
        raise RuntimeError("sink down")

    with SecureConnectionCallbacks(record_sink=sink) as cb:
        request, _ = _token_request(cb.context, 64)
        assert _token_fn(cb)(ctypes.byref(request)) == RUNTIME_FAILURE


def test_callbacks_work_from_another_thread(callbacks: SecureConnectionCallbacks) -> None:
    results: list[int] = []

    def call() -> None:
        request, _ = _token_request(callbacks.context, 64)
        results.append(_token_fn(callbacks)(ctypes.byref(request)))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == [SUCCESS] * 8


# --- ValidateServerCertificate ----------------------------------------------------


def _validation_request(
    context: int | None,
    chain: list[bytes],
    system: ValidationResult | None,
    host: bytes | None = b"server.example",
) -> tuple[Any, list[Any]]:
    keep: list[Any] = []
    array = (structs.XrRemotingCertificateDataMSFT * max(len(chain), 1))()
    for index, der in enumerate(chain):
        buf = (ctypes.c_uint8 * len(der)).from_buffer_copy(der)
        keep.append(buf)
        array[index] = structs.XrRemotingCertificateDataMSFT(
            size=len(der), data=ctypes.cast(buf, ctypes.POINTER(ctypes.c_uint8))
        )
    keep.append(array)
    system_struct = None
    if system is not None:
        from app.xr.validation_result_struct import write_verdict

        system_struct = structs.XrRemotingCertificateValidationResultMSFT()
        write_verdict(system_struct, system)
        keep.append(system_struct)
    request = structs.XrRemotingServerCertificateValidationMSFT(
        context=context,
        hostName=host,
        forceRevocationCheck=1,
        numCertificates=len(chain),
        certificates=ctypes.cast(array, ctypes.POINTER(structs.XrRemotingCertificateDataMSFT)),
        systemValidationResult=ctypes.pointer(system_struct) if system_struct else None,
    )
    # A runtime that leaves garbage in the out-struct must not get it back as a verdict.
    request.validationResultOut.trustedRoot = 1
    request.validationResultOut.invalidCertOrChain = 0
    return request, keep


def _validate_fn(cb: SecureConnectionCallbacks) -> Any:
    return _pointer(
        cb.client_callbacks().validateServerCertificateCallback,
        structs.PFN_xrRemotingValidateServerCertificateCallbackMSFT,
    )


def test_validation_writes_validation_result_out(records: list[CallbackRecord]) -> None:
    seen: list[CertificateValidationRequest] = []

    def validator(request: CertificateValidationRequest) -> ValidationResult:
        seen.append(request)
        return ValidationResult(
            trusted_root=True,
            revoked=False,
            expired=True,
            wrong_usage=True,
            name_mismatch=NameCheck.MISMATCH,
            revocation_check_failed=True,
            invalid_cert_or_chain=False,
        )

    chain = [b"leaf-der\x00\x01", b"intermediate-der"]
    system = ValidationResult(trusted_root=False, name_mismatch=NameCheck.MATCH)
    with SecureConnectionCallbacks(
        certificate_validator=validator, record_sink=records.append
    ) as cb:
        request, _keep = _validation_request(cb.context, chain, system)
        assert _validate_fn(cb)(ctypes.byref(request)) == SUCCESS
    out = request.validationResultOut
    assert out.type == int(structs.StructureType.REMOTING_CERTIFICATE_VALIDATION_RESULT_MSFT)
    assert (out.trustedRoot, out.revoked, out.expired, out.wrongUsage) == (1, 0, 1, 1)
    assert out.nameMismatch == int(NameCheck.MISMATCH)
    assert (out.revocationCheckFailed, out.invalidCertOrChain) == (1, 0)
    assert seen[0].chain == tuple(chain)
    assert seen[0].host_name == "server.example"
    assert seen[0].force_revocation_check is True
    assert seen[0].system_result is not None
    assert seen[0].system_result.name_mismatch == NameCheck.MATCH
    assert records[-1].chain == tuple(chain)
    assert records[-1].outputs["validationResultOut"]["expired"] is True


def test_validation_without_system_result_and_host(callbacks: SecureConnectionCallbacks) -> None:
    request, _keep = _validation_request(callbacks.context, [b"der"], None, host=None)
    # system_result_validator refuses when there is nothing to go on: fail closed.
    assert _validate_fn(callbacks)(ctypes.byref(request)) == RUNTIME_FAILURE
    out = request.validationResultOut
    assert out.trustedRoot == 0
    assert out.invalidCertOrChain == 1


def test_validation_raising_validator_leaves_a_refusing_verdict() -> None:
    def validator(request: CertificateValidationRequest) -> ValidationResult:
        raise CallbackRefusal("policy exploded")

    with SecureConnectionCallbacks(certificate_validator=validator) as cb:
        request, _keep = _validation_request(cb.context, [b"der"], ValidationResult())
        assert _validate_fn(cb)(ctypes.byref(request)) == RUNTIME_FAILURE
    assert request.validationResultOut.trustedRoot == 0
    assert request.validationResultOut.invalidCertOrChain == 1


def test_validation_with_null_context(callbacks: SecureConnectionCallbacks) -> None:
    request, _keep = _validation_request(None, [b"der"], ValidationResult(trusted_root=True))
    assert _validate_fn(callbacks)(ctypes.byref(request)) == RUNTIME_FAILURE
    assert request.validationResultOut.trustedRoot == 0


def test_validation_refuses_absurd_chains(callbacks: SecureConnectionCallbacks) -> None:
    request, _keep = _validation_request(callbacks.context, [b"x"] * 17, ValidationResult())
    assert _validate_fn(callbacks)(ctypes.byref(request)) == RUNTIME_FAILURE
    request, _keep = _validation_request(callbacks.context, [b"der"], ValidationResult())
    request.certificates = None
    assert _validate_fn(callbacks)(ctypes.byref(request)) == RUNTIME_FAILURE


def test_validation_refuses_an_unterminated_host_name(callbacks: SecureConnectionCallbacks) -> None:
    long_host = b"h" * 5000  # no NUL within the 1 KiB the trampoline reads
    request, _keep = _validation_request(callbacks.context, [b"der"], ValidationResult(), long_host)
    assert _validate_fn(callbacks)(ctypes.byref(request)) == RUNTIME_FAILURE


# --- ValidateAuthenticationToken --------------------------------------------------


def _token_validation_fn(cb: SecureConnectionCallbacks) -> Any:
    return _pointer(
        cb.server_callbacks(realm="r").validateAuthenticationTokenCallback,
        structs.PFN_xrRemotingValidateAuthenticationTokenCallbackMSFT,
    )


def _token_validation(context: int | None, token: bytes | None) -> tuple[Any, Any]:
    buffer = ctypes.create_string_buffer(token) if token is not None else None
    request = structs.XrRemotingAuthenticationTokenValidationMSFT(
        context=context,
        token=ctypes.cast(buffer, ctypes.POINTER(ctypes.c_char)) if buffer else None,
        tokenValidOut=1,  # garbage from the runtime; the callback must overwrite it
    )
    return request, buffer


@pytest.mark.parametrize(
    ("token", "valid"),
    [(TOKEN.encode(), 1), (b"wrong", 0), (b"", 0), (None, 0), (TOKEN.encode() + b"x", 0)],
)
def test_token_validation(
    callbacks: SecureConnectionCallbacks,
    records: list[CallbackRecord],
    token: bytes | None,
    valid: int,
) -> None:
    request, _buf = _token_validation(callbacks.context, token)
    assert _token_validation_fn(callbacks)(ctypes.byref(request)) == SUCCESS
    assert request.tokenValidOut == valid
    assert TOKEN not in repr(records[-1].to_json())


def test_token_validation_raising_validator_is_invalid_and_failure() -> None:
    def validator(token: str) -> bool:
        raise RuntimeError("jwks unreadable")

    with SecureConnectionCallbacks(token_validator=validator) as cb:
        request, _buf = _token_validation(cb.context, b"anything")
        assert _token_validation_fn(cb)(ctypes.byref(request)) == RUNTIME_FAILURE
        assert request.tokenValidOut == 0


def test_token_validation_truthy_non_bool_is_not_valid() -> None:
    with SecureConnectionCallbacks(token_validator=lambda t: "yes") as cb:  # type: ignore[arg-type,return-value]
        request, _buf = _token_validation(cb.context, b"anything")
        assert _token_validation_fn(cb)(ctypes.byref(request)) == SUCCESS
        assert request.tokenValidOut == 0


def test_token_validation_null_context(callbacks: SecureConnectionCallbacks) -> None:
    request, _buf = _token_validation(None, TOKEN.encode())
    assert _token_validation_fn(callbacks)(ctypes.byref(request)) == RUNTIME_FAILURE
    assert request.tokenValidOut == 0


def test_token_validation_refuses_unterminated_token(callbacks: SecureConnectionCallbacks) -> None:
    request, _buf = _token_validation(callbacks.context, b"t" * 4096)
    assert _token_validation_fn(callbacks)(ctypes.byref(request)) == RUNTIME_FAILURE
    assert request.tokenValidOut == 0


# --- RequestServerCertificate -----------------------------------------------------


def _certificate_fn(cb: SecureConnectionCallbacks) -> Any:
    return _pointer(
        cb.server_callbacks(realm="r").requestServerCertificateCallback,
        structs.PFN_xrRemotingRequestServerCertificateCallbackMSFT,
    )


def _certificate_request(
    context: int | None, store: int, passphrase: int, subject: int
) -> tuple[Any, list[Any]]:
    bufs = [
        (ctypes.c_uint8 * store)() if store else None,
        ctypes.create_string_buffer(passphrase) if passphrase else None,
        ctypes.create_string_buffer(subject) if subject else None,
    ]
    request = structs.XrRemotingServerCertificateRequestMSFT(
        context=context,
        certStoreCapacityIn=store,
        certStoreBuffer=ctypes.cast(bufs[0], ctypes.POINTER(ctypes.c_uint8)) if bufs[0] else None,
        keyPassphraseCapacityIn=passphrase,
        keyPassphraseBuffer=ctypes.cast(bufs[1], ctypes.POINTER(ctypes.c_char))
        if bufs[1]
        else None,
        subjectNameCapacityIn=subject,
        subjectNameBuffer=ctypes.cast(bufs[2], ctypes.POINTER(ctypes.c_char)) if bufs[2] else None,
    )
    return request, bufs


EXACT = (len(STORE), len(PASSPHRASE.encode()) + 1, len(SUBJECT.encode()) + 1)


@pytest.mark.parametrize(
    "first",
    [
        (0, 0, 0),
        (1, 1, 1),
        (EXACT[0] - 1, EXACT[1], EXACT[2]),
        (EXACT[0], EXACT[1] - 1, EXACT[2]),
        (EXACT[0], EXACT[1], EXACT[2] - 1),
    ],
)
def test_certificate_request_two_call_idiom_fills_all_three_buffers(
    callbacks: SecureConnectionCallbacks, first: tuple[int, int, int]
) -> None:
    fn = _certificate_fn(callbacks)
    request, bufs = _certificate_request(callbacks.context, *first)
    assert fn(ctypes.byref(request)) == SIZE_INSUFFICIENT
    sizes = (request.certStoreSizeOut, request.keyPassphraseSizeOut, request.subjectNameSizeOut)
    assert sizes == EXACT
    for buf in bufs:
        if buf is not None:
            assert bytes(buf) == b"\0" * len(bytes(buf)), "nothing written before sizes fit"

    request, bufs = _certificate_request(callbacks.context, *sizes)
    assert fn(ctypes.byref(request)) == SUCCESS
    assert bytes(bufs[0]) == STORE
    assert bufs[1].raw == PASSPHRASE.encode() + b"\0"
    assert bufs[2].raw == SUBJECT.encode() + b"\0"
    assert (
        request.certStoreSizeOut,
        request.keyPassphraseSizeOut,
        request.subjectNameSizeOut,
    ) == EXACT


def test_certificate_request_hides_the_passphrase(
    callbacks: SecureConnectionCallbacks, records: list[CallbackRecord]
) -> None:
    request, _bufs = _certificate_request(callbacks.context, *EXACT)
    assert _certificate_fn(callbacks)(ctypes.byref(request)) == SUCCESS
    text = repr(records) + repr([r.to_json() for r in records])
    assert PASSPHRASE not in text
    assert records[-1].outputs["subjectName"] == SUBJECT


@pytest.mark.parametrize(
    ("material", "message"),
    [
        (ServerCertificateMaterial(b"", "p", "s"), "empty"),
        (ServerCertificateMaterial(b"x" * ((1 << 20) + 1), "p", "s"), "at most"),
        (ServerCertificateMaterial(b"x", "p" * 1024, "s"), "key passphrase"),
        (ServerCertificateMaterial(b"x", "p", "s" * 1024), "subject name"),
        (ServerCertificateMaterial(b"x", "p\0q", "s"), "NUL"),
    ],
)
def test_certificate_request_refuses_unusable_material(
    material: ServerCertificateMaterial, message: str, records: list[CallbackRecord]
) -> None:
    with SecureConnectionCallbacks(
        server_certificate_provider=fixed_server_certificate(material), record_sink=records.append
    ) as cb:
        request, _bufs = _certificate_request(cb.context, 4096, 2048, 2048)
        assert _certificate_fn(cb)(ctypes.byref(request)) == RUNTIME_FAILURE
        assert request.certStoreSizeOut == 0
    assert message in (records[-1].error or "")


def test_certificate_request_null_context(callbacks: SecureConnectionCallbacks) -> None:
    request, _bufs = _certificate_request(None, *EXACT)
    assert _certificate_fn(callbacks)(ctypes.byref(request)) == RUNTIME_FAILURE
    assert request.certStoreSizeOut == 0


def test_callback_structs_carry_context_flags_and_realm(
    callbacks: SecureConnectionCallbacks,
) -> None:
    client = callbacks.client_callbacks(perform_system_validation=False)
    assert client.context == callbacks.context
    assert client.performSystemValidation == 0
    assert callbacks.client_callbacks().performSystemValidation == 1
    server = callbacks.server_callbacks(realm="my realm")
    assert server.context == callbacks.context
    assert server.authenticationRealm == b"my realm"

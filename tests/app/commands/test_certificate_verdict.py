"""The client's certificate verdict: our reasons put back onto the runtime's system
result, the refusal lines with their fixes, and the one-line callback summaries."""

from __future__ import annotations

import argparse

from app.commands.common import certificate_validator
from app.commands.record_text import callback_summary
from app.endpoint.failure import refusal_lines, refused_checks, verdict_from_json
from app.security.acceptance import RUNTIME_ONLY, combine_with_runtime
from app.security.testpki import GeneratedPki
from app.xr.callback_types import CertificateValidationRequest
from app.xr.records import CallbackRecord
from app.xr.validation_result import ValidationResult
from app.xr.values import CertificateNameValidationResult as Name
from tests.app.remoting.remoting_support import chain_der

OWN = ValidationResult(
    trusted_root=False,
    name_mismatch=Name.MATCH,
    reasons={"trustedRoot": "the chain ends at root X, not in the store", "expired": "valid"},
)


def test_the_runtime_decides_each_field_and_our_reason_is_kept_where_we_agree() -> None:
    runtime = ValidationResult(trusted_root=False, name_mismatch=Name.MATCH)
    combined = combine_with_runtime(runtime, OWN, "the system CA bundle")
    assert combined == runtime  # the seven values are the runtime's
    assert combined.reasons["trustedRoot"] == "the chain ends at root X, not in the store"
    assert combined.reasons["expired"] == "valid"


def test_where_we_disagree_the_reason_says_the_runtime_reported_it() -> None:
    runtime = ValidationResult(trusted_root=True, name_mismatch=Name.MATCH)  # Windows store
    combined = combine_with_runtime(runtime, OWN, "the system CA bundle")
    assert combined.trusted_root is True
    reason = combined.reasons["trustedRoot"]
    assert reason.startswith(RUNTIME_ONLY)
    assert "the system CA bundle" in reason and "not in the store" in reason


def test_without_our_own_check_every_reason_names_the_runtime() -> None:
    runtime = ValidationResult(trusted_root=True, name_mismatch=Name.MATCH)
    combined = combine_with_runtime(runtime, None, "no trust store")
    assert all(r.startswith(RUNTIME_ONLY) for r in combined.reasons.values())
    assert len(combined.reasons) == 7


def test_the_validator_attaches_reasons_to_the_runtime_result(pki: GeneratedPki) -> None:
    """No --ca-file: the runtime's system result decides (here it trusts the test
    CA, as a runtime with its own store might); our check against the OS store does
    not, so that reason says who decided. The other fields carry our reasons."""
    args = argparse.Namespace(
        pin=[],
        known_hosts=None,
        allow_name_mismatch=False,
        allow_unverified_chain=False,
        ca_file=None,
        trust_on_first_use=False,
    )
    validate = certificate_validator(args, 8265)
    runtime = ValidationResult(trusted_root=True, name_mismatch=Name.MATCH)
    request = CertificateValidationRequest("127.0.0.1", False, chain_der(pki), runtime)
    verdict = validate(request)
    assert verdict.trusted_root is True
    assert verdict.reasons["trustedRoot"].startswith(RUNTIME_ONLY)
    assert "127.0.0.1" in verdict.reasons["nameMismatch"]  # our own words
    # Without a runtime result our validation (OS store) decides: not trusted.
    alone = validate(CertificateValidationRequest("127.0.0.1", False, chain_der(pki), None))
    assert alone.trusted_root is False and "not in" in alone.reasons["trustedRoot"]


def _record(
    verdict: ValidationResult, pki: GeneratedPki, host: str = "127.0.0.1"
) -> CallbackRecord:
    return CallbackRecord(
        callback="ValidateServerCertificate",
        started_at=0.0,
        duration_s=0.001,
        inputs={"hostName": host, "forceRevocationCheck": False, "numCertificates": 3},
        outputs={"validationResultOut": verdict.to_json()},
        result=0,
        chain=chain_der(pki),
    )


def test_refusal_lines_name_each_failed_check_its_reason_and_fix(pki: GeneratedPki) -> None:
    verdict = ValidationResult(
        trusted_root=False,
        expired=True,
        wrong_usage=True,
        name_mismatch=Name.MISMATCH,
        reasons={"trustedRoot": "unknown root", "nameMismatch": "not among the SANs"},
    )
    record = _record(verdict, pki, host="holo.example")
    assert verdict_from_json(verdict.to_json()) == verdict
    assert refused_checks(record) == ["trustedRoot", "expired", "wrongUsage", "nameMismatch"]
    text = "\n".join(refusal_lines(record))
    assert "refused: trustedRoot: unknown root" in text
    assert f"--pin {pki.pin}" in text
    assert "--ca-file CA.pem" in text
    assert "(localhost, 127.0.0.1) instead of holo.example" in text
    assert "--allow-name-mismatch" in text
    assert "renew" in text and "serverAuth" in text
    assert "validationResultOut" not in text
    assert ": REFUSED (trustedRoot, expired, wrongUsage, nameMismatch)" in callback_summary(record)


def test_an_accepted_verdict_prints_no_refusal(pki: GeneratedPki) -> None:
    record = _record(ValidationResult(trusted_root=True, name_mismatch=Name.MATCH), pki)
    assert refused_checks(record) is None and refusal_lines(record) == []
    assert callback_summary(record).endswith(": accepted")


def test_summaries_of_the_other_callbacks_show_sizes_and_verdicts_never_secrets() -> None:
    def record(name: str, inputs: dict, outputs: dict, result: int = 0) -> CallbackRecord:
        return CallbackRecord(name, 0.0, 0.0, inputs, outputs, result)

    short = record(
        "RequestAuthenticationToken", {"tokenCapacityIn": 64}, {"tokenSizeOut": 97}, -1000050000
    )
    assert callback_summary(short) == "tokenSizeOut=97 (capacity 64)"
    full = record(
        "RequestAuthenticationToken",
        {"tokenCapacityIn": 97},
        {"tokenSizeOut": 97, "token": "••••••••(96 bytes)"},
    )
    assert callback_summary(full) == "tokenSizeOut=97 (capacity 97)"
    refused = record("ValidateAuthenticationToken", {"token": "••••"}, {"tokenValidOut": False})
    assert callback_summary(refused) == "tokenValidOut=false"
    store = record(
        "RequestServerCertificate",
        {"certStoreCapacityIn": 1024, "keyPassphraseCapacityIn": 64, "subjectNameCapacityIn": 64},
        {
            "certStoreSizeOut": 2389,
            "keyPassphraseSizeOut": 25,
            "subjectNameSizeOut": 18,
            "keyPassphrase": "••••••••(24 bytes)",
            "subjectName": "holoremote-server",
        },
    )
    summary = callback_summary(store)
    assert "certStoreSizeOut=2389 (capacity 1024)" in summary
    assert "keyPassphraseSizeOut=25 (capacity 64)" in summary
    assert "subjectName='holoremote-server'" in summary
    assert "••" not in summary

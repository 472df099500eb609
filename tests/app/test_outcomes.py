"""The outcome rule: refusals are told apart from success whatever the XrResult."""

from __future__ import annotations

import dataclasses

from app.endpoint.events import Connected, Disconnected, Listening
from app.outcomes import Outcome, classify_record, event_is_failure, event_title
from app.xr.records import CallbackRecord
from app.xr.validation_result import ValidationResult
from app.xr.values import CertificateNameValidationResult, DisconnectReason, Result

GOOD = ValidationResult(trusted_root=True, name_mismatch=CertificateNameValidationResult.MATCH)


def _record(callback: str, *, result: int = 0, outputs=None, inputs=None, error=None):
    return CallbackRecord(callback, 1.0, 0.001, inputs or {}, outputs or {}, result, error)


def test_token_check() -> None:
    ok = _record("ValidateAuthenticationToken", outputs={"tokenValidOut": True})
    assert classify_record(ok).outcome is Outcome.SUCCESS
    refused = dataclasses.replace(ok, outputs={"tokenValidOut": False})
    assert classify_record(refused).outcome is Outcome.REFUSED
    # A missing output fails closed.
    assert classify_record(dataclasses.replace(ok, outputs={})).outcome is Outcome.REFUSED


def test_certificate_verdict() -> None:
    ok = _record("ValidateServerCertificate", outputs={"validationResultOut": GOOD.to_json()})
    assert classify_record(ok).outcome is Outcome.SUCCESS
    expired = GOOD.with_changes(expired=True).to_json()
    refused = classify_record(dataclasses.replace(ok, outputs={"validationResultOut": expired}))
    assert refused.outcome is Outcome.REFUSED and "expired" in refused.reason
    revocation = GOOD.with_changes(revocation_check_failed=True).to_json()
    soft = dataclasses.replace(ok, outputs={"validationResultOut": revocation})
    assert classify_record(soft).outcome is Outcome.SUCCESS
    forced = dataclasses.replace(soft, inputs={"forceRevocationCheck": True})
    assert classify_record(forced).outcome is Outcome.REFUSED
    missing = dataclasses.replace(ok, outputs={})
    assert classify_record(missing).outcome is Outcome.REFUSED


def test_size_query_errors_and_raised_callbacks() -> None:
    size = _record("RequestAuthenticationToken", result=int(Result.ERROR_SIZE_INSUFFICIENT))
    assert classify_record(size).outcome is Outcome.SIZE_QUERY
    failure = _record("RequestServerCertificate", result=int(Result.ERROR_RUNTIME_FAILURE))
    assert classify_record(failure).outcome is Outcome.RUNTIME_ERROR
    raised = dataclasses.replace(failure, error="no server certificate is configured")
    classified = classify_record(raised)
    assert classified.outcome is Outcome.REFUSED
    assert classified.reason == "no server certificate is configured"
    assert classify_record(_record("RequestServerCertificate")).outcome is Outcome.SUCCESS


def test_events() -> None:
    assert event_title(Listening(8265)) == "Listening on port 8265"
    assert event_title(Connected()) == "Connected"
    clean = Disconnected.of(DisconnectReason.PEER_DISCONNECT_REQUEST)
    assert not event_is_failure(clean)
    assert event_is_failure(Disconnected.of(DisconnectReason.AUTHENTICATION_FAILED))
    assert "PEER_DISCONNECT_REQUEST" in event_title(clean)


def test_a_records_verdict_is_parsed_once_and_fails_closed() -> None:
    record = _record("ValidateServerCertificate", outputs={"validationResultOut": GOOD.to_json()})
    first = record.validation_result()
    assert first == GOOD
    assert record.validation_result() is first  # kept, not parsed again
    # A record made from it with other outputs parses its own verdict.
    expired = dataclasses.replace(
        record, outputs={"validationResultOut": GOOD.with_changes(expired=True).to_json()}
    )
    assert expired.validation_result() is not first
    assert classify_record(expired).outcome is Outcome.REFUSED
    # Damaged JSON reads as failed checks; no verdict at all is None.
    damaged = _record("ValidateServerCertificate", outputs={"validationResultOut": {}})
    verdict = damaged.validation_result()
    assert verdict is not None and not verdict.trusted_root and verdict.revoked
    assert _record("ValidateServerCertificate").validation_result() is None
    assert _record("RequestAuthenticationToken").validation_result() is None

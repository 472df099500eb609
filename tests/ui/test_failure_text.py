"""One explanation of a refused certificate, phrased per face: the session attaches
the refusal to the disconnect; the window and the command line only word it."""

from __future__ import annotations

import io

from cryptography.hazmat.primitives.serialization import Encoding

from app.commands.common import EventPrinter
from app.endpoint.events import Disconnected
from app.endpoint.failure import CertificateRefusal
from app.security.testpki import GeneratedPki
from app.xr.records import CallbackRecord
from app.xr.validation_result import ValidationResult
from app.xr.values import CertificateNameValidationResult as Name
from app.xr.values import DisconnectReason
from ui.controller import failure_text


def _refused_record(pki: GeneratedPki) -> CallbackRecord:
    verdict = ValidationResult(
        trusted_root=True,
        name_mismatch=Name.MISMATCH,
        reasons={"nameMismatch": "wrong.test is not among the SANs"},
    )
    return CallbackRecord(
        "ValidateServerCertificate",
        0.0,
        0.001,
        {"hostName": "wrong.test", "forceRevocationCheck": False},
        {"validationResultOut": verdict.to_json()},
        0,
        chain=tuple(c.public_bytes(Encoding.DER) for c in pki.chain),
    )


def test_both_faces_word_the_same_refusal(pki: GeneratedPki) -> None:
    refusal = CertificateRefusal.of(_refused_record(pki))
    assert refusal is not None and refusal.checks == ("nameMismatch",)
    event = Disconnected.of(DisconnectReason.HANDSHAKE_CONNECTION_FAILED, refusal=refusal)

    explanation, fix = failure_text(event)
    assert explanation.startswith("The client refused the server's certificate: failed ")
    assert "nameMismatch (wrong.test is not among the SANs)" in explanation
    assert "the Allow name mismatch option" in fix and "--" not in fix

    out = io.StringIO()
    EventPrinter(as_json=False, out=out).event(event)
    text = out.getvalue()
    assert "this client refused the server's certificate (nameMismatch)" in text
    assert "--allow-name-mismatch" in text

    out = io.StringIO()
    EventPrinter(as_json=True, out=out).event(event)
    assert '"failedChecks": ["nameMismatch"]' in out.getvalue()


def test_a_refusal_that_did_not_end_the_attempt_is_not_blamed(pki: GeneratedPki) -> None:
    refusal = CertificateRefusal.of(_refused_record(pki))
    event = Disconnected.of(DisconnectReason.CONNECTION_LOST, refusal=refusal)
    assert event.refusal is None
    explanation, _ = failure_text(event)
    assert "refused the server's certificate" not in explanation

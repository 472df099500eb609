"""The command line's one-line summary of each callback record (sizes, verdicts;
never a secret: records are masked when they are made)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.endpoint.failure import refused_checks
from app.xr.records import CallbackRecord


def callback_summary(record: CallbackRecord) -> str:
    """The record's inputs and outputs in a few words (sizes, verdicts; never a secret)."""
    inputs, outputs = record.inputs, record.outputs
    if record.callback == "RequestAuthenticationToken":
        return _sizes(inputs, outputs, (("token", "tokenCapacityIn", "tokenSizeOut"),))
    if record.callback == "RequestServerCertificate":
        text = _sizes(
            inputs,
            outputs,
            (
                ("certStore", "certStoreCapacityIn", "certStoreSizeOut"),
                ("keyPassphrase", "keyPassphraseCapacityIn", "keyPassphraseSizeOut"),
                ("subjectName", "subjectNameCapacityIn", "subjectNameSizeOut"),
            ),
        )
        subject = outputs.get("subjectName")
        return text + (f"; subjectName={subject!r}" if isinstance(subject, str) else "")
    if record.callback == "ValidateAuthenticationToken":
        valid = outputs.get("tokenValidOut")
        return "" if valid is None else f"tokenValidOut={str(valid).lower()}"
    if record.callback == "ValidateServerCertificate":
        count = inputs.get("numCertificates")
        text = f"hostName={inputs.get('hostName')}, {count} certificate(s)"
        system = inputs.get("systemValidationResult")
        text += ", with" if isinstance(system, dict) else ", without"
        text += " the runtime's system validation"
        if "validationResultOut" in outputs:
            checks = refused_checks(record)
            text += ": REFUSED (" + ", ".join(checks) + ")" if checks else ": accepted"
        return text
    return ""


def _sizes(
    inputs: Mapping[str, Any], outputs: Mapping[str, Any], fields: tuple[tuple[str, str, str], ...]
) -> str:
    parts = []
    for name, capacity, size in fields:
        if size in outputs:
            parts.append(f"{size}={outputs[size]} (capacity {inputs.get(capacity)})")
        elif capacity in inputs:
            parts.append(f"{name} capacity {inputs[capacity]}")
    return ", ".join(parts)

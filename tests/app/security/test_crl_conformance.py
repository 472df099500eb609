"""A CRL the user supplies is used only if it conforms (RFC 5280 5.2, 6.3.3): a
non-critical cRLNumber, and an issuer whose key usage, if present, allows cRLSign.
An unusable CRL leaves the certificate's status unknown: revocationCheckFailed."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from pkibuild import Made, issue

from app.security.acceptance import is_acceptable
from app.security.revocation import RevocationOptions
from app.security.system_validation import validate_server_chain
from app.security.testpki import SigningKey
from app.security.trust import anchors_from_certificates


def _crl(issuer: Made, now: dt.datetime, *, number: bool | None) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + dt.timedelta(days=1))
    )
    if number is not None:
        builder = builder.add_extension(x509.CRLNumber(7), critical=number)
    return builder.sign(issuer.key, hashes.SHA256())


@pytest.mark.parametrize(
    ("number", "ca_key_usage", "words"),
    [
        (False, None, None),  # control: a conforming CRL, leaf not on it
        (None, None, "has no cRLNumber"),
        (True, None, "marks cRLNumber critical"),
        (
            False,
            x509.KeyUsage(False, False, False, False, False, True, False, False, False),
            "lacks cRLSign",
        ),
    ],
)
def test_supplied_crl_must_conform(
    keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
    number: bool | None,
    ca_key_usage: x509.KeyUsage | None,
    words: str | None,
) -> None:
    kw = {"key_usage": ca_key_usage} if ca_key_usage else {}
    ca = issue(
        "CRL Root",
        key=keys["other"],
        ca=True,
        not_before=window["nb"],
        not_after=window["na"],
        **kw,
    )  # type: ignore[arg-type]
    leaf = issue(
        "server.test",
        key=keys["leaf"],
        issuer=ca,
        dns=["server.test"],
        not_before=window["nb"],
        not_after=window["na"],
    )
    result = validate_server_chain(
        [leaf.der],
        "server.test",
        anchors=anchors_from_certificates([ca.cert], "CRL CA"),
        at=now,
        revocation=RevocationOptions(crls=(_crl(ca, now, number=number),)),
        force_revocation_check=True,
    ).result
    assert not result.revoked
    if words is None:
        assert is_acceptable(result, revocation_forced=True), result.reasons
    else:
        assert result.revocation_check_failed and words in result.reasons["revocationCheckFailed"]
        assert not is_acceptable(result, revocation_forced=True)
        assert result.trusted_root and not result.invalid_cert_or_chain

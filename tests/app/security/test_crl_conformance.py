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


def _scoped_crl(
    issuer: Made, now: dt.datetime, idp: x509.IssuingDistributionPoint, revoked: int | None = None
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + dt.timedelta(days=1))
        .add_extension(x509.CRLNumber(9), critical=False)
        .add_extension(idp, critical=True)
    )
    if revoked is not None:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(revoked)
            .revocation_date(now - dt.timedelta(hours=2))
            .build()
        )
    return builder.sign(issuer.key, hashes.SHA256())


def _idp(**kw: object) -> x509.IssuingDistributionPoint:
    fields: dict[str, object] = {
        "full_name": None,
        "relative_name": None,
        "only_contains_user_certs": False,
        "only_contains_ca_certs": False,
        "only_some_reasons": None,
        "indirect_crl": False,
        "only_contains_attribute_certs": False,
    }
    fields.update(kw)
    return x509.IssuingDistributionPoint(**fields)  # type: ignore[arg-type]


DP = "http://crl.test/ca.crl"


@pytest.mark.parametrize(
    ("idp", "words"),
    [
        (_idp(only_contains_user_certs=True), None),  # control: covers the leaf
        (_idp(full_name=[x509.UniformResourceIdentifier(DP)]), None),  # its own DP
        (_idp(only_contains_ca_certs=True), "covers only CA certificates"),
        (
            _idp(only_some_reasons=frozenset({x509.ReasonFlags.key_compromise})),
            "covers only some revocation reasons",
        ),
        (_idp(indirect_crl=True), "indirect CRL"),
        (
            _idp(full_name=[x509.UniformResourceIdentifier("http://crl.test/other.crl")]),
            "not one of 'server.test''s CRL distribution points",
        ),
    ],
)
def test_crl_scope_must_cover_the_certificate(
    keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
    idp: x509.IssuingDistributionPoint,
    words: str | None,
) -> None:
    # RFC 5280 5.2.5 / 6.3.3(b)(2): a CRL whose issuingDistributionPoint does not
    # cover the certificate is not a revocation answer for it.
    ca = issue(
        "CRL Root", key=keys["other"], ca=True, not_before=window["nb"], not_after=window["na"]
    )
    leaf = issue(
        "server.test",
        key=keys["leaf"],
        issuer=ca,
        dns=["server.test"],
        crl_url=DP,
        not_before=window["nb"],
        not_after=window["na"],
    )
    result = validate_server_chain(
        [leaf.der],
        "server.test",
        anchors=anchors_from_certificates([ca.cert], "CRL CA"),
        at=now,
        revocation=RevocationOptions(crls=(_scoped_crl(ca, now, idp),)),
        force_revocation_check=True,
    ).result
    assert not result.revoked
    if words is None:
        assert is_acceptable(result, revocation_forced=True), result.reasons
    else:
        assert result.revocation_check_failed and words in result.reasons["revocationCheckFailed"]
        assert not is_acceptable(result, revocation_forced=True)


def test_a_reason_partitioned_crl_listing_the_leaf_revokes_it(
    keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    ca = issue(
        "CRL Root", key=keys["other"], ca=True, not_before=window["nb"], not_after=window["na"]
    )
    leaf = issue(
        "server.test",
        key=keys["leaf"],
        issuer=ca,
        dns=["server.test"],
        not_before=window["nb"],
        not_after=window["na"],
    )
    idp = _idp(only_some_reasons=frozenset({x509.ReasonFlags.key_compromise}))
    crl = _scoped_crl(ca, now, idp, revoked=leaf.cert.serial_number)
    result = validate_server_chain(
        [leaf.der],
        "server.test",
        anchors=anchors_from_certificates([ca.cert], "CRL CA"),
        at=now,
        revocation=RevocationOptions(crls=(crl,)),
    ).result
    assert result.revoked and not is_acceptable(result, revocation_forced=False)


def test_crl_issuer_without_key_usage_may_sign_crls(
    keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    # RFC 5280 6.3.3(f): cRLSign is checked only "if a key usage extension is present".
    ca = issue(
        "CRL Root",
        key=keys["other"],
        ca=True,
        key_usage=None,
        not_before=window["nb"],
        not_after=window["na"],
    )
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
        revocation=RevocationOptions(crls=(_crl(ca, now, number=False),)),
        force_revocation_check=True,
    ).result
    assert is_acceptable(result, revocation_forced=True), result.reasons

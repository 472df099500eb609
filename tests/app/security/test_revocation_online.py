"""Revocation through the network paths, all on 127.0.0.1: CRL distribution points,
a dead responder with forceRevocationCheck, and a forged OCSP answer."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from pkibuild import Made, issue
from revocation_server import Responder, serve

from app.security.acceptance import is_acceptable
from app.security.revocation import RevocationOptions, ocsp_status
from app.security.revocation_fetch import http_fetcher
from app.security.system_validation import validate_server_chain
from app.security.testpki import SigningKey
from app.security.trust import anchors_from_certificates


def _crl(issuer: Made, serials: list[int], now: dt.datetime) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + dt.timedelta(days=1))
        .add_extension(x509.CRLNumber(1), critical=False)  # RFC 5280 5.2.3: required
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - dt.timedelta(hours=1))
            .build()
        )
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def root(keys: dict[str, SigningKey], window: dict[str, dt.datetime]) -> Made:
    return issue(
        "Online Root", key=keys["root"], ca=True, not_before=window["nb"], not_after=window["na"]
    )


def test_crl_distribution_point_is_fetched(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    with serve(Responder(issuer=root, now=now)) as responder:
        leaf = issue(
            "server.test",
            key=keys["leaf"],
            issuer=root,
            dns=["server.test"],
            crl_url=responder.url("/crl"),
            not_before=window["nb"],
            not_after=window["na"],
        )
        responder.crl_der = _crl(root, [leaf.cert.serial_number], now)
        result = validate_server_chain(
            [leaf.der],
            "server.test",
            anchors=anchors_from_certificates([root.cert], "t"),
            at=now,
            revocation=RevocationOptions(fetch_crls=True, fetcher=http_fetcher(timeout=5)),
        ).result
    assert result.revoked and not result.revocation_check_failed
    assert responder.requests == ["GET /crl"]


def test_dead_responder_with_forced_check_refuses(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    leaf = issue(
        "server.test",
        key=keys["leaf"],
        issuer=root,
        dns=["server.test"],
        ocsp_url=f"http://127.0.0.1:{port}/ocsp",
        not_before=window["nb"],
        not_after=window["na"],
    )
    result = validate_server_chain(
        [leaf.der],
        "server.test",
        anchors=anchors_from_certificates([root.cert], "t"),
        at=now,
        revocation=RevocationOptions(fetcher=http_fetcher(timeout=2)),
        force_revocation_check=True,
    ).result
    assert result.revocation_check_failed and not result.revoked
    assert "no usable revocation answer for: server.test" in result.reasons["revocationCheckFailed"]
    assert is_acceptable(result, revocation_forced=False)
    assert not is_acceptable(result, revocation_forced=True)


def test_forced_check_without_network_fails(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    leaf = issue(
        "server.test",
        key=keys["leaf"],
        issuer=root,
        dns=["server.test"],
        not_before=window["nb"],
        not_after=window["na"],
    )
    result = validate_server_chain(
        [leaf.der],
        "server.test",
        anchors=anchors_from_certificates([root.cert], "t"),
        at=now,
        force_revocation_check=True,
    ).result
    assert (
        result.revocation_check_failed
        and "no network access" in result.reasons["revocationCheckFailed"]
    )


def test_ocsp_answer_signed_by_a_stranger_is_ignored(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    stranger = issue(
        "Online Root", key=keys["other"], ca=True, not_before=window["nb"], not_after=window["na"]
    )
    leaf = issue(
        "server.test",
        key=keys["leaf"],
        issuer=root,
        dns=["server.test"],
        not_before=window["nb"],
        not_after=window["na"],
    )
    forged = Responder(issuer=stranger, revoked_serials={leaf.cert.serial_number}, now=now)
    from app.security.revocation import ocsp_request_der

    answer = forged.ocsp_answer(ocsp_request_der(leaf.cert, root.cert))
    notes: list[str] = []
    assert ocsp_status(answer, leaf.cert, root.cert, now, notes) is None
    assert "not signed by its issuer" in notes[0]

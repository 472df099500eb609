"""Every verifier message that `verifier_messages.classify` reads, produced by the
installed cryptography from certificates made here: a change of wording fails here,
and no verifier text reaches a verdict's reasons."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pkibuild import Made, issue

from app.security.system_validation import MAX_CHAIN_DEPTH, validate_server_chain
from app.security.testpki import SigningKey, generate_private_key
from app.security.trust import anchors_from_certificates
from app.security.verifier_messages import GENERAL, classify

HOST = "server.test"


@pytest.fixture(scope="module")
def root(keys: dict[str, SigningKey], window: dict[str, dt.datetime]) -> Made:
    return issue(
        "Messages Root", key=keys["root"], ca=True, not_before=window["nb"], not_after=window["na"]
    )


def _verifier_message(root: Made, chain: list[Made], at: dt.datetime, host: str = HOST) -> str:
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store([root.cert]))
        .time(at)
        .max_chain_depth(MAX_CHAIN_DEPTH)
        .build_server_verifier(x509.DNSName(host))
    )
    with pytest.raises(verification.VerificationError) as caught:
        verifier.verify(chain[0].cert, [c.cert for c in chain[1:]])
    return str(caught.value)


def _leaf(root: Made, key: SigningKey, window: dict[str, dt.datetime], **kw: object) -> Made:
    options: dict[str, object] = {
        "dns": [HOST],
        "not_before": window["nb"],
        "not_after": window["na"],
    }
    options.update(kw)
    cn = options.pop("cn", HOST)
    return issue(cn, key=key, issuer=root, **options)  # type: ignore[arg-type]


def _critical_eku_leaf(root: Made, key: SigningKey, window: dict[str, dt.datetime]) -> Made:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(root.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(window["nb"])
        .not_valid_after(window["na"])
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root.key.public_key()),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=True)
    )
    return Made(builder.sign(root.key, hashes.SHA256()), key)


def _no_san_leaf(root: Made, key: SigningKey, window: dict[str, dt.datetime]) -> Made:
    return _leaf(root, key, window, dns=[])


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("empty subject, SAN not critical", "nameMismatch"),
        ("name not among SANs", "nameMismatch"),
        ("no SAN", "nameMismatch"),
        ("clientAuth only", "wrongUsage"),
        ("expired", "expired"),
        ("critical EKU", "invalidCertOrChain"),
        ("unknown issuer", "trustedRoot"),
        ("too deep", "trustedRoot"),
    ],
)
def test_each_message_the_installed_verifier_produces_is_classified(
    root: Made,
    keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
    case: str,
    field: str,
) -> None:
    key = keys["leaf"]
    host = HOST
    chain: list[Made]
    if case == "empty subject, SAN not critical":
        chain = [_leaf(root, key, window, cn=None)]
    elif case == "name not among SANs":
        chain, host = [_leaf(root, key, window)], "other.test"
    elif case == "no SAN":
        chain = [_no_san_leaf(root, key, window)]
    elif case == "clientAuth only":
        chain = [_leaf(root, key, window, eku=[ExtendedKeyUsageOID.CLIENT_AUTH])]
    elif case == "expired":
        old = window["nb"] - dt.timedelta(days=40)
        chain = [_leaf(root, key, window, not_before=old, not_after=window["nb"])]
    elif case == "critical EKU":
        chain = [_critical_eku_leaf(root, key, window)]
    elif case == "unknown issuer":
        stranger = issue(
            "Stranger", key=keys["other"], ca=True, not_before=window["nb"], not_after=window["na"]
        )
        chain = [_leaf(stranger, key, window)]
    else:
        cas = [root]
        for index in range(MAX_CHAIN_DEPTH + 1):
            cas.append(
                issue(
                    f"Deep CA {index}",
                    key=generate_private_key(),
                    issuer=cas[-1],
                    ca=True,
                    not_before=window["nb"],
                    not_after=window["na"],
                )
            )
        chain = [_leaf(cas[-1], key, window), *reversed(cas[1:])]
    message = _verifier_message(root, chain, now, host)
    refusal = classify(message)
    assert refusal is not GENERAL, message
    assert refusal.field == field, message
    assert "validation failed" not in refusal.reason and "encountered" not in refusal.reason


def test_an_unknown_message_is_still_a_refusal() -> None:
    assert classify("something new happened") == GENERAL
    assert GENERAL.field == "invalidCertOrChain"


def test_verdict_reasons_never_quote_the_verifier(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    stranger = issue(
        "Stranger", key=keys["other"], ca=True, not_before=window["nb"], not_after=window["na"]
    )
    cases = [
        [_leaf(root, keys["leaf"], window, cn=None)],
        [_critical_eku_leaf(root, keys["leaf"], window)],
        [_leaf(stranger, keys["leaf"], window)],
    ]
    for chain in cases:
        checked = validate_server_chain(
            [m.der for m in chain],
            HOST,
            anchors=anchors_from_certificates([root.cert], "messages CA"),
            at=now,
        )
        text = " ".join([*checked.result.reasons.values(), *checked.notes])
        for words in ("validation failed", "candidates exhausted", "encountered processing"):
            assert words not in text, text

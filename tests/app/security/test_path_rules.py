"""Path-validation rules beyond the baseline basics, one certificate built per rule
to break only it: key identifiers, serials, critical flags, EKU placement, the CN
spelling rule, validity granularity, path choice around unused certificates, and
the conformance of supplied CRLs."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID
from pkibuild import SERVER_AUTH, Made, issue, resign_with_serial

from app.security.acceptance import is_acceptable
from app.security.revocation import RevocationOptions
from app.security.system_validation import MAX_PRESENTED_CERTIFICATES, validate_server_chain
from app.security.testpki import SigningKey
from app.security.trust import anchors_from_certificates
from app.xr.validation_result import ValidationResult
from app.xr.values import CertificateNameValidationResult as Name

HOST = "server.test"


@pytest.fixture(scope="module")
def root(keys: dict[str, SigningKey], window: dict[str, dt.datetime]) -> Made:
    return issue(
        "Path Root", key=keys["root"], ca=True, not_before=window["nb"], not_after=window["na"]
    )


def _ca(parent: Made, key: object, window: dict[str, dt.datetime], **kw: object) -> Made:
    return issue(
        "Path ICA",
        key=key,
        issuer=parent,
        ca=True,
        not_before=window["nb"],
        not_after=window["na"],
        **kw,  # type: ignore[arg-type]
    )


def _leaf(issuer: Made, key: object, window: dict[str, dt.datetime], **kw: object) -> Made:
    options: dict[str, object] = {
        "dns": [HOST],
        "not_before": window["nb"],
        "not_after": window["na"],
    }
    options.update(kw)
    return issue(HOST, key=key, issuer=issuer, **options)  # type: ignore[arg-type]


def _check(
    chain: list[Made],
    anchors: list[Made],
    at: dt.datetime,
    *,
    revocation: RevocationOptions | None = None,
    forced: bool = False,
) -> ValidationResult:
    return validate_server_chain(
        [m.der for m in chain],
        HOST,
        anchors=anchors_from_certificates([a.cert for a in anchors], "path CA"),
        at=at,
        revocation=revocation,
        force_revocation_check=forced,
    ).result


def _only_invalid(result: ValidationResult, words: str) -> None:
    assert result.invalid_cert_or_chain and words in result.reasons["invalidCertOrChain"]
    assert result.trusted_root and not result.expired and not result.wrong_usage
    assert result.name_mismatch == Name.MATCH


def test_control_chain_with_intermediate_passes(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    ica = _ca(root, keys["intermediate"], window)
    result = _check([_leaf(ica, keys["leaf"], window), ica], [root], now)
    assert is_acceptable(result, revocation_forced=False), result.reasons


def test_intermediate_without_aki_is_invalid(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    ica = _ca(root, keys["intermediate"], window, aki=None)
    result = _check([_leaf(ica, keys["leaf"], window), ica], [root], now)
    _only_invalid(result, "has no authorityKeyIdentifier keyIdentifier")


def test_self_signed_root_without_aki_is_fine_but_without_ski_is_invalid(
    keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    # A self-signed root needs no AKI (RFC 5280 4.2.1.1); the SKI "MUST appear in
    # all conforming CA certificates" (4.2.1.2), the trust anchor included.
    kw = {"key": keys["other"], "ca": True, "aki": None}
    dates = {"not_before": window["nb"], "not_after": window["na"]}
    with_ski = issue("Bare Root", **kw, **dates)  # type: ignore[arg-type]
    without_ski = issue("Bare Root", ski=False, **kw, **dates)  # type: ignore[arg-type]
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(keys["other"].public_key())
    leaf = _leaf(with_ski, keys["leaf"], window, aki=aki)
    assert is_acceptable(_check([leaf], [with_ski], now), revocation_forced=False)
    result = _check([leaf], [without_ski], now)
    _only_invalid(result, "'Bare Root' has no subjectKeyIdentifier (RFC 5280 4.2.1.2)")


@pytest.mark.parametrize("critical", [True, False])
def test_name_constraints_on_a_root_must_be_critical(
    keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime, critical: bool
) -> None:
    # RFC 5280 4.2.1.10: "Conforming CAs MUST mark this extension as critical."
    constraints = x509.NameConstraints([x509.DNSName("server.test")], None)
    constrained = issue(
        "NC Root",
        key=keys["other"],
        ca=True,
        not_before=window["nb"],
        not_after=window["na"],
        extensions=[(constraints, critical)],
    )
    leaf = _leaf(constrained, keys["leaf"], window)
    result = _check([leaf], [constrained], now)
    if critical:
        assert is_acceptable(result, revocation_forced=False), result.reasons
    else:
        _only_invalid(result, "non-critical nameConstraints")


def test_key_usage_is_required_below_the_anchor_only(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    # RFC 5280 4.2.1.3 / BR 7.1.2.10.7 for issuing CAs; a trust anchor is trusted for
    # its name and key (RFC 5280 6.1.1(d)), so one without keyUsage still anchors.
    bare_root = issue(
        "KU-less Root",
        key=keys["other"],
        ca=True,
        key_usage=None,
        not_before=window["nb"],
        not_after=window["na"],
    )
    leaf = _leaf(bare_root, keys["leaf"], window)
    assert is_acceptable(_check([leaf], [bare_root], now), revocation_forced=False)
    ica = _ca(root, keys["intermediate"], window, key_usage=None)
    result = _check([_leaf(ica, keys["leaf"], window), ica], [root], now)
    assert not is_acceptable(result, revocation_forced=False)
    assert "'Path ICA' has no keyUsage extension" in result.reasons["invalidCertOrChain"]


def test_the_leaf_does_not_count_toward_path_length(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    # RFC 5280 4.2.1.9: root -> ICA(pathlen 0) -> CA(pathlen 0) in the leaf
    # position is a valid path. The leaf is then still refused for being a CA
    # (the WebPKI rule), and only for that.
    ica = _ca(root, keys["intermediate"], window, path_length=0)
    ca_leaf = issue(
        HOST,
        key=keys["leaf"],
        issuer=ica,
        ca=True,
        path_length=0,
        dns=[HOST],
        not_before=window["nb"],
        not_after=window["na"],
    )
    result = _check([ca_leaf, ica], [root], now)
    assert result.trusted_root and not result.invalid_cert_or_chain, result.reasons
    assert result.wrong_usage and "is a CA certificate" in result.reasons["wrongUsage"]


def test_more_certificates_than_the_bound_is_a_refusal_with_its_reason(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    ica = _ca(root, keys["intermediate"], window)
    leaf = _leaf(ica, keys["leaf"], window)
    result = _check([leaf] + [ica] * MAX_PRESENTED_CERTIFICATES, [root], now)
    assert not result.trusted_root and result.invalid_cert_or_chain
    assert f"over the limit of {MAX_PRESENTED_CERTIFICATES}" in result.reasons["trustedRoot"]


def test_trusted_cross_certificate_without_aki_is_invalid(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    # An anchor issued by another CA is not self-signed: it must carry an AKI.
    cross = _ca(root, keys["intermediate"], window, aki=None)
    result = _check([_leaf(cross, keys["leaf"], window)], [cross], now)
    _only_invalid(result, "has no authorityKeyIdentifier keyIdentifier")


def test_intermediate_without_ski_is_invalid(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    ica = _ca(root, keys["intermediate"], window, ski=False)
    leaf = _leaf(ica, keys["leaf"], window)
    result = _check([leaf, ica], [root], now)
    _only_invalid(result, "has no subjectKeyIdentifier")


def test_leaf_with_serial_zero_is_invalid_but_a_root_may_have_it(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography warns on non-positive serials
        leaf = resign_with_serial(_leaf(root, keys["leaf"], window), 0, root.key)
        _only_invalid(_check([leaf], [root], now), "serial number 0")
        zero_root = resign_with_serial(root, 0, root.key)
        result = _check([_leaf(zero_root, keys["leaf"], window)], [zero_root], now)
    assert is_acceptable(result, revocation_forced=False), result.reasons


def test_non_critical_policy_constraints_are_invalid(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    good = _ca(root, keys["intermediate"], window)
    builder = x509.CertificateBuilder(
        issuer_name=good.cert.issuer,
        subject_name=good.cert.subject,
        public_key=good.cert.public_key(),
        serial_number=x509.random_serial_number(),
        not_valid_before=window["nb"],
        not_valid_after=window["na"],
        extensions=list(good.cert.extensions),
    ).add_extension(x509.PolicyConstraints(0, None), critical=False)
    ica = Made(builder.sign(root.key, hashes.SHA256()), good.key)
    result = _check([_leaf(ica, keys["leaf"], window), ica], [root], now)
    _only_invalid(result, "non-critical policyConstraints")


def test_leaf_listing_any_eku_is_wrong_usage(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    leaf = _leaf(
        root, keys["leaf"], window, eku=[SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]
    )
    result = _check([leaf], [root], now)
    assert result.wrong_usage and "anyExtendedKeyUsage" in result.reasons["wrongUsage"]
    assert result.trusted_root and not result.invalid_cert_or_chain


def test_root_with_eku_is_wrong_usage(
    keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    plain = issue(
        "EKU Root", key=keys["other"], ca=True, not_before=window["nb"], not_after=window["na"]
    )
    builder = x509.CertificateBuilder(
        issuer_name=plain.cert.subject,
        subject_name=plain.cert.subject,
        public_key=plain.cert.public_key(),
        serial_number=x509.random_serial_number(),
        not_valid_before=window["nb"],
        not_valid_after=window["na"],
        extensions=list(plain.cert.extensions),
    ).add_extension(x509.ExtendedKeyUsage([SERVER_AUTH]), critical=False)
    eku_root = Made(builder.sign(plain.key, hashes.SHA256()), plain.key)
    result = _check([_leaf(eku_root, keys["leaf"], window)], [eku_root], now)
    assert result.wrong_usage and "CA/B BR 7.1.2.1.2" in result.reasons["wrongUsage"]
    assert result.trusted_root and not result.invalid_cert_or_chain


def test_validity_is_compared_in_whole_seconds(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime]
) -> None:
    leaf = _leaf(root, keys["leaf"], window)
    just_after = window["na"] + dt.timedelta(milliseconds=5)
    assert not _check([leaf], [root], just_after).expired
    assert _check([leaf], [root], window["na"] + dt.timedelta(seconds=1)).expired


def test_unused_forged_cross_sign_does_not_spoil_a_good_path(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    # The server also sends a copy of its intermediate "issued" by the root's name
    # but signed by a stranger: the good copy gives a path, the bad one is ignored.
    ica = _ca(root, keys["intermediate"], window)
    impostor = issue(
        "Path Root", key=keys["other"], ca=True, not_before=window["nb"], not_after=window["na"]
    )
    forged = _ca(impostor, keys["intermediate"], window)
    leaf = _leaf(ica, keys["leaf"], window)
    result = _check([leaf, forged, ica], [root], now)
    assert is_acceptable(result, revocation_forced=False), result.reasons


def test_long_bridged_chains_are_searched(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    # A bridge-PKI server sends many cross-certificates; the one that matters may
    # come after more than a handful of unrelated ones.
    assert MAX_PRESENTED_CERTIFICATES >= 32
    ica = _ca(root, keys["intermediate"], window)
    strangers = [
        issue(
            f"Other CA {i}",
            key=keys["other"],
            ca=True,
            not_before=window["nb"],
            not_after=window["na"],
        )
        for i in range(20)
    ]
    leaf = _leaf(ica, keys["leaf"], window)
    result = _check([leaf, *strangers, ica], [root], now)
    assert is_acceptable(result, revocation_forced=False), result.reasons


def _with_wildcard_name_constraint(made: Made, signer: Made | None) -> Made:
    """`made` plus a nameConstraints extension permitting '*.example.com', which
    RFC 5280 4.2.1.10 does not allow (cryptography refuses to read it)."""
    name = b"*.example.com"
    subtree = b"\x30" + bytes([len(name) + 2]) + b"\x82" + bytes([len(name)]) + name
    permitted = b"\xa0" + bytes([len(subtree)]) + subtree
    raw = b"\x30" + bytes([len(permitted)]) + permitted
    builder = x509.CertificateBuilder(
        issuer_name=made.cert.issuer,
        subject_name=made.cert.subject,
        public_key=made.cert.public_key(),
        serial_number=x509.random_serial_number(),
        not_valid_before=made.cert.not_valid_before_utc,
        not_valid_after=made.cert.not_valid_after_utc,
        extensions=list(made.cert.extensions),
    ).add_extension(
        x509.UnrecognizedExtension(x509.oid.ExtensionOID.NAME_CONSTRAINTS, raw), critical=True
    )
    return Made(builder.sign((signer or made).key, hashes.SHA256()), made.key)


def test_unreadable_intermediate_is_invalid_and_never_used(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    ica = _with_wildcard_name_constraint(_ca(root, keys["intermediate"], window), root)
    result = _check([_leaf(ica, keys["leaf"], window), ica], [root], now)
    assert result.invalid_cert_or_chain and not result.trusted_root
    assert "malformed extension" in result.reasons["invalidCertOrChain"]
    assert not is_acceptable(result, revocation_forced=False)


def test_unreadable_trust_anchor_is_not_used(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    bad_root = _with_wildcard_name_constraint(root, None)
    result = _check([_leaf(root, keys["leaf"], window)], [bad_root], now)
    assert not result.trusted_root and "malformed extension" in result.reasons["trustedRoot"]
    assert not is_acceptable(result, revocation_forced=False)
    # Next to a readable anchor, the unreadable one is skipped and named.
    result = _check([_leaf(root, keys["leaf"], window)], [bad_root, root], now)
    assert is_acceptable(result, revocation_forced=False), result.reasons
    assert "less 1 unreadable" in result.reasons["trustedRoot"]


@pytest.mark.parametrize(
    ("permitted", "excluded", "refused"),
    [
        (["lab.test"], None, False),  # control: every name '*.lab.test' matches is permitted
        (["foo.lab.test"], None, True),  # CVE-2025-61727 pattern: the host alone is permitted
        (None, ["bad.lab.test"], True),  # the wildcard can match an excluded name
    ],
)
def test_a_wildcard_san_must_stay_inside_the_name_constraints(
    keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
    permitted: list[str] | None,
    excluded: list[str] | None,
    refused: bool,
) -> None:
    # RFC 5280 4.2.1.10 for every name the wildcard can match, not only the host.
    constraints = x509.NameConstraints(
        [x509.DNSName(p) for p in permitted] if permitted else None,
        [x509.DNSName(e) for e in excluded] if excluded else None,
    )
    constrained = issue(
        "NC Root",
        key=keys["other"],
        ca=True,
        not_before=window["nb"],
        not_after=window["na"],
        extensions=[(constraints, True)],
    )
    leaf = issue(
        "foo.lab.test",
        key=keys["leaf"],
        issuer=constrained,
        dns=["*.lab.test"],
        not_before=window["nb"],
        not_after=window["na"],
    )
    result = validate_server_chain(
        [leaf.der],
        "foo.lab.test",
        anchors=anchors_from_certificates([constrained.cert], "NC CA"),
        at=now,
    ).result
    if refused:
        assert not result.trusted_root and not is_acceptable(result, revocation_forced=False)
    else:
        assert is_acceptable(result, revocation_forced=False), result.reasons

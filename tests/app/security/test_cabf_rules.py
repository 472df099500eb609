"""One test per baseline rule, each with a certificate built to break only it."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pkibuild import Made, issue, make_v1

from app.security.acceptance import is_acceptable
from app.security.system_validation import ChainValidation, validate_server_chain
from app.security.testpki import SigningKey
from app.security.trust import anchors_from_certificates
from app.xr.values import CertificateNameValidationResult as Name


@pytest.fixture(scope="module")
def root(keys: dict[str, SigningKey], window: dict[str, dt.datetime]) -> Made:
    return issue(
        "Rules Root", key=keys["root"], ca=True, not_before=window["nb"], not_after=window["na"]
    )


def _leaf(root: Made, window: dict[str, dt.datetime], key: object, **kw: object) -> Made:
    options: dict[str, object] = {
        "dns": ["server.test"],
        "not_before": window["nb"],
        "not_after": window["na"],
    }
    options.update(kw)
    cn = options.pop("cn", "server.test")
    return issue(cn, key=key, issuer=root, **options)  # type: ignore[arg-type]


def _validate(
    chain: list[Made], host: str, anchors: list[Made], now: dt.datetime
) -> ChainValidation:
    return validate_server_chain(
        [m.der for m in chain],
        host,
        anchors=anchors_from_certificates([a.cert for a in anchors], "rules CA"),
        at=now,
    )


def test_control_leaf_passes(
    root: Made, window: dict[str, dt.datetime], keys: dict[str, SigningKey], now: dt.datetime
) -> None:
    result = _validate([_leaf(root, window, keys["leaf"])], "server.test", [root], now).result
    assert is_acceptable(result, revocation_forced=False), result.reasons


@pytest.mark.parametrize(
    ("cn", "dns", "ips"),
    [
        ("My lab server", ["server.test"], []),  # not a host name at all
        ("EE", ["server.test"], []),  # one label: a label, not a host (BetterTLS leaves)
        ("lab.test", ["server.lab.test"], []),  # the zone the SAN lies in
        ("lab.test", ["*.lab.test"], []),  # the base of a wildcard SAN
        ("server.lab", [], ["192.168.1.20"]),  # a DNS name next to IP SANs only
    ],
)
def test_cn_that_names_no_other_host_is_ignored(
    root: Made,
    window: dict[str, dt.datetime],
    keys: dict[str, SigningKey],
    now: dt.datetime,
    cn: str,
    dns: list[str],
    ips: list[str],
) -> None:
    leaf = _leaf(root, window, keys["leaf"], cn=cn, dns=dns, ips=ips)
    host = dns[0].replace("*", "www") if dns else ips[0]
    result = _validate([leaf], host, [root], now).result
    assert is_acceptable(result, revocation_forced=False), result.reasons


@pytest.mark.parametrize(
    ("cn", "dns", "ips"),
    [
        ("other.test", ["server.test"], []),  # ASCII host name
        ("notinsan.example.test", ["valid.example.test", "another.example.test"], []),
        ("xn--nxasmq6b.test", ["xn--n3h.test"], []),  # A-label of another name
        ("test-\u6e2c\u8a66.test", ["xn--test--wg5h0h.test"], []),  # U-label of another name
        ("192.168.1.21", [], ["192.168.1.20"]),  # another address
    ],
)
def test_cn_naming_a_host_not_among_the_sans_is_invalid(
    root: Made,
    window: dict[str, dt.datetime],
    keys: dict[str, SigningKey],
    now: dt.datetime,
    cn: str,
    dns: list[str],
    ips: list[str],
) -> None:
    # CA/B BR 7.1.4.3: the CN, if present, is one of the SAN values.
    leaf = _leaf(root, window, keys["leaf"], cn=cn, dns=dns, ips=ips)
    host = dns[0] if dns else ips[0]
    result = _validate([leaf], host, [root], now).result
    assert result.name_mismatch == Name.MATCH and result.trusted_root
    assert result.invalid_cert_or_chain
    assert "not among the subjectAltNames" in result.reasons["invalidCertOrChain"]
    assert not is_acceptable(result, revocation_forced=False)


@pytest.mark.parametrize(
    ("cn", "dns", "ips"),
    [
        ("Server.TEST", ["server.test"], []),  # case differs from the SAN
        ("b\u00fccher.test", ["xn--bcher-kva.test"], []),  # U-label of an A-label SAN
        ("192.168.001.001", [], ["192.168.1.1"]),  # zero-padded (octal to legacy parsers)
        ("0xC0A80101", [], ["192.168.1.1"]),  # one hex number
        ("2001:DB8::1", [], ["2001:db8::1"]),  # upper-case IPv6
        ("2001:db8:0:0:0:0:0:1", [], ["2001:db8::1"]),  # not RFC 5952 compressed
    ],
)
def test_cn_spelling_a_san_differently_is_invalid(
    root: Made,
    window: dict[str, dt.datetime],
    keys: dict[str, SigningKey],
    now: dt.datetime,
    cn: str,
    dns: list[str],
    ips: list[str],
) -> None:
    leaf = _leaf(root, window, keys["leaf"], cn=cn, dns=dns, ips=ips)
    host = dns[0] if dns else ips[0]
    result = _validate([leaf], host, [root], now).result
    assert result.invalid_cert_or_chain
    assert "character-for-character copy" in result.reasons["invalidCertOrChain"]
    assert result.name_mismatch == Name.MATCH and result.trusted_root and not result.wrong_usage


def test_host_only_in_cn_never_matches(
    root: Made, window: dict[str, dt.datetime], keys: dict[str, SigningKey], now: dt.datetime
) -> None:
    leaf = issue(
        "server.test",
        key=keys["leaf"],
        issuer=root,
        dns=["alt.test"],
        not_before=window["nb"],
        not_after=window["na"],
    )
    result = _validate([leaf], "server.test", [root], now).result
    assert result.name_mismatch == Name.MISMATCH
    assert "only in the subject CN" in result.reasons["nameMismatch"]


def test_leaf_without_eku_is_wrong_usage(
    root: Made, window: dict[str, dt.datetime], keys: dict[str, SigningKey], now: dt.datetime
) -> None:
    result = _validate(
        [_leaf(root, window, keys["leaf"], eku=None)], "server.test", [root], now
    ).result
    assert result.wrong_usage and "no extended key usage" in result.reasons["wrongUsage"]
    assert (
        result.trusted_root
        and result.name_mismatch == Name.MATCH
        and not result.invalid_cert_or_chain
    )


def test_leaf_with_only_any_eku_is_wrong_usage(
    root: Made, window: dict[str, dt.datetime], keys: dict[str, SigningKey], now: dt.datetime
) -> None:
    leaf = _leaf(root, window, keys["leaf"], eku=[ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE])
    result = _validate([leaf], "server.test", [root], now).result
    assert result.wrong_usage and "serverAuth is required" in result.reasons["wrongUsage"]
    assert result.trusted_root and not result.invalid_cert_or_chain


def test_leaf_that_is_a_ca_is_wrong_usage(
    root: Made, window: dict[str, dt.datetime], keys: dict[str, SigningKey], now: dt.datetime
) -> None:
    leaf = issue(
        "server.test",
        key=keys["leaf"],
        issuer=root,
        ca=True,
        dns=["server.test"],
        not_before=window["nb"],
        not_after=window["na"],
    )
    result = _validate([leaf], "server.test", [root], now).result
    assert result.wrong_usage and "is a CA certificate" in result.reasons["wrongUsage"]


def test_issuer_that_is_not_a_ca_is_wrong_usage(
    root: Made, window: dict[str, dt.datetime], keys: dict[str, SigningKey], now: dt.datetime
) -> None:
    not_ca = issue(
        "Not A CA",
        key=keys["intermediate"],
        issuer=root,
        ca=False,
        eku=None,
        dns=["ca.test"],
        key_usage=None,
        not_before=window["nb"],
        not_after=window["na"],
    )
    leaf = issue(
        "server.test",
        key=keys["leaf"],
        issuer=not_ca,
        dns=["server.test"],
        not_before=window["nb"],
        not_after=window["na"],
    )
    result = _validate([leaf, not_ca], "server.test", [root], now).result
    assert result.wrong_usage and "'Not A CA' is not a CA" in result.reasons["wrongUsage"]
    assert not result.trusted_root


@pytest.mark.parametrize(
    ("label", "make_key", "expected"),
    [
        (
            "rsa1024",
            lambda: rsa.generate_private_key(65537, 1024),
            "1024-bit RSA key; at least 2048",
        ),
        (
            "rsa2052",
            lambda: rsa.generate_private_key(65537, 2052),
            "2052-bit RSA key; the size must be a multiple of 8",
        ),
        ("dsa", lambda: dsa.generate_private_key(1024), "DSA key"),
        ("p192", lambda: ec.generate_private_key(ec.SECP192R1()), "weak curve secp192r1"),
    ],
)
def test_weak_leaf_keys_are_invalid(
    root: Made,
    window: dict[str, dt.datetime],
    now: dt.datetime,
    label: str,
    make_key: object,
    expected: str,
) -> None:
    leaf = _leaf(root, window, make_key())  # type: ignore[operator]
    result = _validate([leaf], "server.test", [root], now).result
    assert result.invalid_cert_or_chain, label
    assert expected in result.reasons["invalidCertOrChain"]
    assert not is_acceptable(result, revocation_forced=False)


@pytest.mark.parametrize(
    ("san", "host"),
    [
        ("*.com", "example.com"),
        ("*.co.uk", "shop.co.uk"),
        ("*.test", "server.test"),
        # from the Public Suffix List the publicsuffixlist package ships (a deep
        # entry and a wildcard rule), beyond any short hand-kept list
        ("*.pvt.k12.ma.us", "school.pvt.k12.ma.us"),
        ("*.kawasaki.jp", "shop.kawasaki.jp"),
    ],
)
def test_wildcard_over_public_suffix_never_matches(
    root: Made,
    window: dict[str, dt.datetime],
    keys: dict[str, SigningKey],
    now: dt.datetime,
    san: str,
    host: str,
) -> None:
    leaf = _leaf(root, window, keys["leaf"], dns=[san], cn=san)
    result = _validate([leaf], host, [root], now).result
    assert result.name_mismatch == Name.MISMATCH
    assert "public suffix" in result.reasons["nameMismatch"]
    assert result.trusted_root and not result.wrong_usage and not result.invalid_cert_or_chain


@pytest.mark.parametrize("host", ["b\u00fccher.test", "B\u00dcCHER.test", "xn--bcher-kva.test"])
def test_unicode_host_matches_through_its_a_label(
    root: Made,
    window: dict[str, dt.datetime],
    keys: dict[str, SigningKey],
    now: dt.datetime,
    host: str,
) -> None:
    # RFC 5280 7.2: certificates carry A-labels; UTS 46 maps what the user typed.
    leaf = _leaf(root, window, keys["leaf"], dns=["xn--bcher-kva.test"], cn="xn--bcher-kva.test")
    result = _validate([leaf], host, [root], now).result
    assert result.name_mismatch == Name.MATCH, result.reasons["nameMismatch"]
    assert is_acceptable(result, revocation_forced=False)


def test_invalid_unicode_host_is_named() -> None:
    from app.security.hostnames import parse_host

    with pytest.raises(ValueError, match="not a valid internationalised host name"):
        parse_host("\u2603\u200d.test")


@pytest.mark.parametrize(
    ("san", "host"),
    [("ba*.example.com", "baz.example.com"), ("foo.*.example.com", "foo.bar.example.com")],
)
def test_partial_or_inner_wildcards_never_match(
    root: Made,
    window: dict[str, dt.datetime],
    keys: dict[str, SigningKey],
    now: dt.datetime,
    san: str,
    host: str,
) -> None:
    leaf = _leaf(root, window, keys["leaf"], dns=[san], cn=None)
    assert _validate([leaf], host, [root], now).result.name_mismatch == Name.MISMATCH


def test_v1_certificate_is_invalid(
    window: dict[str, dt.datetime], keys: dict[str, SigningKey], now: dt.datetime
) -> None:
    v1_root = make_v1(
        "V1 Root", key=keys["other"], issuer=None, not_before=window["nb"], not_after=window["na"]
    )
    leaf = issue(
        "server.test",
        key=keys["leaf"],
        issuer=v1_root,
        dns=["server.test"],
        not_before=window["nb"],
        not_after=window["na"],
    )
    result = _validate([leaf], "server.test", [v1_root], now).result
    assert result.invalid_cert_or_chain
    assert "'V1 Root' is an X.509 v1 certificate" in result.reasons["invalidCertOrChain"]
    assert not is_acceptable(result, revocation_forced=False)


def test_aki_not_matching_issuer_ski_is_invalid(
    root: Made, window: dict[str, dt.datetime], keys: dict[str, SigningKey], now: dt.datetime
) -> None:
    wrong = x509.AuthorityKeyIdentifier(os.urandom(20), None, None)
    leaf = _leaf(root, window, keys["leaf"], aki=wrong)
    result = _validate([leaf], "server.test", [root], now).result
    assert result.invalid_cert_or_chain
    assert (
        "authorityKeyIdentifier/subjectKeyIdentifier mismatch"
        in result.reasons["invalidCertOrChain"]
    )
    assert result.name_mismatch == Name.MATCH and not result.expired and not result.wrong_usage


def test_root_aki_not_matching_its_own_ski_is_invalid(
    window: dict[str, dt.datetime], keys: dict[str, SigningKey], now: dt.datetime
) -> None:
    odd_root = issue(
        "Odd Root",
        key=keys["other"],
        ca=True,
        aki=x509.AuthorityKeyIdentifier(os.urandom(20), None, None),
        not_before=window["nb"],
        not_after=window["na"],
    )
    leaf = _leaf(odd_root, window, keys["leaf"])
    result = _validate([leaf], "server.test", [odd_root], now).result
    assert result.invalid_cert_or_chain
    assert "differs from its own subjectKeyIdentifier" in result.reasons["invalidCertOrChain"]


def test_two_common_names_are_invalid(
    root: Made, window: dict[str, dt.datetime], keys: dict[str, SigningKey], now: dt.datetime
) -> None:
    leaf = _leaf(root, window, keys["leaf"])
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "server.test"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "x.test"),
                ]
            )
        )
        .issuer_name(root.cert.subject)
        .public_key(keys["leaf"].public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(window["nb"])
        .not_valid_after(window["na"])
    )
    for extension in leaf.cert.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    from cryptography.hazmat.primitives import hashes

    twin = Made(builder.sign(root.key, hashes.SHA256()), keys["leaf"])
    result = _validate([twin], "server.test", [root], now).result
    assert (
        result.invalid_cert_or_chain and "2 CN attributes" in result.reasons["invalidCertOrChain"]
    )


def test_bad_signature_is_invalid_and_untrusted(
    root: Made, window: dict[str, dt.datetime], keys: dict[str, SigningKey], now: dt.datetime
) -> None:
    impostor = issue(
        "Rules Root", key=keys["other"], ca=True, not_before=window["nb"], not_after=window["na"]
    )
    leaf = _leaf(impostor, window, keys["leaf"])
    result = _validate([leaf], "server.test", [root], now).result
    assert not result.trusted_root
    assert (
        result.invalid_cert_or_chain and "does not verify" in result.reasons["invalidCertOrChain"]
    )

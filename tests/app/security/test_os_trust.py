"""The OS trust store, one function per OS: Linux for real (the distribution's
bundle, SSL_CERT_FILE, SSL_CERT_DIR), Windows and macOS with their platform call
replaced by certificates the test made."""

from __future__ import annotations

import datetime as dt
import ssl
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from pkibuild import Made, issue

from app.security import os_trust
from app.security.acceptance import is_acceptable
from app.security.errors import TrustSourceError
from app.security.system_validation import validate_server_chain
from app.security.testpki import SigningKey
from app.security.trust import TrustAnchors, system_anchors


@pytest.fixture(scope="module")
def lab(keys: dict[str, SigningKey], window: dict[str, dt.datetime]) -> dict[str, Made]:
    root = issue(
        "Lab Private Root",
        key=keys["root"],
        ca=True,
        not_before=window["nb"],
        not_after=window["na"],
    )
    ica = issue(
        "Lab Issuing CA",
        key=keys["intermediate"],
        issuer=root,
        ca=True,
        not_before=window["nb"],
        not_after=window["na"],
    )
    leaf = issue(
        "server.lab",
        key=keys["leaf"],
        issuer=ica,
        dns=["server.lab"],
        not_before=window["nb"],
        not_after=window["na"],
    )
    other = issue(
        "Code Signing Only Root",
        key=keys["other"],
        ca=True,
        not_before=window["nb"],
        not_after=window["na"],
    )
    return {"root": root, "ica": ica, "leaf": leaf, "other": other}


def _pem(made: Made) -> bytes:
    return made.cert.public_bytes(serialization.Encoding.PEM)


def _accepted(anchors: TrustAnchors, lab: dict[str, Made], now: dt.datetime) -> bool:
    result = validate_server_chain([lab["leaf"].der], "server.lab", anchors=anchors, at=now).result
    return is_acceptable(result, revocation_forced=False)


# --- Linux, for real --------------------------------------------------------------------


def test_linux_store_is_the_distribution_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    anchors = system_anchors()
    assert len(anchors.certificates) > 50  # the ca-certificates bundle
    assert "system CA" in anchors.description


def test_ssl_cert_file_and_dir_are_honoured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lab: dict[str, Made], now: dt.datetime
) -> None:
    bundle = tmp_path / "lab.pem"
    bundle.write_bytes(_pem(lab["root"]))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    anchors = system_anchors()
    assert [c.subject for c in anchors.certificates] == [lab["root"].cert.subject]
    assert "SSL_CERT_FILE" in anchors.description
    monkeypatch.delenv("SSL_CERT_FILE")
    directory = tmp_path / "certs"
    directory.mkdir()
    (directory / "lab.pem").write_bytes(_pem(lab["root"]))
    monkeypatch.setenv("SSL_CERT_DIR", str(directory))
    anchors = system_anchors()
    assert "SSL_CERT_DIR" in anchors.description and len(anchors.certificates) == 1


def test_ssl_cert_file_naming_nothing_usable_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    monkeypatch.setenv("SSL_CERT_FILE", str(junk))
    with pytest.raises(TrustSourceError, match="SSL_CERT_FILE") as caught:
        system_anchors()
    assert caught.value.fix and "unset it" in caught.value.fix


def test_linux_without_any_bundle_names_the_package(tmp_path: Path) -> None:
    nowhere = ssl.DefaultVerifyPaths(
        None, None, "SSL_CERT_FILE", str(tmp_path / "none.pem"), "SSL_CERT_DIR", str(tmp_path)
    )
    with pytest.raises(TrustSourceError) as caught:
        os_trust.unix_store({}, nowhere)
    assert caught.value.fix and "ca-certificates" in caught.value.fix


# --- Windows, ssl.enum_certificates replaced ----------------------------------------------


def _windows_stores(lab: dict[str, Made]) -> dict[str, list[tuple[bytes, str, Any]]]:
    return {
        "ROOT": [
            (lab["root"].der, "x509_asn", True),  # all purposes
            (lab["other"].der, "x509_asn", {ExtendedKeyUsageOID.CODE_SIGNING.dotted_string}),
            (b"\x30\x03\x02\x01\x00", "pkcs_7_asn", True),  # not an X.509 encoding
        ],
        "CA": [(lab["ica"].der, "x509_asn", {ExtendedKeyUsageOID.SERVER_AUTH.dotted_string})],
    }


def test_windows_root_and_ca_stores_with_trust_flags(
    monkeypatch: pytest.MonkeyPatch, lab: dict[str, Made], now: dt.datetime
) -> None:
    stores = _windows_stores(lab)
    monkeypatch.setattr(ssl, "enum_certificates", stores.__getitem__, raising=False)
    anchors = system_anchors(platform="win32")
    assert [c.subject for c in anchors.certificates] == [lab["root"].cert.subject]
    assert [c.subject for c in anchors.intermediates] == [lab["ica"].cert.subject]
    assert "Windows certificate store" in anchors.description
    # The lab's private root from the Windows store works; the server sent only its
    # leaf, and the CA store supplied the intermediate.
    assert _accepted(anchors, lab, now)


def test_windows_store_without_a_server_root_names_the_windows_remedy(
    lab: dict[str, Made],
) -> None:
    stores = {"ROOT": [(lab["other"].der, "x509_asn", {"1.3.6.1.5.5.7.3.3"})], "CA": []}
    with pytest.raises(TrustSourceError) as caught:
        os_trust.windows_store(stores.__getitem__)
    assert caught.value.fix and "certutil -addstore Root" in caught.value.fix


# --- macOS, `security find-certificate -a -p` replaced -------------------------------------


def test_macos_system_keychains(lab: dict[str, Made], now: dt.datetime) -> None:
    asked: list[list[str]] = []

    def security(args: Sequence[str]) -> bytes:
        asked.append(list(args))
        if args[-1] == "/Library/Keychains/System.keychain":
            return _pem(lab["root"])
        raise subprocess.CalledProcessError(44, "security")

    roots, description = os_trust.macos_store(security)
    assert [c.subject for c in roots] == [lab["root"].cert.subject]
    assert ["find-certificate", "-a", "-p", "/Library/Keychains/System.keychain"] in asked
    assert "macOS system keychains" in description


def test_macos_without_certificates_names_the_keychain_remedy() -> None:
    def security(args: Sequence[str]) -> bytes:
        return b""

    with pytest.raises(TrustSourceError) as caught:
        os_trust.macos_store(security)
    assert caught.value.fix and "add-trusted-cert" in caught.value.fix

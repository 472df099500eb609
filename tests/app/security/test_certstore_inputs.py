"""Every bad certificate input gets a clear message naming the file and the fix,
and never the passphrase."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from app.security.certstore import (
    MAX_STORE_BYTES,
    load_certificate_store,
    read_bounded_file,
    select_server_certificate,
)
from app.security.errors import CertificateFileError
from app.security.testpki import GeneratedPki, create_test_pki


def _error(data: bytes, passphrase: str | None = None, source: str = "server.pfx") -> str:
    with pytest.raises(CertificateFileError) as caught:
        load_certificate_store(data, passphrase, source=source)
    message = str(caught.value)
    assert source in message
    return message


def test_wrong_passphrase(pki: GeneratedPki) -> None:
    message = _error(pki.pfx, "not the passphrase")
    assert "could not be opened with the passphrase given" in message
    assert "--passphrase-file" in message
    assert "not the passphrase" not in message and "correct horse" not in message


def test_missing_passphrase(pki: GeneratedPki) -> None:
    message = _error(pki.pfx, None)
    assert "protected by a passphrase, and none was given" in message


def test_store_without_passphrase_opens_with_none(
    keys: dict[str, object], now: dt.datetime
) -> None:
    open_store = create_test_pki(["open.test"], passphrase="", now=now)
    store = load_certificate_store(open_store.pfx, None, source="open.pfx")
    assert store.entries[0].private_key is not None


def test_no_private_key_for_the_selected_certificate(pki: GeneratedPki) -> None:
    store = load_certificate_store(pki.chain_pem, None, source="chain.pem")
    with pytest.raises(CertificateFileError) as caught:
        select_server_certificate(store, "server.test")
    assert "its private key is not" in str(caught.value)
    assert "chain.pem" in str(caught.value)


def test_key_not_matching_certificate(pki: GeneratedPki, keys: dict[str, object]) -> None:
    other_key = keys["other"].private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    message = _error(pki.server.pem + other_key, source="server.pem")
    assert "private key that does not match any certificate" in message
    assert "server.test" in message


def test_only_a_key(keys: dict[str, object]) -> None:
    key_pem = keys["other"].private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert "holds only a private key" in _error(key_pem, source="key.pem")


def test_encrypted_pem_key_without_passphrase(pki: GeneratedPki) -> None:
    encrypted = pki.server.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pem-secret"),
    )
    assert "is encrypted, and no passphrase was given" in _error(
        pki.server.pem + encrypted, source="s.pem"
    )
    message = _error(pki.server.pem + encrypted, "wrong", source="s.pem")
    assert (
        "could not be decrypted" in message and "wrong" not in message.split("passphrase given")[1]
    )
    store = load_certificate_store(pki.server.pem + encrypted, "pem-secret", source="s.pem")
    assert store.entries[0].private_key is not None


def test_subject_name_not_found_lists_names(pki: GeneratedPki) -> None:
    store = load_certificate_store(pki.pfx, "correct horse", source="server.pfx")
    with pytest.raises(CertificateFileError) as caught:
        select_server_certificate(store, "missing-name")
    assert "names present: 'holo-server', 'server.test'" in str(caught.value)


def test_file_over_one_mebibyte(tmp_path: Path) -> None:
    big = tmp_path / "big.pfx"
    big.write_bytes(b"\0" * (MAX_STORE_BYTES + 1))
    with pytest.raises(CertificateFileError) as caught:
        read_bounded_file(big)
    assert str(big) in str(caught.value) and "over the 1024 KiB limit" in str(caught.value)
    assert "over the 1024 KiB limit" in _error(b"\x30" * (MAX_STORE_BYTES + 1))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CertificateFileError) as caught:
        read_bounded_file(tmp_path / "nope.pfx")
    assert "no such certificate file" in str(caught.value)


@pytest.mark.parametrize(
    "data", [b"hello, I am a text file\n", b"\x89PNG\r\n\x1a\n0000", b"\x30\x03\x02\x01\x05"]
)
def test_not_a_certificate(data: bytes) -> None:
    message = _error(data, source="thing.bin")
    assert "not a certificate" in message or "no CERTIFICATE block" in message


def test_empty_file() -> None:
    assert "is empty" in _error(b"", source="empty.pem")


def test_truncated_der_and_pfx(pki: GeneratedPki) -> None:
    assert "is truncated" in _error(pki.pfx[: len(pki.pfx) // 2])
    assert "is truncated" in _error(pki.server.der[:-10], source="leaf.der")


def test_truncated_pem(pki: GeneratedPki) -> None:
    assert "is truncated" in _error(pki.server.pem[:-40], source="leaf.pem")


def test_damaged_pem_body(pki: GeneratedPki) -> None:
    damaged = (
        pki.server.pem.replace(b"MII", b"MI!", 1)
        if b"MII" in pki.server.pem
        else pki.server.pem[:40] + b"!!" + pki.server.pem[42:]
    )
    message = _error(damaged, source="leaf.pem")
    assert "damaged" in message or "not a valid certificate" in message


def test_expired_certificate_is_a_warning_not_a_refusal(
    pki: GeneratedPki, now: dt.datetime
) -> None:
    later = now + dt.timedelta(days=400)
    store = load_certificate_store(pki.pfx, "correct horse", source="server.pfx", now=later)
    assert len(store.entries) == 3
    assert any("'holo-server' expired on" in w for w in store.warnings)
    earlier = now - dt.timedelta(days=3)
    store = load_certificate_store(pki.pfx, "correct horse", source="server.pfx", now=earlier)
    assert any("is not valid before" in w for w in store.warnings)

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from app.security.testpki import GeneratedPki, create_test_pki


def test_server_certificate_has_sans_and_server_auth(pki: GeneratedPki) -> None:
    leaf = pki.server.certificate
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["server.test", "alt.server.test"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert pki.intermediate is not None
    leaf.verify_directly_issued_by(pki.intermediate.certificate)
    pki.intermediate.certificate.verify_directly_issued_by(pki.ca.certificate)


def test_pfx_holds_friendly_name_key_and_chain(pki: GeneratedPki) -> None:
    bundle = pkcs12.load_pkcs12(pki.pfx, b"correct horse")
    assert bundle.cert is not None
    assert bundle.cert.friendly_name == b"holo-server"
    assert bundle.cert.certificate == pki.server.certificate
    assert bundle.key is not None
    assert len(bundle.additional_certs) == 2


def test_thumbprints_and_pin(pki: GeneratedPki) -> None:
    leaf = pki.server.certificate
    assert pki.sha256_thumbprint == leaf.fingerprint(hashes.SHA256()).hex()
    assert pki.sha1_thumbprint == leaf.fingerprint(hashes.SHA1()).hex().upper()
    assert pki.pin == "SHA256:" + pki.sha256_thumbprint
    assert "█" in pki.qr_text() or "▀" in pki.qr_text()


def test_repr_hides_secrets(pki: GeneratedPki) -> None:
    text = repr(pki)
    assert "correct horse" not in text
    assert "pfx=" not in text
    assert "private_key" not in repr(pki.server)


def test_write_creates_files_with_private_pfx(pki: GeneratedPki, tmp_path: Path) -> None:
    paths = pki.write(tmp_path / "out")
    assert paths["pfx"].read_bytes() == pki.pfx
    assert stat.S_IMODE(paths["pfx"].stat().st_mode) == 0o600
    assert x509.load_pem_x509_certificate(paths["ca"].read_bytes()) == pki.ca.certificate
    assert pki.pin in paths["thumbprint"].read_text()
    assert paths["qr_svg"].read_text().lstrip().startswith("<?xml")


def test_rsa_key_type_and_generated_passphrase() -> None:
    made = create_test_pki(["rsa.test"], key_type="rsa", days=2)
    assert made.server.certificate.public_key().key_size == 2048  # type: ignore[union-attr]
    assert len(made.passphrase) >= 20
    pkcs12.load_pkcs12(made.pfx, made.passphrase.encode())

"""Inspector additions: PEM, the extensions (AKI, SKI, AIA, CRL DP, policies),
"expires in N days" (amber under 30, red once expired), export of a certificate and
the chain as PEM or DER that round-trip, thumbprints in groups that wrap."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from app.security.cert_extensions import EXPIRY_WARNING_DAYS, describe_extensions
from app.security.testpki import GeneratedPki, create_test_pki, generate_private_key
from ui import certificate_views
from ui.inspector import ChainInspector, grouped_thumbprint


def _der_chain(pki: GeneratedPki) -> tuple[bytes, ...]:
    return tuple(c.public_bytes(Encoding.DER) for c in pki.chain)


def _ca_with_every_extension() -> x509.Certificate:
    """A certificate carrying AIA, CRL DP and policies (the test PKI has AKI/SKI)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "extensions test")])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=100))
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier("http://ocsp.example.test"),
                    ),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier("http://ca.example.test/ca.cer"),
                    ),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier("http://crl.example.test/ca.crl")],
                        None,
                        None,
                        None,
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier("2.23.140.1.2.1"), None)]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )


def test_extensions_are_listed() -> None:
    cert = _ca_with_every_extension()
    rows = dict(describe_extensions(cert))
    ski = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest.hex().upper()
    assert rows["Subject key identifier (SKI)"].replace(":", "") == ski
    assert rows["Authority key identifier (AKI)"].replace(":", "") == ski
    aia = rows["Authority information access (AIA)"]
    assert "OCSP: http://ocsp.example.test" in aia
    assert "CA issuers: http://ca.example.test/ca.cer" in aia
    assert rows["CRL distribution points"] == "http://crl.example.test/ca.crl"
    assert rows["Certificate policies"] == "2.23.140.1.2.1"
    info = certificate_views.describe_certificate(cert)
    assert dict(info.fields)["CRL distribution points"] == "http://crl.example.test/ca.crl"


def test_pem_expiry_and_grouped_thumbprints(qtbot, pki: GeneratedPki) -> None:
    inspector = ChainInspector()
    qtbot.addWidget(inspector)
    inspector.show()
    infos = certificate_views.describe_chain(_der_chain(pki))
    inspector.show_chain(infos, None, "chain")
    leaf = pki.chain[0]
    assert inspector.pem_view.toPlainText() == leaf.public_bytes(Encoding.PEM).decode()
    assert inspector.expiry_label.text().startswith("expires in ")
    days = int(inspector.expiry_label.text().split()[2])
    expected = "warning" if days < EXPIRY_WARNING_DAYS else "ok"
    assert inspector.expiry_label.property("severity") == expected
    shown = inspector.thumb_labels["sha256"].text()
    assert shown.replace(" ", "") == infos[0].sha256 and len(shown.split()) == 16
    assert grouped_thumbprint("SHA256:" + "ab" * 32).startswith("SHA256: abab abab")


def test_expiring_soon_is_amber_and_expired_is_red(qtbot) -> None:
    soon = create_test_pki(["soon.test"], days=10, server_key=generate_private_key())
    now = dt.datetime.now(dt.UTC)
    old = create_test_pki(
        ["old.test"],
        days=30,
        now=now - dt.timedelta(days=400),
        server_key=generate_private_key(),
    )
    inspector = ChainInspector()
    qtbot.addWidget(inspector)
    inspector.show_chain(certificate_views.describe_chain(_der_chain(soon)), None, "soon")
    assert inspector.expiry_label.text() in ("expires in 9 days", "expires in 10 days")
    assert inspector.expiry_label.property("severity") == "warning"
    assert EXPIRY_WARNING_DAYS == 30
    inspector.show_chain(certificate_views.describe_chain(_der_chain(old)), None, "old")
    assert inspector.expiry_label.text().startswith("expired ")
    assert inspector.expiry_label.text().endswith(" days ago")
    assert inspector.expiry_label.property("severity") == "error"


def test_export_certificate_and_chain_round_trip(
    qtbot, qasync_loop, pki: GeneratedPki, tmp_path: Path
) -> None:
    inspector = ChainInspector()
    qtbot.addWidget(inspector)
    infos = certificate_views.describe_chain(_der_chain(pki))
    inspector.show_chain(infos, None, "chain")
    leaf_der = pki.chain[0].public_bytes(Encoding.DER)
    for name, fmt in (("leaf.pem", None), ("leaf.der", None), ("leaf.bin", "der")):
        target = tmp_path / name
        with qtbot.waitSignal(inspector.exported, timeout=5_000):
            inspector.export_certificate(str(target), fmt)
        data = target.read_bytes()
        loaded = (
            x509.load_der_x509_certificate(data)
            if name != "leaf.pem"
            else x509.load_pem_x509_certificate(data)
        )
        assert loaded.public_bytes(Encoding.DER) == leaf_der, name
    chain_file = tmp_path / "chain.pem"
    with qtbot.waitSignal(inspector.exported, timeout=5_000):
        inspector.export_chain(str(chain_file))
    loaded_chain = x509.load_pem_x509_certificates(chain_file.read_bytes())
    assert [c.public_bytes(Encoding.DER) for c in loaded_chain] == list(_der_chain(pki))


def test_a_failed_inspect_leaves_no_chain_behind(qtbot, pki: GeneratedPki) -> None:
    inspector = ChainInspector()
    qtbot.addWidget(inspector)
    inspector.show_chain(certificate_views.describe_chain(_der_chain(pki)), None, "chain")
    inspector.show_error("Cannot inspect x.pem", "x.pem: not a certificate")
    assert inspector.certificate_titles() == []
    assert inspector.chain_model.rowCount() == 0
    assert inspector.pem_view.toPlainText() == ""
    assert not inspector.export_cert_button.isEnabled()

"""The chain inspector: every field, the seven checks, thumbprints, QR code."""

from __future__ import annotations

import segno
from cryptography.hazmat.primitives import hashes
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QGuiApplication

from app.security.testpki import GeneratedPki
from app.xr.validation_result import ValidationResult
from app.xr.values import CertificateNameValidationResult
from ui import certificate_views
from ui.inspector import ChainInspector
from ui.qr import QUIET_ZONE, qr_image


def _der_chain(pki: GeneratedPki) -> tuple[bytes, ...]:
    from cryptography.hazmat.primitives.serialization import Encoding

    return tuple(c.public_bytes(Encoding.DER) for c in pki.chain)


def test_describe_chain_lists_every_field(pki: GeneratedPki) -> None:
    infos = certificate_views.describe_chain(_der_chain(pki))
    assert [i.title.split(":")[0] for i in infos] == ["leaf", "issuer 1", "issuer 2"]
    labels = {label for label, _ in infos[0].fields}
    for wanted in (
        "Subject",
        "Issuer",
        "Serial number",
        "Not before",
        "Not after",
        "DNS names (SAN)",
        "IP addresses (SAN)",
        "Key usage",
        "Extended key usage",
        "Basic constraints",
        "Key type",
        "Key size (bits)",
        "Signature algorithm",
        "SHA-256 thumbprint",
        "SHA-1 thumbprint (Windows)",
    ):
        assert wanted in labels
    fields = dict(infos[0].fields)
    assert fields["DNS names (SAN)"] == "localhost"
    assert fields["IP addresses (SAN)"] == "127.0.0.1"
    assert fields["Basic constraints"] == "not a CA"
    assert "serverAuth" in fields["Extended key usage"]
    # The same thumbprints the security module gives (and openssl prints).
    assert dict(infos[2].fields)["Basic constraints"] == "CA"
    assert infos[0].sha256 == pki.sha256_thumbprint
    assert infos[0].sha1 == pki.sha1_thumbprint
    assert infos[0].pin == pki.pin


def test_unparseable_certificate_is_shown_not_raised() -> None:
    infos = certificate_views.describe_chain((b"\x30\x03\x02\x01\x01",))
    assert infos[0].subject == "(unparseable)"
    assert "not a valid DER certificate" in infos[0].fields[0][1]


def test_checks_marks_and_reasons(qtbot, pki: GeneratedPki) -> None:
    inspector = ChainInspector()
    qtbot.addWidget(inspector)
    verdict = ValidationResult(
        trusted_root=True,
        name_mismatch=CertificateNameValidationResult.MISMATCH,
        reasons={"nameMismatch": "wrong.example is not among the SANs localhost, 127.0.0.1"},
    )
    inspector.show_chain(certificate_views.describe_chain(_der_chain(pki)), verdict, "test chain")
    marks = inspector.check_marks()
    assert len(marks) == 7
    assert marks["nameMismatch"] is False
    assert all(v for k, v in marks.items() if k != "nameMismatch")
    assert inspector.checks_model.rowCount() == 7
    row = next(r for r in range(7) if inspector.checks_model.item(r, 1).text() == "nameMismatch")
    assert inspector.checks_model.item(r := row, 0).text() == "\u2718"
    assert "not among the SANs" in inspector.checks_model.item(r, 3).text()
    assert "CN=localhost" in inspector.leaf_subject()


def test_verdict_from_a_record_json(qtbot, pki: GeneratedPki) -> None:
    inspector = ChainInspector()
    qtbot.addWidget(inspector)
    verdict = ValidationResult(trusted_root=False, expired=True).to_json()
    inspector.show_chain(
        certificate_views.describe_chain(_der_chain(pki)), verdict, "from a record"
    )
    marks = inspector.check_marks()
    assert marks["trustedRoot"] is False and marks["expired"] is False
    assert marks["revoked"] is True


def test_thumbprint_copy_buttons(qtbot, pki: GeneratedPki) -> None:
    inspector = ChainInspector()
    qtbot.addWidget(inspector)
    inspector.show_chain(certificate_views.describe_chain(_der_chain(pki)), None, "t")
    inspector.copy_buttons["sha256"].click()
    assert QGuiApplication.clipboard().text() == pki.sha256_thumbprint
    inspector.copy_buttons["sha1"].click()
    assert QGuiApplication.clipboard().text() == pki.sha1_thumbprint
    # Selecting the root shows the root's thumbprints.
    inspector.chain_view.setCurrentIndex(inspector.chain_model.index(2, 0))
    root_sha256 = pki.ca.certificate.fingerprint(hashes.SHA256()).hex()
    assert inspector.sha256_edit.text() == root_sha256
    assert not inspector.qr_label.pixmap().isNull()


def test_qr_image_matches_segno_matrix() -> None:
    text = "SHA256:" + "ab" * 32
    scale = 3
    image = qr_image(text, scale=scale)
    matrix = segno.make(text, error="m").matrix
    assert image.width() == (len(matrix) + 2 * QUIET_ZONE) * scale
    black = QColor(0, 0, 0).rgb()
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            pixel = image.pixel((x + QUIET_ZONE) * scale + 1, (y + QUIET_ZONE) * scale + 1)
            assert (pixel == black) == bool(dark)


def _fits(view, index) -> bool:
    """The cell's whole text fits its rectangle, wrapped at the column's width."""
    rect = view.visualRect(index)
    text = index.data()
    needed = view.fontMetrics().boundingRect(
        QRect(0, 0, max(rect.width() - 8, 1), 100_000), Qt.TextFlag.TextWordWrap, text
    )
    return needed.height() <= rect.height() and view.viewport().rect().contains(rect)


def _fully_visible(widget) -> bool:
    return widget.isVisible() and widget.visibleRegion().boundingRect() == widget.rect()


def test_leaf_and_failed_checks_readable_without_scrolling_at_1400x900(
    qtbot, qasync_loop, qsettings, pki_files
) -> None:
    from ui.secrets import NotRememberingStore
    from ui.window import MainWindow

    window = MainWindow(qsettings, secret_store=NotRememberingStore("tests"))
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    window.verify_chain(str(pki_files["chain"]), "wrong.example", str(pki_files["ca"]))
    inspector = window.inspector
    qtbot.waitUntil(lambda: len(inspector.check_marks()) == 7, timeout=10_000)
    qtbot.waitUntil(lambda: _fully_visible(inspector.failed_label), timeout=2_000)
    assert "nameMismatch" in inspector.failed_label.text()
    assert "wrong.example" in inspector.failed_label.text()
    assert _fully_visible(inspector.leaf_label)
    assert "CN=localhost" in inspector.leaf_label.text()
    # The seven checks without a scroll bar, each reason whole.
    checks = inspector.checks_view
    assert checks.verticalScrollBar().maximum() == 0
    for row in range(7):
        assert _fits(checks, inspector.checks_model.index(row, 3)), row
        assert (
            inspector.checks_model.item(row, 3)
            .toolTip()
            .endswith(inspector.checks_model.item(row, 3).text())
        )
    # The leaf's subject is whole in the tree too, and every value has its full text
    # as a tooltip.
    tree = inspector.chain_view
    subject = inspector.chain_model.index(0, 1)
    assert "CN=localhost" in subject.data() and _fits(tree, subject)
    leaf = inspector.chain_model.item(0, 0)
    for row in range(leaf.rowCount()):
        value = leaf.child(row, 1)
        assert value.toolTip() == value.text()
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=5_000)


def test_a_failed_revocation_check_fails_only_when_it_was_forced(qtbot, pki: GeneratedPki) -> None:
    """The two faces disagreed: the window marked revocationCheckFailed as failed
    always, the command line (and the runtime's acceptance rule) only when the
    revocation check was forced. The rule is right: an unforced, failed revocation
    check does not refuse the server, so the window must not mark it failed."""
    from app.endpoint.failure import refused_checks
    from app.xr.records import CallbackRecord

    verdict = ValidationResult(trusted_root=True, revocation_check_failed=True).to_json()
    for forced in (False, True):
        record = CallbackRecord(
            "ValidateServerCertificate",
            0.0,
            0.0,
            {"forceRevocationCheck": forced},
            {"validationResultOut": verdict},
            0,
        )
        inspector = ChainInspector()
        qtbot.addWidget(inspector)
        inspector.show_chain(
            certificate_views.describe_chain(_der_chain(pki)),
            verdict,
            "t",
            revocation_forced=forced,
        )
        window_says_failed = not inspector.check_marks()["revocationCheckFailed"]
        command_line_refuses = refused_checks(record) is not None
        assert window_says_failed is forced
        assert command_line_refuses is forced

"""Tools menu dialogs: create test certificates, verify a chain for a host.

Both only collect fields and call `ui.credentials` / `ui.certificate_views` off the
UI thread; results go to the dialog (test PKI) or to the window's inspector (verify).
"""

from __future__ import annotations

import tempfile

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.endpoint.failure import WINDOW, error_text
from ui import credentials
from ui.form_widgets import PEM_FILTER, STORE_FILTER, add_show_hide, path_row
from ui.jobs import Jobs, run_blocking
from ui.qr import qr_pixmap


class CreateTestPkiDialog(QDialog):
    """A CA and a server .pfx for the hosts and IPs given, with the thumbprints."""

    created = Signal(object)  # credentials.TestPkiFiles

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("createTestPkiDialog")
        self.setWindowTitle("Create test certificates")
        self.jobs = Jobs(self)
        self.out_dir = QLineEdit(tempfile.mkdtemp(prefix="holoremote-pki-"))
        self.out_dir.setObjectName("pkiOutDir")
        self.hosts = QLineEdit("localhost")
        self.hosts.setObjectName("pkiHosts")
        self.hosts.setPlaceholderText("host names, separated by spaces")
        self.ips = QLineEdit("127.0.0.1")
        self.ips.setObjectName("pkiIps")
        self.days = QSpinBox()
        self.days.setRange(1, 398)
        self.days.setValue(30)
        self.key_type = QComboBox()
        self.key_type.addItem("ECDSA P-256", "ecdsa")
        self.key_type.addItem("RSA 2048", "rsa")
        self.friendly_name = QLineEdit("holoremote-server")
        self.friendly_name.setObjectName("pkiFriendlyName")
        self.passphrase = QLineEdit()
        self.passphrase.setObjectName("pkiPassphrase")
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("leave empty to generate one")
        add_show_hide(self.passphrase)
        self.result_text = QPlainTextEdit()
        self.result_text.setObjectName("pkiResult")
        self.result_text.setReadOnly(True)
        self.qr_label = QLabel()
        self.qr_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.create_button = QPushButton("Create")
        self.create_button.setObjectName("pkiCreate")
        self.create_button.setDefault(True)
        self.use_button = QPushButton("Use in server panel")
        self.use_button.setObjectName("pkiUse")
        self.use_button.setEnabled(False)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Output folder", path_row(self.out_dir, "Output folder", directory=True))
        form.addRow("Host names", self.hosts)
        form.addRow("IP addresses", self.ips)
        form.addRow("Valid for (days)", self.days)
        form.addRow("Key type", self.key_type)
        form.addRow("Friendly name", self.friendly_name)
        form.addRow("Passphrase", self.passphrase)
        buttons = QHBoxLayout()
        buttons.addWidget(self.create_button)
        buttons.addWidget(self.use_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        results = QHBoxLayout()
        results.addWidget(self.result_text, 1)
        results.addWidget(self.qr_label)
        layout.addLayout(results)
        layout.addLayout(buttons)
        self.create_button.clicked.connect(self.create_files)
        self.use_button.clicked.connect(self._use)
        self.files: credentials.TestPkiFiles | None = None

    def create_files(self) -> None:
        self.create_button.setEnabled(False)
        self.result_text.setPlainText("Creating\u2026")
        self.jobs.spawn("create test PKI", self._create())

    async def _create(self) -> None:
        try:
            files = await run_blocking(
                credentials.create_test_pki,
                self.out_dir.text().strip(),
                self.hosts.text().split(),
                self.ips.text().split(),
                days=self.days.value(),
                key_type="rsa" if self.key_type.currentData() == "rsa" else "ecdsa",
                friendly_name=self.friendly_name.text().strip() or "holoremote-server",
                passphrase=self.passphrase.text() or None,
            )
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            message, fix = error_text(WINDOW, exc)
            self.result_text.setPlainText(message + (f"\nFix: {fix}" if fix else ""))
            return
        finally:
            self.create_button.setEnabled(True)
        self.files = files
        lines = [f"{name}: {path}" for name, path in files.paths.items()]
        lines += [
            "",
            f"friendly name (subject name): {files.friendly_name}",
            f"pin: {files.pin}",
            f"SHA-1 (Windows thumbprint): {files.sha1}",
            "The .pfx passphrase is filled in the server panel when you press "
            "'Use in server panel'; it is not shown here.",
        ]
        self.result_text.setPlainText("\n".join(lines))
        self.qr_label.setPixmap(
            qr_pixmap(files.pin, scale=3, device_pixel_ratio=self.devicePixelRatioF())
        )
        self.use_button.setEnabled(True)

    def _use(self) -> None:
        if self.files is not None:
            self.created.emit(self.files)
            self.accept()


class VerifyChainDialog(QDialog):
    """Chain file + host (+ CA file): the verdict a client would reach."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("verifyChainDialog")
        self.setWindowTitle("Verify a chain for a host")
        self.chain_file = QLineEdit()
        self.chain_file.setObjectName("verifyChainFile")
        self.host = QLineEdit()
        self.host.setObjectName("verifyHost")
        self.ca_file = QLineEdit()
        self.ca_file.setObjectName("verifyCaFile")
        self.ca_file.setPlaceholderText("empty: the operating system's trusted roots")
        form = QFormLayout()
        form.addRow("Chain (leaf first)", path_row(self.chain_file, "Chain", STORE_FILTER))
        form.addRow("Host name or IP", self.host)
        form.addRow("CA file", path_row(self.ca_file, "CA certificate", PEM_FILTER))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Verify")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def values(self) -> tuple[str, str, str]:
        return self.chain_file.text().strip(), self.host.text().strip(), self.ca_file.text().strip()

"""The client panel: the token a client sends and how it decides about the server's
certificate (CA file, pin, trust on first use, escape hatches, revocation). It only
collects fields; the decisions are `app.endpoint.providers`'."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from ui import credentials, field_values, session_opening
from ui.error_words import window_error_text
from ui.form_widgets import (
    PEM_FILTER,
    add_show_hide,
    path_row,
    secret_edit,
    warning_label,
)
from ui.jobs import Jobs, run_blocking
from ui.settings import FieldBinder


class ClientPanel(QGroupBox):
    """Connect side: the token and the certificate validation policy."""

    tokenChanged = Signal()

    def __init__(self, prefix: str, parent: QWidget | None = None) -> None:
        super().__init__("Client (connect side)", parent)
        self.jobs = Jobs(self)
        self.token = secret_edit(f"{prefix}token", "authentication token")
        self.token_show = add_show_hide(self.token)
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName(f"{prefix}generateToken")
        self.generate_button.setToolTip("A fresh random shared secret (the server must accept it)")
        self.from_file_button = QPushButton("From file\u2026")
        self.from_file_button.setObjectName(f"{prefix}tokenFromFile")
        self.token_status = QLabel()
        self.token_status.setObjectName(f"{prefix}tokenStatus")
        self.token_status.setWordWrap(True)
        self.token_status.hide()

        self.system_validation = QCheckBox(
            "The runtime validates the chain (performSystemValidation)"
        )
        self.system_validation.setObjectName(f"{prefix}systemValidation")
        self.system_validation.setChecked(True)
        self.ca_file = QLineEdit()
        self.ca_file.setObjectName(f"{prefix}caFile")
        self.ca_file.setPlaceholderText("trust this CA instead of the OS store")
        self.pin = QLineEdit()
        self.pin.setObjectName(f"{prefix}pin")
        self.pin.setPlaceholderText("SHA256:\u2026 or the SHA-1 thumbprint")
        self.tofu = QCheckBox("Trust on first use (ask, then remember in known hosts)")
        self.tofu.setObjectName(f"{prefix}tofu")
        self.known_hosts = QLineEdit(session_opening.default_known_hosts())
        self.known_hosts.setObjectName(f"{prefix}knownHosts")
        self.allow_name_mismatch = QCheckBox("Allow name mismatch")
        self.allow_name_mismatch.setObjectName(f"{prefix}allowNameMismatch")
        self.allow_unverified_chain = QCheckBox("Allow unverified chain")
        self.allow_unverified_chain.setObjectName(f"{prefix}allowUnverifiedChain")
        self.check_revocation = QCheckBox(
            "Check revocation (CRL distribution points and OCSP over HTTP)"
        )
        self.check_revocation.setObjectName(f"{prefix}checkRevocation")
        self.force_revocation_check = QCheckBox(
            "Refuse when revocation cannot be determined (forceRevocationCheck)"
        )
        self.force_revocation_check.setObjectName(f"{prefix}forceRevocationCheck")
        self.crl_files = QLineEdit()
        self.crl_files.setObjectName(f"{prefix}crlFiles")
        self.crl_files.setPlaceholderText("CRL files, separated by ';' (consulted offline)")

        self.warnings = {
            "system": warning_label(
                "System validation by the runtime is off: the callback validates the "
                "chain itself, against the CA file or the operating system's roots.",
                f"{prefix}warnSystem",
            ),
            "tofu": warning_label(
                "Trust on first use accepts an unknown server after you confirm it: compare "
                "the thumbprint with one you got out of band.",
                f"{prefix}warnTofu",
            ),
            "name": warning_label(
                "Name mismatch allowed: a certificate issued for another host will be "
                "accepted (sample escape hatch; for testing only).",
                f"{prefix}warnName",
            ),
            "chain": warning_label(
                "Unverified chain allowed: a certificate from any issuer, including a "
                "self-signed one, will be accepted (sample escape hatch; for testing only).",
                f"{prefix}warnChain",
            ),
        }

        token_row = QHBoxLayout()
        token_row.addWidget(self.token, 1)
        token_row.addWidget(self.generate_button)
        token_row.addWidget(self.from_file_button)
        form = QFormLayout(self)
        form.addRow("Token", token_row)
        form.addRow(self.token_status)
        form.addRow(self.system_validation)
        form.addRow(self.warnings["system"])
        form.addRow("CA file", path_row(self.ca_file, "CA certificate", PEM_FILTER))
        form.addRow("Pinned thumbprint", self.pin)
        form.addRow(self.tofu)
        form.addRow("Known hosts", self.known_hosts)
        form.addRow(self.warnings["tofu"])
        form.addRow(self.allow_name_mismatch)
        form.addRow(self.warnings["name"])
        form.addRow(self.allow_unverified_chain)
        form.addRow(self.warnings["chain"])
        form.addRow(self.check_revocation)
        form.addRow(self.force_revocation_check)
        form.addRow("CRL files", self.crl_files)

        self.system_validation.toggled.connect(
            lambda on: self.warnings["system"].setVisible(not on)
        )
        self.tofu.toggled.connect(self.warnings["tofu"].setVisible)
        self.tofu.toggled.connect(self.known_hosts.setEnabled)
        self.known_hosts.setEnabled(False)
        self.allow_name_mismatch.toggled.connect(self.warnings["name"].setVisible)
        self.allow_unverified_chain.toggled.connect(self.warnings["chain"].setVisible)
        self.generate_button.clicked.connect(self.generate_token)
        self.from_file_button.clicked.connect(self._choose_token_file)

    def bind(self, binder: FieldBinder) -> None:
        for key, widget in (
            ("systemValidation", self.system_validation),
            ("caFile", self.ca_file),
            ("pin", self.pin),
            ("tofu", self.tofu),
            ("knownHosts", self.known_hosts),
            ("allowNameMismatch", self.allow_name_mismatch),
            ("allowUnverifiedChain", self.allow_unverified_chain),
            ("checkRevocation", self.check_revocation),
            ("forceRevocationCheck", self.force_revocation_check),
            ("crlFiles", self.crl_files),
        ):
            binder.add(key, widget)
        binder.add_secret("token", self.token)

    def settings(self) -> field_values.ClientSettings:
        return field_values.ClientSettings(
            token=self.token.text(),
            system_validation=self.system_validation.isChecked(),
            ca_file=self.ca_file.text().strip(),
            pin=self.pin.text().strip(),
            trust_on_first_use=self.tofu.isChecked(),
            known_hosts=self.known_hosts.text().strip(),
            allow_name_mismatch=self.allow_name_mismatch.isChecked(),
            allow_unverified_chain=self.allow_unverified_chain.isChecked(),
            check_revocation=self.check_revocation.isChecked(),
            force_revocation_check=self.force_revocation_check.isChecked(),
            crl_files=self.crl_files.text().strip(),
        )

    def active_warnings(self) -> list[str]:
        return [w.text() for w in self.warnings.values() if not w.isHidden()]

    def generate_token(self) -> None:
        self.jobs.spawn("generate token", self._set_token_from(credentials.generate_token))

    def load_token_file(self, path: str) -> None:
        self.jobs.spawn("token file", self._set_token_from(credentials.read_token_file, path))

    def _choose_token_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Token file", "", "All files (*)")
        if path:
            self.load_token_file(path)

    async def _set_token_from(self, function: Callable[..., str], *args: str) -> None:
        try:
            token = await run_blocking(function, *args)
        except Exception as exc:  # noqa: BLE001 - shown under the field
            message, fix = window_error_text(exc)
            self.token_status.setText(message + (f" ({fix})" if fix else ""))
            self.token_status.setProperty("severity", "error")
            self.token_status.show()
            return
        self.token.setText(str(token))
        self.token_status.hide()
        self.tokenChanged.emit()

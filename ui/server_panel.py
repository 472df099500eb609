"""The server panel: the certificate store a listener presents and the tokens it
accepts. It only collects fields; loading a store runs in `ui.certificate_views`
off the UI thread."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QWidget,
)

from ui import certificate_views, field_values
from ui.error_words import window_error_text
from ui.form_widgets import (
    KEY_FILTER,
    STORE_FILTER,
    add_show_hide,
    path_row,
    secret_edit,
    set_severity,
)
from ui.jobs import Jobs, run_blocking
from ui.settings import FieldBinder


class ServerPanel(QGroupBox):
    """Listen side: certificate store, passphrase, subject name, realm, accepted tokens."""

    storeLoaded = Signal(object)  # certificate_views.StoreSummary
    storeFailed = Signal(str, str)  # source, message

    def __init__(self, prefix: str, parent: QWidget | None = None) -> None:
        super().__init__("Server (listen side)", parent)
        self.jobs = Jobs(self)
        self.store_path = QLineEdit()
        self.store_path.setObjectName(f"{prefix}storePath")
        self.store_path.setPlaceholderText(".pfx / .p12, or a PEM certificate")
        self.key_path = QLineEdit()
        self.key_path.setObjectName(f"{prefix}keyPath")
        self.key_path.setPlaceholderText("only for a PEM pair: the private key file")
        self.passphrase = secret_edit(f"{prefix}passphrase", "passphrase of the store or key")
        add_show_hide(self.passphrase)
        self.load_button = QPushButton("Load")
        self.load_button.setObjectName(f"{prefix}loadStore")
        self.subject_name = QComboBox()
        self.subject_name.setObjectName(f"{prefix}subjectName")
        self.subject_name.setEditable(True)
        self.subject_name.setToolTip(
            "Picks the certificate: friendly name first, then subject common name"
        )
        self.store_status = QLabel("No store loaded.")
        self.store_status.setObjectName(f"{prefix}storeStatus")
        self.store_status.setWordWrap(True)
        self.realm = QLineEdit("holoremote")
        self.realm.setObjectName(f"{prefix}realm")
        self.token_mode = QComboBox()
        self.token_mode.setObjectName(f"{prefix}tokenMode")
        self.token_mode.addItem("Shared secrets", "shared")
        self.token_mode.addItem("JWT (identity provider)", "jwt")
        self.shared_secrets = secret_edit(
            f"{prefix}sharedSecrets", "accepted tokens, separated by spaces"
        )
        add_show_hide(self.shared_secrets)
        self.jwt_key = QLineEdit()
        self.jwt_key.setObjectName(f"{prefix}jwtKey")
        self.jwt_key.setPlaceholderText("JWKS file or PEM public key")
        self.jwt_issuer = QLineEdit()
        self.jwt_issuer.setObjectName(f"{prefix}jwtIssuer")
        self.jwt_audience = QLineEdit()
        self.jwt_audience.setObjectName(f"{prefix}jwtAudience")

        shared_page = QWidget()
        shared_form = QFormLayout(shared_page)
        shared_form.setContentsMargins(0, 0, 0, 0)
        shared_form.addRow("Accepted tokens", self.shared_secrets)
        jwt_page = QWidget()
        jwt_form = QFormLayout(jwt_page)
        jwt_form.setContentsMargins(0, 0, 0, 0)
        jwt_form.addRow("Key / JWKS", path_row(self.jwt_key, "JWKS or key", "All files (*)"))
        jwt_form.addRow("Issuer", self.jwt_issuer)
        jwt_form.addRow("Audience", self.jwt_audience)
        self.token_pages = QStackedWidget()
        self.token_pages.addWidget(shared_page)
        self.token_pages.addWidget(jwt_page)
        self.token_mode.currentIndexChanged.connect(self.token_pages.setCurrentIndex)

        form = QFormLayout(self)
        form.addRow(
            "Certificate store", path_row(self.store_path, "Certificate store", STORE_FILTER)
        )
        form.addRow("Key (PEM pair)", path_row(self.key_path, "Private key", KEY_FILTER))
        passphrase_row = QHBoxLayout()
        passphrase_row.addWidget(self.passphrase, 1)
        passphrase_row.addWidget(self.load_button)
        form.addRow("Passphrase", passphrase_row)
        form.addRow("Subject name", self.subject_name)
        form.addRow(self.store_status)
        form.addRow("Realm", self.realm)
        form.addRow("Token check", self.token_mode)
        form.addRow(self.token_pages)

        self.load_button.clicked.connect(self.load_store)
        self.store_path.editingFinished.connect(self.load_store)
        self.key_path.editingFinished.connect(self._reload_if_loaded)
        self.passphrase.returnPressed.connect(self.load_store)
        self.summary: certificate_views.StoreSummary | None = None

    def bind(self, binder: FieldBinder) -> None:
        for key, widget in (
            ("storePath", self.store_path),
            ("keyPath", self.key_path),
            ("subjectName", self.subject_name),
            ("realm", self.realm),
            ("tokenMode", self.token_mode),
            ("jwtKey", self.jwt_key),
            ("jwtIssuer", self.jwt_issuer),
            ("jwtAudience", self.jwt_audience),
        ):
            binder.add(key, widget)
        binder.add_secret("passphrase", self.passphrase)
        binder.add_secret("sharedSecrets", self.shared_secrets)

    def settings(self) -> field_values.ServerSettings:
        return field_values.ServerSettings(
            store_path=self.store_path.text().strip(),
            key_path=self.key_path.text().strip(),
            passphrase=self.passphrase.text(),
            subject_name=self.subject_name.currentText().strip(),
            realm=self.realm.text(),
            token_mode="jwt" if self.token_mode.currentData() == "jwt" else "shared",
            shared_secrets=tuple(self.shared_secrets.text().split()),
            jwt_key_path=self.jwt_key.text().strip(),
            jwt_issuer=self.jwt_issuer.text().strip(),
            jwt_audience=self.jwt_audience.text().strip(),
        )

    def _reload_if_loaded(self) -> None:
        if self.store_path.text().strip():
            self.load_store()

    def load_store(self) -> None:
        path = self.store_path.text().strip()
        if not path:
            return
        self.store_status.setProperty("severity", "")
        self.store_status.setText(f"Loading {path}\u2026")
        self.jobs.spawn(
            "load store",
            self._load(path, self.passphrase.text(), self.key_path.text().strip()),
        )

    async def _load(self, path: str, passphrase: str, key_path: str) -> None:
        try:
            summary = await run_blocking(certificate_views.load_store, path, passphrase, key_path)
        except Exception as exc:  # noqa: BLE001 - shown next to the field
            message, fix = window_error_text(exc)
            if path not in message:
                message = f"{path}: {message}"
            self.summary = None
            self._set_status(message + (f"\nFix: {fix}" if fix else ""), "error")
            self.storeFailed.emit(path, message)
            return
        if path != self.store_path.text().strip():
            return  # the field changed while loading; a newer load follows
        self.summary = summary
        current = self.subject_name.currentText()
        self.subject_name.clear()
        self.subject_name.addItems(list(summary.names))
        if current and current in summary.names:
            self.subject_name.setCurrentText(current)
        keyed = sum(1 for c in summary.certificates if c.has_private_key)
        text = (
            f"{path}: {summary.format}, {len(summary.certificates)} certificate(s), "
            f"{keyed} with a private key."
        )
        severity = "ok"
        if summary.warnings:
            text += "\n" + "\n".join(f"\u26a0 {w}" for w in summary.warnings)
            severity = "warning"
        self._set_status(text, severity)
        self.storeLoaded.emit(summary)

    def _set_status(self, text: str, severity: str) -> None:
        self.store_status.setText(text)
        set_severity(self.store_status, severity)

"""Settings > Known hosts: the trust-on-first-use memory, listed, with Remove and a
Replace that shows the old and the new fingerprint and asks the person to confirm
they checked the new one (as ssh makes people do by hand).

Reading, writing and fetching a server's certificate run off the UI thread through
`ui.known_hosts_file`; the file format and its rules are `app.security.known_hosts`'.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.endpoint.failure import WINDOW, error_text
from ui import known_hosts_file
from ui.jobs import Jobs, run_blocking


def grouped(hex_digest: str, size: int = 4) -> str:
    """Groups of four hex digits: readable aloud and comparable at a glance."""
    return " ".join(hex_digest[i : i + size] for i in range(0, len(hex_digest), size))


class ReplaceHostDialog(QDialog):
    """Old and new fingerprint side by side; Replace only once the person ticks that
    they checked the new one out of band."""

    def __init__(self, endpoint: str, old: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("replaceHostDialog")
        self.setWindowTitle(f"Replace the certificate remembered for {endpoint}")
        self.endpoint = endpoint
        self.jobs = Jobs(self)
        self.old = QLabel(grouped(old))
        self.old.setObjectName("replaceOld")
        self.old.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.new = QLineEdit()
        self.new.setObjectName("replaceNew")
        self.new.setAccessibleName("New SHA-256 fingerprint")
        self.new.setPlaceholderText("64 hex digits (colons and spaces are fine)")
        self.fetch = QPushButton("Fetch from the server")
        self.fetch.setObjectName("replaceFetch")
        self.fetch.setAccessibleName(f"Fetch the certificate {endpoint} presents now")
        self.fetch.clicked.connect(self.fetch_current)
        self.status = QLabel()
        self.status.setObjectName("replaceStatus")
        self.status.setWordWrap(True)
        self.confirmed = QCheckBox(
            "I checked the new fingerprint with the server's owner (not only here)"
        )
        self.confirmed.setObjectName("replaceConfirmed")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.replace_button = self.buttons.addButton(
            "Replace", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.replace_button.setObjectName("replaceButton")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        new_row = QHBoxLayout()
        new_row.addWidget(self.new, 1)
        new_row.addWidget(self.fetch)
        form = QFormLayout()
        form.addRow("Remembered (old)", self.old)
        form.addRow("New", new_row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.confirmed)
        layout.addWidget(self.buttons)
        self._old = old
        self.new.textChanged.connect(self._update)
        self.confirmed.toggled.connect(self._update)
        self._update()
        self.resize(720, self.sizeHint().height())

    def new_sha256(self) -> str:
        return known_hosts_file.normalize_sha256(self.new.text())

    def _update(self, *_args: object) -> None:
        new = self.new_sha256()
        if self.new.text().strip() and not new:
            self.status.setText("The new fingerprint is not 64 hex digits.")
        elif new and new == self._old:
            self.status.setText("That is the fingerprint already remembered.")
        elif new:
            self.status.setText(f"New: {grouped(new)}")
        else:
            self.status.setText("")
        self.replace_button.setEnabled(
            bool(new) and new != self._old and self.confirmed.isChecked()
        )

    def fetch_current(self) -> None:
        self.status.setText(f"Asking {self.endpoint} for its certificate\u2026")
        self.fetch.setEnabled(False)
        self.jobs.spawn("fetch certificate", self._fetch())

    async def _fetch(self) -> None:
        try:
            digest = await run_blocking(known_hosts_file.fetch_certificate_sha256, self.endpoint)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            message, fix = error_text(WINDOW, exc)
            self.status.setText(f"Could not fetch: {message}" + (f" Fix: {fix}" if fix else ""))
            return
        finally:
            self.fetch.setEnabled(True)
        self.new.setText(digest)


class KnownHostsDialog(QDialog):
    """The known-hosts file as a table: endpoint and SHA-256 of its certificate."""

    changed = Signal()

    def __init__(self, path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("knownHostsDialog")
        self.setWindowTitle("Known hosts")
        self.path = path
        self.jobs = Jobs(self)
        self.entries: list[tuple[str, str]] = []
        self.file_label = QLabel(f"File: {path}")
        self.file_label.setObjectName("knownHostsFile")
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, 2)
        self.table.setObjectName("knownHostsTable")
        self.table.setAccessibleName("Known hosts")
        self.table.setHorizontalHeaderLabels(["Host:port", "SHA-256 of the certificate"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.status = QLabel()
        self.status.setObjectName("knownHostsStatus")
        self.status.setWordWrap(True)
        self.remove_button = QPushButton("&Remove")
        self.remove_button.setObjectName("knownHostsRemove")
        self.remove_button.setAccessibleName("Remove the selected host")
        self.remove_button.clicked.connect(self.remove_selected)
        self.replace_button = QPushButton("Re&place\u2026")
        self.replace_button.setObjectName("knownHostsReplace")
        self.replace_button.setAccessibleName("Replace the selected host's certificate")
        self.replace_button.clicked.connect(self.open_replace)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.replace_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.file_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self._selection_changed()
        self.resize(820, 420)
        self.reload()

    def reload(self) -> None:
        self.jobs.spawn("read known hosts", self._reload())

    async def _reload(self) -> None:
        try:
            entries = await run_blocking(known_hosts_file.known_host_entries, self.path)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            message, fix = error_text(WINDOW, exc)
            self.status.setText(message + (f" Fix: {fix}" if fix else ""))
            return
        self._show(entries)

    def _show(self, entries: list[tuple[str, str]]) -> None:
        self.entries = entries
        self.table.setRowCount(len(entries))
        for row, (endpoint, digest) in enumerate(entries):
            self.table.setItem(row, 0, QTableWidgetItem(endpoint))
            item = QTableWidgetItem(grouped(digest))
            item.setToolTip(digest)
            self.table.setItem(row, 1, item)
        self.status.setText(
            f"{len(entries)} host(s) remembered." if entries else "No host remembered yet."
        )
        self._selection_changed()

    def selected_endpoint(self) -> str | None:
        row = self.table.currentRow()
        if row < 0 or row >= len(self.entries) or not self.table.selectedItems():
            return None
        return self.entries[row][0]

    def select(self, endpoint: str) -> None:
        for row, (name, _digest) in enumerate(self.entries):
            if name == endpoint:
                self.table.selectRow(row)
                return

    def _selection_changed(self) -> None:
        chosen = self.selected_endpoint() is not None
        self.remove_button.setEnabled(chosen)
        self.replace_button.setEnabled(chosen)

    def remove_selected(self) -> None:
        endpoint = self.selected_endpoint()
        if endpoint is not None:
            self.jobs.spawn(
                "remove known host", self._write(known_hosts_file.remove_known_host, endpoint)
            )

    def open_replace(self) -> ReplaceHostDialog | None:
        endpoint = self.selected_endpoint()
        if endpoint is None:
            return None
        old = dict(self.entries)[endpoint]
        dialog = ReplaceHostDialog(endpoint, old, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.replace(endpoint, dialog.new_sha256()))
        dialog.open()
        return dialog

    def replace(self, endpoint: str, sha256: str) -> None:
        self.jobs.spawn(
            "replace known host",
            self._write(known_hosts_file.replace_known_host, endpoint, sha256),
        )

    async def _write(self, change: Callable[..., list[tuple[str, str]]], *args: str) -> None:
        try:
            entries = await run_blocking(change, self.path, *args)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            message, fix = error_text(WINDOW, exc)
            self.status.setText(message + (f" Fix: {fix}" if fix else ""))
            return
        self._show(entries)
        self.changed.emit()

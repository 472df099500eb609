"""The certificate chain inspector: the chain as a tree, the seven checks, thumbprints
with copy buttons and a QR code of the leaf's SHA-256 pin.

It shows values the engine computed (`ui.certificate_views.CertificateInfo`, a verdict); it
never parses or checks a certificate itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QGuiApplication,
    QResizeEvent,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTabWidget,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.xr.validation_result import ValidationResult
from ui.certificate_views import CertificateInfo, chain_pem, write_export
from ui.jobs import Jobs, run_blocking
from ui.qr import qr_pixmap
from ui.verdict_rows import CheckRow, check_rows

PASS_MARK = "\u2714"  # noqa: S105 - heavy check mark, not a password
FAIL_MARK = "\u2718"  # heavy ballot x
INFO_ROLE = Qt.ItemDataRole.UserRole + 1
CERTIFICATE_FILTER = "PEM (*.pem *.crt);;DER (*.der *.cer);;All files (*)"
CHAIN_FILTER = "PEM chain (*.pem);;All files (*)"


def grouped_thumbprint(text: str) -> str:
    """Hex in groups of four, so a thumbprint wraps instead of being cut off (a pin
    keeps its `SHA256:` prefix)."""
    prefix, _, digest = text.rpartition(":") if text.upper().startswith("SHA") else ("", "", text)
    groups = " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))
    return f"{prefix}: {groups}" if prefix else groups


_PASS_BRUSH = QBrush(QColor("#1b7f3b"))
_FAIL_BRUSH = QBrush(QColor("#b00020"))


def _item(text: str, tooltip: str | None = None) -> QStandardItem:
    """A read-only cell whose tooltip holds its full text (or `tooltip`)."""
    item = QStandardItem(text)
    item.setEditable(False)
    if tooltip or text:
        item.setToolTip(tooltip or text)
    return item


# The tree's first column never takes more than this share of its width, so that the
# values (subjects, names, dates) keep the rest.
MAX_FIELD_COLUMN_SHARE = 0.45


class WrappingDelegate(QStyledItemDelegate):
    """Rows as tall as their text wrapped at the column's width.

    QTreeView asks for a row's height without telling the delegate the column's width,
    so wrapped text would be cut to one line. The width reported stays the unwrapped
    one, so that "resize to contents" still widens a column."""

    def __init__(self, view: QTreeView) -> None:
        super().__init__(view)
        self._view = view

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        natural = super().sizeHint(option, index)
        width = self._view.columnWidth(index.column())
        if index.column() == 0:
            depth = 0
            parent = index.parent()
            while parent.isValid():
                depth += 1
                parent = parent.parent()
            width -= self._view.indentation() * (depth + int(self._view.rootIsDecorated()))
        if width <= 0:
            return natural
        constrained = QStyleOptionViewItem(option)
        constrained.rect = QRect(0, 0, width, max(natural.height(), 1))
        wrapped = super().sizeHint(constrained, index)
        return QSize(natural.width(), max(natural.height(), wrapped.height()))


def _wrapping_tree(name: str, model: QStandardItemModel) -> QTreeView:
    """A read-only tree whose rows grow to show wrapped text in full."""
    view = QTreeView()
    view.setObjectName(name)
    view.setModel(model)
    view.setItemDelegate(WrappingDelegate(view))
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setWordWrap(True)
    view.setUniformRowHeights(False)
    view.setTextElideMode(Qt.TextElideMode.ElideNone)
    # Row heights depend on column widths: lay the rows out again when one changes.
    view.header().sectionResized.connect(lambda *_: view.scheduleDelayedItemsLayout())
    return view


class ChainInspector(QWidget):
    exported = Signal(str)  # the path written

    """Title and leaf on top; the chain tree beside the thumbprints; the seven checks
    across the whole width below, reasons wrapped, the failed ones repeated under the
    table. Splitters let the person give any part more room; every cell's tooltip
    holds its full text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title_label = QLabel("No chain yet: connect, or use Tools \u2192 Inspect certificate.")
        self.title_label.setObjectName("inspectorTitle")
        self.title_label.setWordWrap(True)
        self.title_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.leaf_label = QLabel()
        self.leaf_label.setObjectName("inspectorLeaf")
        self.leaf_label.setWordWrap(True)
        self.leaf_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.leaf_label.hide()
        self.message_label = QLabel()
        self.message_label.setObjectName("inspectorMessage")
        self.message_label.setWordWrap(True)
        self.message_label.setProperty("severity", "error")
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.hide()

        self.chain_model = QStandardItemModel(self)
        self.chain_model.setHorizontalHeaderLabels(["Certificate / field", "Value"])
        self.chain_view = _wrapping_tree("inspectorChain", self.chain_model)
        self.chain_view.setAccessibleName("Certificate chain and its fields")
        self.chain_view.header().setStretchLastSection(True)
        self.chain_view.selectionModel().currentChanged.connect(self._current_changed)

        self.checks_model = QStandardItemModel(self)
        self.checks_model.setHorizontalHeaderLabels(["", "Check", "Value", "Reason"])
        self.checks_view = _wrapping_tree("inspectorChecks", self.checks_model)
        self.checks_view.setRootIsDecorated(False)
        header = self.checks_view.header()
        for column in (0, 1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.warnings_label = QLabel()
        self.warnings_label.setObjectName("inspectorWarnings")
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setProperty("severity", "warning")
        self.warnings_label.hide()
        self.failed_label = QLabel()
        self.failed_label.setObjectName("inspectorFailed")
        self.failed_label.setWordWrap(True)
        self.failed_label.setProperty("severity", "error")
        self.failed_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.failed_label.hide()
        checks_box = QGroupBox("Validation (the seven fields of the verdict)")
        checks_layout = QVBoxLayout(checks_box)
        checks_layout.addWidget(self.failed_label)
        checks_layout.addWidget(self.checks_view, 1)
        checks_layout.addWidget(self.warnings_label)

        # The raw values (what Copy copies) and, shown, the same in groups of four
        # that wrap: a 64-digit thumbprint is never cut off.
        self.sha256_edit = QLineEdit()
        self.sha256_edit.setObjectName("inspectorSha256")
        self.sha1_edit = QLineEdit()
        self.sha1_edit.setObjectName("inspectorSha1")
        self.pin_edit = QLineEdit()
        self.pin_edit.setObjectName("inspectorPin")
        thumbs_box = QGroupBox("Selected certificate")
        thumbs = QFormLayout(thumbs_box)
        self.expiry_label = QLabel()
        self.expiry_label.setObjectName("inspectorExpiry")
        self.expiry_label.setProperty("severity", "ok")
        thumbs.addRow("Validity", self.expiry_label)
        self.copy_buttons: dict[str, QToolButton] = {}
        self.thumb_labels: dict[str, QLabel] = {}
        for label, edit, key in (
            ("SHA-256", self.sha256_edit, "sha256"),
            ("SHA-1 (Windows)", self.sha1_edit, "sha1"),
            ("Pin", self.pin_edit, "pin"),
        ):
            edit.setReadOnly(True)
            edit.hide()
            shown = QLabel()
            shown.setObjectName(f"inspectorShown_{key}")
            shown.setWordWrap(True)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            shown.setAccessibleName(f"{label} of the selected certificate")
            font = shown.font()
            font.setFamily("monospace")
            font.setStyleHint(font.StyleHint.Monospace)
            shown.setFont(font)
            self.thumb_labels[key] = shown
            button = QToolButton()
            button.setText("Copy")
            button.setObjectName(f"copy_{key}")
            button.setAccessibleName(f"Copy the {label}")
            button.setToolTip(f"Copy the {label} value to the clipboard")
            button.clicked.connect(lambda _=False, e=edit: self._copy(e))
            self.copy_buttons[key] = button
            row = QHBoxLayout()
            row.addWidget(edit)
            row.addWidget(shown, 1)
            row.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
            thumbs.addRow(label, row)
        export_row = QHBoxLayout()
        self.export_cert_button = QPushButton("Export certificate\u2026")
        self.export_cert_button.setObjectName("inspectorExportCertificate")
        self.export_cert_button.setAccessibleName("Export the selected certificate as PEM or DER")
        self.export_cert_button.clicked.connect(self.choose_certificate_export)
        self.export_chain_button = QPushButton("Export chain\u2026")
        self.export_chain_button.setObjectName("inspectorExportChain")
        self.export_chain_button.setAccessibleName("Export the whole chain as PEM")
        self.export_chain_button.clicked.connect(self.choose_chain_export)
        export_row.addWidget(self.export_cert_button)
        export_row.addWidget(self.export_chain_button)
        export_row.addStretch(1)
        thumbs.addRow(export_row)
        self.qr_label = QLabel()
        self.qr_label.setObjectName("inspectorQr")
        self.qr_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr_label.setToolTip("QR code of the SHA-256 pin, for pinning out of band")
        self.qr_caption = QLabel("QR code of the leaf's SHA-256 pin")
        self.qr_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr_caption.setWordWrap(True)
        thumbs.addRow(self.qr_label)
        thumbs.addRow(self.qr_caption)

        self.pem_view = QPlainTextEdit()
        self.pem_view.setObjectName("inspectorPem")
        self.pem_view.setAccessibleName("PEM of the selected certificate")
        self.pem_view.setReadOnly(True)
        self.pem_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        pem_font = self.pem_view.font()
        pem_font.setFamily("monospace")
        pem_font.setStyleHint(pem_font.StyleHint.Monospace)
        self.pem_view.setFont(pem_font)
        self.side_tabs = QTabWidget()
        self.side_tabs.setObjectName("inspectorSideTabs")
        self.side_tabs.addTab(thumbs_box, "Thumbprints")
        self.side_tabs.addTab(self.pem_view, "PEM")
        self.jobs = Jobs(self)
        self._selected: CertificateInfo | None = None

        top = QSplitter(Qt.Orientation.Horizontal)
        top.setObjectName("inspectorTopSplitter")
        top.setChildrenCollapsible(False)
        top.addWidget(self.chain_view)
        top.addWidget(self.side_tabs)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("inspectorSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(top)
        self.splitter.addWidget(checks_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title_label)
        layout.addWidget(self.leaf_label)
        layout.addWidget(self.message_label)
        layout.addWidget(self.splitter, 1)
        self._infos: list[CertificateInfo] = []
        self._rows: tuple[CheckRow, ...] = ()

    # --- what the window calls ---------------------------------------------------------

    def show_chain(
        self,
        infos: Sequence[CertificateInfo],
        verdict: ValidationResult | dict[str, Any] | None,
        title: str,
        *,
        revocation_forced: bool = False,
    ) -> None:
        self.title_label.setText(title)
        self.message_label.hide()
        self._infos = list(infos)
        self.chain_model.removeRows(0, self.chain_model.rowCount())
        for info in infos:
            parent = _item(info.title)
            parent.setData(info, INFO_ROLE)
            summary = _item(info.subject)
            for label, value in info.fields:
                child_label = _item(label)
                child_label.setData(info, INFO_ROLE)
                parent.appendRow([child_label, _item(value)])
            self.chain_model.appendRow([parent, summary])
        if infos:
            leaf = infos[0]
            self.leaf_label.setText(f"<b>Leaf:</b> {escape(leaf.subject)}")
            self.leaf_label.setToolTip(leaf.subject)
            self.leaf_label.show()
            self.chain_view.expand(self.chain_model.index(0, 0))
            self.chain_view.setCurrentIndex(self.chain_model.index(0, 0))
            self._fit_field_column()
            self._show_thumbprints(leaf)
            self.qr_label.setPixmap(
                qr_pixmap(leaf.pin, scale=3, device_pixel_ratio=self.devicePixelRatioF())
            )
            self.qr_caption.setText(f"QR code of the leaf's pin: {leaf.pin[:20]}\u2026")
            self.qr_caption.setToolTip(leaf.pin)
        else:
            self.leaf_label.hide()
            self._show_thumbprints(None)
            self.qr_label.clear()
        self.show_verdict(verdict, revocation_forced=revocation_forced)

    def show_verdict(
        self,
        verdict: ValidationResult | dict[str, Any] | None,
        *,
        revocation_forced: bool = False,
    ) -> None:
        self.checks_model.removeRows(0, self.checks_model.rowCount())
        self._rows = ()
        if verdict is None:
            self.warnings_label.hide()
            self.failed_label.hide()
            return
        self._rows = check_rows(verdict, revocation_forced=revocation_forced)
        for row in self._rows:
            tooltip = f"{row.name}: {'passed' if row.passed else 'FAILED'}. {row.reason}".strip()
            mark = _item(PASS_MARK if row.passed else FAIL_MARK, tooltip)
            mark.setForeground(_PASS_BRUSH if row.passed else _FAIL_BRUSH)
            cells = [mark, _item(row.name, tooltip), _item(row.value, tooltip)]
            cells.append(_item(row.reason or "", tooltip))
            if not row.passed:
                for cell in cells[1:]:
                    cell.setForeground(_FAIL_BRUSH)
            self.checks_model.appendRow(cells)
        failed = [row for row in self._rows if not row.passed]
        if failed:
            self.failed_label.setText(
                "\n".join(f"{FAIL_MARK} {row.name}: {row.reason or 'failed'}" for row in failed)
            )
            self.failed_label.show()
        else:
            self.failed_label.hide()
        warnings = (
            verdict.warnings
            if isinstance(verdict, ValidationResult)
            else tuple(verdict.get("warnings", ()))
        )
        if warnings:
            self.warnings_label.setText("Warnings: " + "; ".join(warnings))
            self.warnings_label.show()
        else:
            self.warnings_label.hide()

    def show_error(self, title: str, message: str) -> None:
        """A failed inspect: nothing of the previous chain stays under the message."""
        self.title_label.setText(title)
        self._infos = []
        self.chain_model.removeRows(0, self.chain_model.rowCount())
        self.show_verdict(None)
        self._show_thumbprints(None)
        self.qr_label.clear()
        self.leaf_label.hide()
        self.message_label.setText(message)
        self.message_label.show()

    # --- for tests and the screenshot tool ------------------------------------------------

    def leaf_subject(self) -> str:
        return self._infos[0].subject if self._infos else ""

    def check_marks(self) -> dict[str, bool]:
        return {row.name: row.passed for row in self._rows}

    def certificate_titles(self) -> list[str]:
        return [info.title for info in self._infos]

    # --- internals ------------------------------------------------------------------------

    def _fit_field_column(self) -> None:
        """The field column as wide as its texts, but never wider than its share."""
        self.chain_view.resizeColumnToContents(0)
        limit = int(self.chain_view.viewport().width() * MAX_FIELD_COLUMN_SHARE)
        if limit > 0 and self.chain_view.columnWidth(0) > limit:
            self.chain_view.setColumnWidth(0, limit)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._infos:
            self._fit_field_column()

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        info = current.siblingAtColumn(0).data(INFO_ROLE)
        if isinstance(info, CertificateInfo):
            self._show_thumbprints(info)

    def _show_thumbprints(self, info: CertificateInfo | None) -> None:
        self._selected = info
        for key, edit, text in (
            ("sha256", self.sha256_edit, info.sha256 if info else ""),
            ("sha1", self.sha1_edit, info.sha1 if info else ""),
            ("pin", self.pin_edit, info.pin if info else ""),
        ):
            edit.setText(text)
            edit.setToolTip(text)
            edit.setCursorPosition(0)  # the start of a thumbprint is what people compare
            self.thumb_labels[key].setText(grouped_thumbprint(text))
            self.thumb_labels[key].setToolTip(text)
        self.pem_view.setPlainText(info.pem if info else "")
        self.expiry_label.setText(info.expiry if info else "")
        self.expiry_label.setProperty("severity", info.expiry_severity if info else "ok")
        self.expiry_label.style().unpolish(self.expiry_label)
        self.expiry_label.style().polish(self.expiry_label)
        self.export_cert_button.setEnabled(bool(info and info.der))
        self.export_chain_button.setEnabled(any(i.pem for i in self._infos))

    # --- export ------------------------------------------------------------------------

    def choose_certificate_export(self) -> QFileDialog | None:
        info = self._selected
        if info is None:
            return None
        name = (info.title.split(": ", 1)[-1] or "certificate").replace(" ", "_")
        dialog = QFileDialog(self, "Export certificate", f"{name}.pem", CERTIFICATE_FILTER)
        dialog.setObjectName("inspectorExportCertificateDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(self.export_certificate)
        dialog.open()
        return dialog

    def choose_chain_export(self) -> QFileDialog:
        dialog = QFileDialog(self, "Export chain", "chain.pem", CHAIN_FILTER)
        dialog.setObjectName("inspectorExportChainDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(self.export_chain)
        dialog.open()
        return dialog

    def export_certificate(self, path: str, fmt: str | None = None) -> None:
        """The selected certificate as PEM, or DER when `fmt` is "der" or the file
        name ends in .der / .cer; written off the UI thread."""
        info = self._selected
        if info is None:
            return
        der = fmt == "der" or (fmt is None and path.lower().endswith((".der", ".cer")))
        data = info.der if der or not info.pem else info.pem.encode("ascii")
        self.jobs.spawn("export certificate", self._write(path, data))

    def export_chain(self, path: str) -> None:
        self.jobs.spawn("export chain", self._write(path, chain_pem(self._infos).encode("ascii")))

    async def _write(self, path: str, data: bytes) -> None:
        try:
            await run_blocking(write_export, path, data)
        except OSError as exc:
            self.message_label.setText(f"{path}: {exc.strerror or exc}")
            self.message_label.show()
            return
        self.exported.emit(path)

    def _copy(self, edit: QLineEdit) -> None:
        QGuiApplication.clipboard().setText(edit.text())

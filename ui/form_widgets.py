"""Small building blocks the connection panels and the Tools dialogs share: a path
field with Browse, a masked secret field with Show, a warning label, file filters."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
)

STORE_FILTER = "Certificate stores (*.pfx *.p12 *.pem *.crt *.cer *.der);;All files (*)"
KEY_FILTER = "Private keys (*.pem *.key *.der);;All files (*)"
PEM_FILTER = "PEM / DER certificates (*.pem *.crt *.cer *.der);;All files (*)"


def path_row(
    edit: QLineEdit, caption: str, file_filter: str = "", *, directory: bool = False
) -> QHBoxLayout:
    """The field and a Browse button that fills it (a file, or a folder)."""
    row = QHBoxLayout()
    button = QPushButton("Browse\u2026")
    button.setObjectName(f"{edit.objectName()}Browse")
    # Five "Browse…" buttons must not sound the same to a screen reader.
    button.setAccessibleName(f"Browse for {caption}")
    if not edit.accessibleName():
        edit.setAccessibleName(caption)

    def browse() -> None:
        if directory:
            path = QFileDialog.getExistingDirectory(edit, caption, edit.text())
        else:
            path, _ = QFileDialog.getOpenFileName(edit, caption, edit.text(), file_filter)
        if path:
            edit.setText(path)
            edit.editingFinished.emit()

    button.clicked.connect(browse)
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row


def add_show_hide(edit: QLineEdit) -> QAction:
    """A show/hide toggle inside a masked line edit."""
    action = edit.addAction(QIcon(), QLineEdit.ActionPosition.TrailingPosition)
    action.setCheckable(True)
    action.setText("Show")
    action.setToolTip("Show or hide the value")
    action.setObjectName(f"{edit.objectName()}ShowHide")

    def toggled(shown: bool) -> None:
        edit.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        action.setText("Hide" if shown else "Show")

    action.toggled.connect(toggled)
    return action


def secret_edit(name: str, placeholder: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setPlaceholderText(placeholder)
    edit.setInputMethodHints(
        Qt.InputMethodHint.ImhHiddenText
        | Qt.InputMethodHint.ImhSensitiveData
        | Qt.InputMethodHint.ImhNoPredictiveText
    )
    return edit


def set_severity(label: QLabel, severity: str) -> None:
    """Restyle a label by its `severity` property (see app/resources/holoremote.qss).

    A label not yet polished (not yet shown) reads the property when it is; only a
    polished one is polished again. Asking for the style before the window is shown
    cost some 7 ms of its start (QStyle's Python type and its enums are made on
    first use; docs/benchmarks.md, window start)."""
    label.setProperty("severity", severity)
    if label.testAttribute(Qt.WidgetAttribute.WA_WState_Polished):
        style = label.style()
        style.unpolish(label)
        style.polish(label)


def warning_label(text: str, name: str) -> QLabel:
    label = QLabel("\u26a0 " + text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setProperty("severity", "warning")
    label.hide()
    return label

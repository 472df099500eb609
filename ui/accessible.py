"""Accessible names for the controls a form already labels.

A screen reader announces QWidget.accessibleName() first; Qt does not copy a form
row's label there, so a field labelled "Token:" would be read as "edit text". Each
panel calls `name_controls` once it is built: every interactive control without an
explicit name gets the words a sighted person reads next to it (its form label, or
its own text), so names stay in step with what the window shows. Controls that need
a more specific name (several "Browse…" buttons, "Copy" next to different values)
set it themselves before this runs and are left alone.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLayout,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

INTERACTIVE = (
    QAbstractButton,
    QLineEdit,
    QComboBox,
    QAbstractSpinBox,
    QAbstractItemView,
    QPlainTextEdit,
    QTextEdit,
)


def spoken_text(text: str) -> str:
    """Label or button text as a screen reader should say it: no mnemonic `&`, no
    trailing colon or ellipsis."""
    return (
        text.replace("&&", "\0")
        .replace("&", "")
        .replace("\0", "&")
        .strip()
        .rstrip(":\u2026.")
        .strip()
    )


def _layout_widgets(layout: QLayout) -> list[QWidget]:
    found: list[QWidget] = []
    for i in range(layout.count()):
        item = layout.itemAt(i)
        if item is None:
            continue
        if (widget := item.widget()) is not None:
            found.append(widget)
        elif (inner := item.layout()) is not None:
            found.extend(_layout_widgets(inner))
    return found


def _form_labels(root: QWidget) -> dict[int, str]:
    """id(field widget) -> its form row's label text, for every form under root."""
    labels: dict[int, str] = {}
    forms = [f for f in root.findChildren(QFormLayout)]
    if isinstance(root.layout(), QFormLayout):
        forms.append(root.layout())  # type: ignore[arg-type]
    for form in forms:
        for row in range(form.rowCount()):
            label_item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            field_item = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            if label_item is None or field_item is None:
                continue
            label = label_item.widget()
            if not isinstance(label, QLabel) or not spoken_text(label.text()):
                continue
            if (widget := field_item.widget()) is not None:
                fields = [widget, *widget.findChildren(QWidget)]
            elif (inner := field_item.layout()) is not None:
                fields = _layout_widgets(inner)
            else:
                continue
            for field in fields:
                labels.setdefault(id(field), spoken_text(label.text()))
    for label in root.findChildren(QLabel):
        buddy = label.buddy()
        if buddy is not None and spoken_text(label.text()):
            labels.setdefault(id(buddy), spoken_text(label.text()))
    return labels


def _group_title(widget: QWidget) -> str:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QGroupBox) and spoken_text(parent.title()):
            return spoken_text(parent.title())
        parent = parent.parentWidget()
    return ""


def name_controls(root: QWidget) -> None:
    """Give every unnamed interactive control under root its visible words."""
    labels = _form_labels(root)
    embedded: list[QAbstractButton] = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, INTERACTIVE) or widget.accessibleName():
            continue
        if isinstance(widget, QAbstractButton) and isinstance(widget.parent(), QLineEdit):
            embedded.append(widget)  # named after its line edit, below
            continue
        if isinstance(widget, QAbstractButton) and spoken_text(widget.text()):
            name = spoken_text(widget.text())
        elif id(widget) in labels:
            name = labels[id(widget)]
        elif isinstance(widget, QLineEdit) and spoken_text(widget.placeholderText()):
            name = spoken_text(widget.placeholderText())
        else:
            name = _group_title(widget) or spoken_text(widget.toolTip())
        if name:
            widget.setAccessibleName(name)
    for button in embedded:
        # A button inside a line edit (the Show/Hide toggle): one per field, so the
        # field's name tells them apart.
        edit = button.parent()
        assert isinstance(edit, QLineEdit)
        what = spoken_text(button.toolTip()) or spoken_text(button.text())
        button.setAccessibleName(f"{what} ({edit.accessibleName()})")

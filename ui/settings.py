"""Remembering fields between runs: QSettings for plain fields, the keyring for secrets.

A widget registers its fields in two lists: plain ones (host, ports, paths, realm,
checkboxes) go to QSettings; secret ones (token, passphrase, accepted secrets) go
to a `SecretStore` and only when the user opted in. There is no code path from a
secret field to QSettings: `FieldBinder.save` only walks the plain list.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox, QWidget

from ui.secrets import SecretStore

REMEMBER_SECRETS_KEY = "privacy/rememberSecretsInKeyring"

PlainWidget = QLineEdit | QComboBox | QCheckBox | QSpinBox


@dataclass
class FieldBinder:
    """The fields of one panel, under a QSettings group and a keyring name prefix."""

    group: str
    plain: dict[str, PlainWidget] = field(default_factory=dict)
    secret: dict[str, QLineEdit] = field(default_factory=dict)

    def add(self, key: str, widget: PlainWidget) -> None:
        self.plain[key] = widget

    def add_secret(self, key: str, widget: QLineEdit) -> None:
        self.secret[key] = widget

    def save(self, settings: QSettings) -> None:
        settings.beginGroup(self.group)
        try:
            for key, widget in self.plain.items():
                settings.setValue(key, _value(widget))
        finally:
            settings.endGroup()

    def restore(self, settings: QSettings) -> None:
        settings.beginGroup(self.group)
        try:
            for key, widget in self.plain.items():
                if settings.contains(key):
                    _set_value(widget, settings.value(key))
        finally:
            settings.endGroup()

    def secret_values(self) -> dict[str, str]:
        """name -> value of every non-empty secret field, for the keyring."""
        return {
            f"{self.group}/{key}": widget.text()
            for key, widget in self.secret.items()
            if widget.text()
        }

    def secret_names(self) -> list[str]:
        return [f"{self.group}/{key}" for key in self.secret]

    def apply_secrets(self, values: dict[str, str | None]) -> None:
        for key, widget in self.secret.items():
            value = values.get(f"{self.group}/{key}")
            if value:
                widget.setText(value)


def _value(widget: QWidget) -> object:
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, QSpinBox):
        return widget.value()
    if isinstance(widget, QComboBox):
        data = widget.currentData()
        return data if data is not None else widget.currentText()
    if isinstance(widget, QLineEdit):
        if widget.echoMode() != QLineEdit.EchoMode.Normal:
            # A masked field is a secret; it belongs in `secret`, never here.
            raise ValueError(f"refusing to store masked field {widget.objectName()!r}")
        return widget.text()
    raise TypeError(type(widget).__name__)


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def _set_value(widget: QWidget, value: object) -> None:
    if isinstance(widget, QCheckBox):
        widget.setChecked(_truthy(value))
    elif isinstance(widget, QSpinBox):
        # A hand-edited or foreign settings file may hold anything; a number beyond
        # the field's range (even beyond a C int, which setValue cannot take) is
        # clamped to it, and one that is no number leaves the field as it is.
        with contextlib.suppress(ValueError):
            number = int(str(value))
            widget.setValue(max(widget.minimum(), min(widget.maximum(), number)))
    elif isinstance(widget, QComboBox):
        index = widget.findData(value)
        if index < 0:
            index = widget.findText(str(value))
        if index >= 0:
            widget.setCurrentIndex(index)
        elif widget.isEditable():
            widget.setEditText(str(value))
    elif isinstance(widget, QLineEdit):
        widget.setText(str(value))


def load_secrets(store: SecretStore, names: list[str]) -> dict[str, str | None]:
    """Blocking (keyring); run off the UI thread."""
    return {name: store.get_secret(name) for name in names}


def save_secrets(store: SecretStore, values: dict[str, str], all_names: list[str]) -> None:
    """Blocking (keyring); stores the given values and forgets emptied fields."""
    for name in all_names:
        if name in values:
            store.set_secret(name, values[name])
        else:
            store.delete_secret(name)


def forget_secrets(store: SecretStore, names: list[str]) -> None:
    for name in names:
        store.delete_secret(name)

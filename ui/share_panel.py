"""The Share panel: what a listener gives to the people who connect to it.

Every address of this machine with the port, the SHA-256 pin of the certificate it
serves, and a QR code of the `holoremote connect` line with that pin, each with a
Copy button. The token is a secret and is never in the panel or the code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QGuiApplication, QPainter, QPaintEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QWidget,
)

if TYPE_CHECKING:
    from app.share import ShareInfo

# Modules are at least this many device-independent pixels wide: a phone camera reads
# them from a laptop screen at arm's length.
MIN_MODULE_PX = 3


def machine_addresses() -> list[str]:
    """Every address of the interfaces that are up (Qt's view of this machine).
    QtNetwork is imported here, when a listener first shares, not when the window
    opens (~40 ms of the start)."""
    from PySide6.QtNetwork import QAbstractSocket, QNetworkInterface

    addresses = []
    for interface in QNetworkInterface.allInterfaces():
        flags = interface.flags()
        if not flags & QNetworkInterface.InterfaceFlag.IsUp:
            continue
        for entry in interface.addressEntries():
            ip = entry.ip()
            if ip.protocol() in (
                QAbstractSocket.NetworkLayerProtocol.IPv4Protocol,
                QAbstractSocket.NetworkLayerProtocol.IPv6Protocol,
            ):
                addresses.append(ip.toString())
    return addresses


class QrCodeView(QWidget):
    """A QR code drawn at a whole number of device pixels per module, for the screen
    it is on: sharp at 100 %, 150 % or 200 % (no scaling of a finished image)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._modules = 0
        self.setMinimumSize(QSize(160, 160))
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def set_text(self, text: str) -> None:
        self._text = text
        self.setToolTip(text)
        self.setAccessibleDescription(f"QR code of: {text}" if text else "")
        self.update()

    def text(self) -> str:
        return self._text

    def sizeHint(self) -> QSize:
        return QSize(220, 220)

    def heightForWidth(self, width: int) -> int:
        return width

    def paintEvent(self, _event: QPaintEvent) -> None:
        if not self._text:
            return
        # Imported at the first code drawn: QImage's and QColor's enum types are not
        # needed before the window's first paint (docs/benchmarks.md, window start).
        from ui.qr import qr_device_image

        ratio = self.devicePixelRatioF()
        side = min(self.width(), self.height())
        image = qr_device_image(self._text, side_px=side, device_pixel_ratio=ratio)
        if image.isNull():
            return
        painter = QPainter(self)
        try:
            logical = image.width() / ratio
            x = (self.width() - logical) / 2
            y = (self.height() - logical) / 2
            # Whole device pixels for the corner too, so module edges stay on pixels.
            corner = QPointF(round(x * ratio) / ratio, round(y * ratio) / ratio)
            painter.drawImage(corner, image)
        finally:
            painter.end()


class SharePanel(QGroupBox):
    """Shown while listening. `show_listener` fills it; `clear` empties it."""

    def __init__(self, prefix: str = "", parent: QWidget | None = None) -> None:
        super().__init__("Share this listener", parent)
        self.setObjectName(f"{prefix}sharePanel")
        self.info: ShareInfo | None = None
        self.addresses = QListWidget()
        self.addresses.setObjectName(f"{prefix}shareAddresses")
        self.addresses.setAccessibleName("Addresses of this listener")
        self.addresses.setMaximumHeight(90)
        self.copy_address = QPushButton("Copy")
        self.copy_address.setAccessibleName("Copy the selected address")
        self.copy_address.clicked.connect(self._copy_address)
        self.pin = QLineEdit()
        self.pin.setObjectName(f"{prefix}sharePin")
        self.pin.setAccessibleName("SHA-256 pin of the served certificate")
        self.pin.setReadOnly(True)
        self.pin.hide()  # the raw value Copy copies; shown grouped below
        self.pin_shown = QLabel()
        self.pin_shown.setObjectName(f"{prefix}sharePinShown")
        self.pin_shown.setWordWrap(True)
        self.pin_shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._pin_font_set = False  # monospace, set when the panel is first shown
        self.copy_pin = QPushButton("Copy")
        self.copy_pin.setAccessibleName("Copy the pin")
        self.copy_pin.clicked.connect(lambda: self._copy(self.pin.text()))
        self.qr_address = QComboBox()
        self.qr_address.setObjectName(f"{prefix}shareQrAddress")
        self.qr_address.setAccessibleName("Address in the QR code")
        self.qr_address.currentIndexChanged.connect(self._qr_address_changed)
        self.command = QLineEdit()
        self.command.setObjectName(f"{prefix}shareCommand")
        self.command.setAccessibleName("Command line for a client")
        self.command.setReadOnly(True)
        self.copy_command = QPushButton("Copy")
        self.copy_command.setAccessibleName("Copy the command line")
        self.copy_command.clicked.connect(lambda: self._copy(self.command.text()))
        self.qr = QrCodeView()
        self.qr.setObjectName(f"{prefix}shareQr")
        self.qr.setAccessibleName("QR code of the command line")
        self.note = QLabel("Give the token separately: it is a secret and is not in this panel.")
        self.note.setWordWrap(True)

        form = QFormLayout(self)
        form.addRow("Addresses", _row(self.addresses, self.copy_address))
        pin_row = _row(self.pin_shown, self.copy_pin)
        pin_row.insertWidget(0, self.pin)
        form.addRow("Pin (SHA-256)", pin_row)
        form.addRow("For", self.qr_address)
        form.addRow("Command", _row(self.command, self.copy_command))
        form.addRow(self.qr)
        form.addRow(self.note)

    def showEvent(self, event: QShowEvent) -> None:
        """The pin in a monospace font, set when the panel is first shown: the panel is
        hidden until a listener shares, and making QFont's Python type and enums was
        ~1 ms of the window's start (docs/benchmarks.md, window start)."""
        if not self._pin_font_set:
            self._pin_font_set = True
            font = self.pin_shown.font()
            font.setFamily("monospace")
            font.setStyleHint(font.StyleHint.Monospace)
            self.pin_shown.setFont(font)
        super().showEvent(event)

    def show_listener(self, info: ShareInfo) -> None:
        self.info = info
        self.addresses.clear()
        for address in info.addresses:
            self.addresses.addItem(info.endpoint(address))
        if self.addresses.count():
            self.addresses.setCurrentRow(0)
        self.pin.setText(info.pin or "(plain listener: no certificate)")
        # Imported here: the inspector's module is not needed before the window's first paint.
        from ui.inspector import grouped_thumbprint

        self.pin_shown.setText(grouped_thumbprint(self.pin.text()) if info.pin else self.pin.text())
        self.qr_address.blockSignals(True)
        self.qr_address.clear()
        for address in info.addresses:
            self.qr_address.addItem(address, address)
        self.qr_address.blockSignals(False)
        self._qr_address_changed()

    def clear(self) -> None:
        self.info = None
        self.addresses.clear()
        self.pin.clear()
        self.pin_shown.clear()
        self.qr_address.clear()
        self.command.clear()
        self.qr.set_text("")

    def _qr_address_changed(self, *_args: object) -> None:
        if self.info is None:
            return
        address = self.qr_address.currentData()
        line = self.info.connect_command(address if isinstance(address, str) else None)
        self.command.setText(line)
        self.command.setCursorPosition(0)
        self.qr.set_text(line)

    def _copy_address(self) -> None:
        item = self.addresses.currentItem()
        if item is not None:
            self._copy(item.text())

    @staticmethod
    def _copy(text: str) -> None:
        if text:
            QGuiApplication.clipboard().setText(text)


def _row(widget: QWidget, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(widget, 1)
    row.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
    return row

"""A QR code (segno) drawn into a QImage, for out-of-band pinning of a thumbprint.

segno gives the module matrix; drawing it here avoids Pillow and any temporary file.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

QUIET_ZONE = 4  # modules of white border, as ISO/IEC 18004 asks


def qr_image(text: str, *, scale: int = 4, error: str = "m") -> QImage:
    """A black-on-white QImage of `text`, each module `scale` pixels wide."""
    import segno  # imported when first drawn: it pulls in urllib and xml (~20 ms)

    code = segno.make(text, error=error)
    matrix = code.matrix
    modules = len(matrix)
    size = (modules + 2 * QUIET_ZONE) * scale
    image = QImage(size, size, QImage.Format.Format_RGB32)
    image.fill(QColor(Qt.GlobalColor.white))
    painter = QPainter(image)
    try:
        black = QColor(Qt.GlobalColor.black)
        for y, row in enumerate(matrix):
            for x, dark in enumerate(row):
                if dark:
                    painter.fillRect(
                        (x + QUIET_ZONE) * scale, (y + QUIET_ZONE) * scale, scale, scale, black
                    )
    finally:
        painter.end()
    return image


def qr_pixmap(text: str, *, scale: int = 4) -> QPixmap:
    return QPixmap.fromImage(qr_image(text, scale=scale))

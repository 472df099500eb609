"""A QR code (segno) drawn into a QImage, for out-of-band pinning of a thumbprint.

segno gives the module matrix; drawing it here avoids Pillow and any temporary file.
`qr_device_image` draws for a given screen: a whole number of device pixels per
module, the device pixel ratio set on the image, so the code is sharp at 100 %,
150 % or 200 % (scaling a finished image would blur or unevenly size the modules).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

QUIET_ZONE = 4  # modules of white border, as ISO/IEC 18004 asks


@lru_cache(maxsize=32)
def _matrix(text: str, error: str) -> tuple[tuple[int, ...], ...]:
    import segno  # imported when first drawn: it pulls in urllib and xml (~20 ms)

    code: Any = segno.make(text, error=error)
    return tuple(tuple(1 if dark else 0 for dark in row) for row in code.matrix)


def module_count(text: str, *, error: str = "m") -> int:
    """Modules per side, quiet zone included."""
    return len(_matrix(text, error)) + 2 * QUIET_ZONE


def qr_image(text: str, *, scale: int = 4, error: str = "m") -> QImage:
    """A black-on-white QImage of `text`, each module `scale` pixels wide."""
    matrix = _matrix(text, error)
    size = (len(matrix) + 2 * QUIET_ZONE) * scale
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


def device_scale(text: str, side_px: float, device_pixel_ratio: float, *, error: str = "m") -> int:
    """Device pixels per module so that the code fits `side_px` logical pixels (at
    least 1)."""
    modules = module_count(text, error=error)
    return max(1, math.floor(side_px * device_pixel_ratio / modules))


def qr_device_image(
    text: str, *, side_px: float, device_pixel_ratio: float, error: str = "m"
) -> QImage:
    """The largest sharp code fitting `side_px` logical pixels on a screen with this
    device pixel ratio (the image carries the ratio, so painters place it in logical
    pixels)."""
    scale = device_scale(text, side_px, device_pixel_ratio, error=error)
    image = qr_image(text, scale=scale, error=error)
    image.setDevicePixelRatio(device_pixel_ratio)
    return image


def qr_pixmap(text: str, *, scale: int = 4, device_pixel_ratio: float = 1.0) -> QPixmap:
    """A pixmap of about `scale` logical pixels per module for a screen of this
    ratio: whole device pixels per module and the screen's own ratio on the pixmap,
    so nothing rescales it when it is drawn."""
    device = max(1, round(scale * device_pixel_ratio))
    pixmap = QPixmap.fromImage(qr_image(text, scale=device))
    pixmap.setDevicePixelRatio(device_pixel_ratio)
    return pixmap

"""Render the icon's PNG sizes and the Windows .ico from app/resources/icons/holoremote.svg.

    python installer/make_icons.py      (writes app/resources/icons/holoremote-<N>.png
                                         and holoremote.ico; the results are committed)

The SVG is the source; hicolor wants PNGs at fixed sizes beside it (some panels and
AppStream use them), Windows wants one .ico with several sizes for the executable,
the Start-menu entry and the installer. Qt renders both, so no other tool is needed.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parents[1] / "app" / "resources" / "icons"
SOURCE = ICONS / "holoremote.svg"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def render_png(size: int) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        raise SystemExit(f"{SOURCE}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


def ico(pngs: dict[int, bytes]) -> bytes:
    """An ICO whose entries are PNGs (valid since Windows Vista, for every size)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = len(header) + 16 * len(pngs)
    entries, images = b"", b""
    for size, png in sorted(pngs.items()):
        dimension = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack(
            "<BBBBHHII", dimension, dimension, 0, 0, 1, 32, len(png), offset + len(images)
        )
        images += png
    return header + entries + images


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    pngs = {size: render_png(size) for size in sorted(set(PNG_SIZES) | set(ICO_SIZES))}
    for size in PNG_SIZES:
        (ICONS / f"holoremote-{size}.png").write_bytes(pngs[size])
    (ICONS / "holoremote.ico").write_bytes(ico({s: pngs[s] for s in ICO_SIZES}))
    print(f"wrote {len(PNG_SIZES)} PNGs and holoremote.ico into {ICONS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

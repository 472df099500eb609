"""Help > Documentation (F1): the guides shipped with the app, read inside it.

Why inside: F1 must work offline and on a machine without a browser; the docs are
Markdown, which QTextBrowser renders. They are found beside the code in a checkout
(and the PyInstaller bundle) or in <prefix>/share/holoremote/docs for a wheel.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QListWidget, QSplitter, QTextBrowser, QVBoxLayout, QWidget

# The guides in the order a new user reads them (others follow alphabetically).
FIRST = ("README.md", "troubleshooting.md", "certificates.md", "protocol.md")


def docs_dir() -> Path | None:
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent.parent))
    for candidate in (base / "docs", Path(sys.prefix) / "share" / "holoremote" / "docs"):
        if candidate.is_dir() and any(candidate.glob("*.md")):
            return candidate
    return None


def guides(folder: Path | None = None) -> list[Path]:
    folder = folder or docs_dir()
    if folder is None:
        return []
    found = {p.name: p for p in folder.glob("*.md")}
    readme = folder.parent / "README.md"
    if readme.is_file():
        found.setdefault("README.md", readme)
    ordered = [found.pop(name) for name in FIRST if name in found]
    return ordered + [found[name] for name in sorted(found)]


class HelpDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("helpDialog")
        self.setWindowTitle("holoremote documentation")
        self.pages = guides()
        self.index = QListWidget()
        self.index.setObjectName("helpIndex")
        self.index.setAccessibleName("Guides")
        self.browser = QTextBrowser()
        self.browser.setObjectName("helpBrowser")
        self.browser.setAccessibleName("Guide text")
        self.browser.setOpenExternalLinks(False)
        for page in self.pages:
            self.index.addItem(page.stem.replace("-", " ").capitalize())
        self.index.currentRowChanged.connect(self.show_page)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.index)
        splitter.addWidget(self.browser)
        splitter.setStretchFactor(1, 4)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        if self.pages:
            self.index.setCurrentRow(0)
        else:
            self.browser.setPlainText(
                "The documentation was not installed with this copy of holoremote."
            )
        self.resize(980, 700)

    def show_page(self, row: int) -> None:
        if 0 <= row < len(self.pages):
            page = self.pages[row]
            self.browser.setSearchPaths([str(page.parent)])
            self.browser.setMarkdown(page.read_text(encoding="utf-8"))

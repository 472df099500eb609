"""Help > Documentation (F1) shows the guides shipped with the app."""

from __future__ import annotations

from ui.help import HelpDialog, docs_dir, guides
from ui.window import MainWindow


def test_f1_shows_the_shipped_guides(qtbot, window: MainWindow) -> None:
    assert docs_dir() is not None
    names = [p.name for p in guides()]
    assert names[:2] == ["README.md", "troubleshooting.md"]
    window.help_action.trigger()
    dialog = window.findChild(HelpDialog, "helpDialog")
    assert dialog is not None and dialog.isVisible()
    assert dialog.index.count() == len(names)
    dialog.index.setCurrentRow(1)
    assert "AUTHENTICATION_FAILED" in dialog.browser.toPlainText()
    dialog.close()

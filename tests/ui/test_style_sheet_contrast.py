"""The style sheet's own colours are readable in both palettes: every text colour it
sets meets WCAG 2.x's 4.5:1 against the background it sets, or, where it sets none,
against the window background of the light (Fusion) and the dark palette."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from ui.outcome_style import contrast_ratio
from ui.palettes import dark_palette

SHEET = Path(__file__).resolve().parents[2] / "app" / "resources" / "holoremote.qss"
RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
PROPERTY = re.compile(r"(?<![-\w])(color|background(?:-color)?)\s*:\s*([^;]+);")
AA_NORMAL_TEXT = 4.5  # WCAG 2.x SC 1.4.3


def _rules() -> list[tuple[str, dict[str, str]]]:
    text = re.sub(r"/\*.*?\*/", "", SHEET.read_text(encoding="utf-8"), flags=re.DOTALL)
    rules = []
    for selector, body in RULE.findall(text):
        props = {name.split("-")[0]: value.strip() for name, value in PROPERTY.findall(body)}
        if props:
            rules.append((selector.strip(), props))
    return rules


def _palettes(qapp: QApplication) -> dict[str, QPalette]:
    fusion = QStyleFactory.create("Fusion")
    assert fusion is not None
    return {"light": fusion.standardPalette(), "dark": dark_palette()}


def test_the_sheet_sets_colours() -> None:
    assert any("color" in props for _, props in _rules())


@pytest.mark.parametrize("palette_name", ["light", "dark"])
def test_every_text_colour_meets_4_5_to_1(qapp: QApplication, palette_name: str) -> None:
    palette = _palettes(qapp)[palette_name]
    low = []
    for selector, props in _rules():
        text = (
            QColor(props["color"])
            if "color" in props
            else palette.color(QPalette.ColorRole.WindowText)
        )
        background = (
            QColor(props["background"])
            if "background" in props
            else palette.color(QPalette.ColorRole.Window)
        )
        assert text.isValid() and background.isValid(), selector
        ratio = contrast_ratio(text, background)
        if ratio < AA_NORMAL_TEXT:
            low.append(f"{selector}: {text.name()} on {background.name()} is {ratio:.2f}:1")
    assert low == []

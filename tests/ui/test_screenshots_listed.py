"""The README shows every picture `make screenshots` renders, and nothing stale."""

from __future__ import annotations

import re

from tests.reference import REPO_ROOT

RENDERED = {
    "idle.png",
    "connected-timeline.png",
    "inspector-failed-check.png",
    "waterfall.png",
    "share-panel.png",
    "dark-timeline.png",
    "session-stream.png",
    "session-plot.png",
}


def test_readme_shows_every_rendered_picture() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    shown = set(re.findall(r"\]\(docs/images/([\w.-]+\.png)\)", readme))
    assert shown == RENDERED
    source = (REPO_ROOT / "ui" / "screenshots.py").read_text(encoding="utf-8")
    for name in RENDERED:
        assert f'"{name}"' in source, name
        assert (REPO_ROOT / "docs" / "images" / name).is_file(), name

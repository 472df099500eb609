"""Docstrings and docs may cite only files that are in the repository: a reader who
follows a reference must find it."""

from __future__ import annotations

import re

from tests.reference import REPO_ROOT

# A file name the text names as a document (DESIGN.md, docs/x.md, README.md, ...).
CITED = re.compile(r"(?<![\w/.-])((?:docs/)?[A-Za-z_-]+\.md)\b")


def test_every_cited_markdown_file_exists() -> None:
    missing = []
    sources = [*REPO_ROOT.joinpath("app").rglob("*.py"), *REPO_ROOT.joinpath("ui").rglob("*.py")]
    sources += list(REPO_ROOT.joinpath("docs").glob("*.md"))
    for path in sources:
        for name in CITED.findall(path.read_text(encoding="utf-8")):
            candidates = [REPO_ROOT / name, REPO_ROOT / "docs" / name]
            if not any(c.is_file() for c in candidates):
                missing.append(f"{path.relative_to(REPO_ROOT)} cites {name}")
    assert not missing, "\n".join(missing)

"""Suite-wide fixtures: tools the tests need, found or (in CI) demanded."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import pytest

# Qt tests run offscreen unless a test asks for a real platform (the Xvfb test does,
# in a subprocess). Set before pytest-qt creates the QApplication.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(
            f"'{tool}' is not installed; run 'scripts/system-deps.sh test' as root "
            "(make test does this) to install it"
        )
    return path


@pytest.fixture(scope="session")
def require_tool() -> Callable[[str], str]:
    """`require_tool("cc")` -> path. A missing tool is a failure, never a skip: a
    skipped interop or layout test would hide exactly what it exists to prove."""
    return _require

"""Suite-wide fixtures: tools the tests need, found or (in CI) demanded."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import pytest

# Qt tests run offscreen unless a test asks for a real platform (the Xvfb test does,
# in a subprocess). Set before pytest-qt creates the QApplication.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = (
            f"'{tool}' is not installed; run 'scripts/system-deps.sh test' as root "
            "(make test does this) to install it"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def require_tool() -> Callable[[str], str]:
    """`require_tool("cc")` -> path. Missing tools fail in CI and skip elsewhere."""
    return _require

"""Suite-wide fixtures: tools the tests need, found or (in CI) demanded."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, settings

# Qt tests run offscreen unless a test asks for a real platform (the Xvfb test does,
# in a subprocess). Set before pytest-qt creates the QApplication.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Property tests (hypothesis): "short" in `make test` (derandomized, so every run tries
# the same examples and a failure reproduces; no deadline, since a per-example time
# limit is a timed assertion that fails under load), "long" in `make fuzz`
# (HYPOTHESIS_PROFILE=long: many more, random examples). Neither writes an example
# database into the checkout.
settings.register_profile(
    "short",
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=3000,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "short"))


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

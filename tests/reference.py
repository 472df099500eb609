"""Where the reference texts are: HOLOREMOTE_REFERENCE_DIR, else `../shared/reference`
beside the checkout (as CI lays it out), else the copy in tests/data/reference (the
specification text and Microsoft's numbers, kept so a plain clone can run the suite)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def reference_dir() -> Path:
    override = os.environ.get("HOLOREMOTE_REFERENCE_DIR")
    if override:
        folder = Path(override)
    else:
        shared = REPO_ROOT.parent / "shared" / "reference"
        folder = shared if shared.is_dir() else REPO_ROOT / "tests" / "data" / "reference"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"reference texts not found at {folder}; set HOLOREMOTE_REFERENCE_DIR to the "
            "folder holding xr_msft_holographic_remoting-*.txt/md"
        )
    return folder

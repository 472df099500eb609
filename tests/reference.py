"""Where the shared reference texts are: `../shared/reference` beside the checkout
(as CI lays it out), or HOLOREMOTE_REFERENCE_DIR."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def reference_dir() -> Path:
    override = os.environ.get("HOLOREMOTE_REFERENCE_DIR")
    folder = Path(override) if override else REPO_ROOT.parent / "shared" / "reference"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"reference texts not found at {folder}; set HOLOREMOTE_REFERENCE_DIR to the "
            "folder holding xr_msft_holographic_remoting-*.txt/md"
        )
    return folder

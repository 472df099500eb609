"""`holoremote … | head -1`: when the reader of standard output has gone, a command
stops quietly with 141 (128 + SIGPIPE, as a C tool stopped by SIGPIPE), never with a
BrokenPipeError traceback on standard error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.security.testpki import create_test_pki

REPO = Path(__file__).resolve().parents[3]


def test_a_closed_output_pipe_ends_the_command_without_a_traceback(tmp_path: Path) -> None:
    pki = create_test_pki(["pipe.test"], [], passphrase="unused")
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki.ca_pem)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write: every write fails
    try:
        result = subprocess.run(
            [sys.executable, "-m", "app", "inspect", str(ca)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == 141

"""Output that any console can print.

A redirected stdout on Windows encodes with the ANSI code page (cp1252 and the like),
which has no block characters and no typographic quotes; Python's default there is to
raise UnicodeEncodeError, after the command may already have written its files. The
command line therefore replaces what a stream cannot encode instead of raising, and
the few outputs that are pictures (the QR code of a pin) check first and fall back to
ASCII with a note. A windowed executable (the Windows GUI build) has no streams at
all; printing there goes to the null device instead of failing.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO


def make_streams_printable() -> None:
    """stdout/stderr never raise on a character their encoding lacks; missing streams
    (a program built without a console) are replaced by the null device."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
            continue
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) == "strict":
            reconfigure(errors="replace")


def can_print(text: str, stream: TextIO | None = None) -> bool:
    """True when `stream` (stdout by default) can encode every character of `text`."""
    target = sys.stdout if stream is None else stream
    encoding = getattr(target, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True

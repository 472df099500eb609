"""Helpers shared by the commands (the certificate ones, and through common.py the
connection ones): reading a passphrase without argv, and printing errors the one way
(message, then the fix)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from app.errors import InputError

PASSPHRASE_ENV = "HOLOREMOTE_KEY_PASSPHRASE"  # noqa: S105 - a variable name
# A passphrase is a line of text; anything longer is the wrong file.
MAX_PASSPHRASE_FILE_BYTES = 4096
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def read_passphrase(path: str | None, flag: str = "--passphrase-file") -> str | None:
    """From the file `flag` names, else $HOLOREMOTE_KEY_PASSPHRASE, else None. Never argv."""
    if path is None:
        return os.environ.get(PASSPHRASE_ENV)
    file = Path(path)
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_PASSPHRASE_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(
            f"{flag} {file}", f"cannot be read ({exc.strerror})", fix="check the path"
        ) from None
    if len(raw) > MAX_PASSPHRASE_FILE_BYTES:
        raise InputError(
            f"{flag} {file}",
            "is too large to be a passphrase file",
            fix="put only the passphrase in it, on one line",
        )
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise InputError(f"{flag} {file}", "is not UTF-8 text") from None


def report_error(command: str, error: BaseException) -> None:
    """The error and its fix on stderr, worded by `failure.error_text` as the window's
    message boxes are."""
    from app.endpoint.failure import COMMAND_LINE, error_text

    message, fix = error_text(COMMAND_LINE, error)
    print(f"holoremote {command}: {message}", file=sys.stderr)
    if fix:
        print(f"  fix: {fix}", file=sys.stderr)

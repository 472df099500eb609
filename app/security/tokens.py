"""Authentication tokens: make a shared secret, and read a token from a file, an
environment variable or a command's output.

Tokens are secrets: no function here logs one or puts one in an exception message;
errors name the file, variable or command and the fix. The specification caps what
the runtime asks for at 1 KiB, so longer tokens are refused at the source.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from app.security.errors import TokenError

DEFAULT_TOKEN_ENV = "HOLOREMOTE_TOKEN"  # noqa: S105 - a variable name
# XR_MSFT_holographic_remoting: the runtime asks for at most 1 KiB of token
# (null terminator included), so a usable token is at most 1023 bytes.
MAX_TOKEN_BYTES = 1023
# 128 bits is the floor NIST SP 800-63B and OWASP set for a random secret; we make
# 256 by default, at most 1024 (longer gains nothing and nears the token cap).
MIN_SECRET_BITS = 128
DEFAULT_SECRET_BITS = 256
MAX_SECRET_BITS = 1024
# A token command (a password manager, a cloud CLI) answers in well under this; a
# hung one must not hold up the connection.
DEFAULT_COMMAND_TIMEOUT_SECONDS = 10.0


def generate_shared_secret(bits: int = DEFAULT_SECRET_BITS) -> str:
    """A random URL-safe secret with at least `bits` bits of entropy."""
    if not MIN_SECRET_BITS <= bits <= MAX_SECRET_BITS:
        raise ValueError(f"a shared secret needs {MIN_SECRET_BITS} to {MAX_SECRET_BITS} bits")
    return secrets.token_urlsafe((bits + 7) // 8)


def _clean(raw: bytes, source: str, fix: str) -> str:
    text = raw.rstrip(b"\r\n")
    if len(text) > MAX_TOKEN_BYTES:
        raise TokenError(
            f"{source}: the token is {len(text)} bytes, over the {MAX_TOKEN_BYTES}-byte limit "
            "of the remoting runtime",
            fix=fix,
        )
    try:
        token = text.decode("utf-8")
    except UnicodeDecodeError:
        raise TokenError(f"{source}: the token is not UTF-8 text", fix=fix) from None
    if not token.strip():
        raise TokenError(f"{source}: the token is empty", fix=fix)
    if "\n" in token or "\x00" in token:
        raise TokenError(f"{source}: the token spans several lines or holds a NUL byte", fix=fix)
    return token


def token_from_file(path: str | os.PathLike[str]) -> str:
    """The file's content without the trailing newline."""
    file = Path(path)
    fix = "put only the token in the file (one line, at most 1023 bytes)"
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_TOKEN_BYTES + 3)
    except FileNotFoundError:
        raise TokenError(f"{file}: no such token file", fix="check the --token-file path") from None
    except IsADirectoryError:
        raise TokenError(f"{file}: is a directory", fix="give the token file itself") from None
    except PermissionError:
        raise TokenError(
            f"{file}: cannot be read (permission denied)", fix="check its permissions"
        ) from None
    return _clean(raw, str(file), fix)


def token_from_env(name: str = DEFAULT_TOKEN_ENV, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    value = env.get(name)
    if value is None:
        raise TokenError(
            f"environment variable {name} is not set", fix=f"export {name}, or use --token-file"
        )
    return _clean(value.encode("utf-8"), f"environment variable {name}", f"set {name} to the token")


def token_from_command(
    argv: Sequence[str], *, timeout: float = DEFAULT_COMMAND_TIMEOUT_SECONDS
) -> str:
    """Run `argv` (no shell) and take its standard output as the token. Its output
    and error text are never repeated in messages: they may hold the secret."""
    if not argv:
        raise TokenError("the token command is empty", fix="give the command and its arguments")
    program = argv[0]
    try:
        completed = subprocess.run(
            list(argv), capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        raise TokenError(
            f"token command '{program}' was not found", fix="check the command"
        ) from None
    except subprocess.TimeoutExpired:
        raise TokenError(
            f"token command '{program}' did not finish within {timeout:g} s",
            fix="make the command answer faster, or raise the timeout",
        ) from None
    if completed.returncode != 0:
        raise TokenError(
            f"token command '{program}' failed with exit status {completed.returncode}",
            fix="run the command by hand to see what it needs",
        )
    return _clean(
        completed.stdout, f"token command '{program}'", "make the command print only the token"
    )

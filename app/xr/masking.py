"""The one place that decides how a secret looks in records, logs and events.

Nothing else formats a token, passphrase or key for display; a secret shows as its
kind and length only, which is enough to debug "empty" versus "too long" without
ever showing a character of it.
"""

from __future__ import annotations

MASK = "\u2022" * 8  # eight bullets, whatever the secret's length


def mask_secret(value: str | bytes | None) -> str:
    """`••••••••(43 bytes)` for a secret, `(none)` for None, `(empty)` for empty."""
    if value is None:
        return "(none)"
    size = len(value.encode("utf-8")) if isinstance(value, str) else len(value)
    if size == 0:
        return "(empty)"
    return f"{MASK}({size} bytes)"

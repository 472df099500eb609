"""An error in the window's words (field names, not flags), with its fix.

`app.endpoint.failure` says it for every face; it imports the certificate acceptance
rules and thumbprints, which the window needs only once something failed, so it is
imported at the first error, not with the window (docs/benchmarks.md, window start).
"""

from __future__ import annotations


def window_error_text(error: BaseException) -> tuple[str, str]:
    """(message, fix) of `error` as the window says it."""
    from app.endpoint.failure import WINDOW, error_text

    return error_text(WINDOW, error)

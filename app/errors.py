"""One error family for the whole app.

Every subclass carries what the caller needs next (the file and the fix, the
XrResult, the disconnect reason), so a message can always name the thing and the
remedy. Messages never contain secrets: callers pass names and sizes, not values.
"""

from __future__ import annotations


class HoloremoteError(Exception):
    """Base of every error the app raises on purpose.

    `fix` is a short imperative sentence telling the user what to do; the CLI and the
    window show it under the message.
    """

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message} ({self.fix})"
        return self.message


class InputError(HoloremoteError):
    """A file, flag or field given by the user is unusable.

    `subject` names the thing (a path, a flag, a field label) so the UI can point at it.
    """

    def __init__(self, subject: str, message: str, *, fix: str | None = None) -> None:
        super().__init__(f"{subject}: {message}", fix=fix)
        self.subject = subject

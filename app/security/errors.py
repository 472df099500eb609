"""Errors of the security layer.

They subclass the app's `InputError` / `HoloremoteError` so the CLI and the window
show them the same way (subject, message, fix). Messages name files, flags and
certificate subjects, never a passphrase, token or key.
"""

from __future__ import annotations

from app.errors import HoloremoteError, InputError


class CertificateFileError(InputError):
    """A certificate, key or PKCS#12 file cannot be used as given."""


class TrustSourceError(InputError):
    """The CA bundle (system or user-named) cannot be read."""


class TokenError(HoloremoteError):
    """A token cannot be produced or read (file, environment variable, command)."""


class TokenRejected(HoloremoteError):
    """A presented token did not pass validation. The message says which check
    failed (issuer, audience, expiry ...) but never repeats the token."""


class PolicyError(ValueError, HoloremoteError):
    """A client policy or validator was configured with contradictory settings.

    Also a `ValueError`, as pyca's `PolicyBuilder` raises for misuse."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        HoloremoteError.__init__(self, message, fix=fix)

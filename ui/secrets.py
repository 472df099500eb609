"""Where remembered secrets go: the OS keyring, behind one small interface.

As vorta's `keyring/abc.py`: `set_secret` / `get_secret` / `delete_secret`, and a
factory that picks the OS backend and says whether it is a real store or the
fallback. The fallback remembers nothing and says so; there is no plain-file
fallback, because a token or passphrase must never land in a settings file.

Keyring calls may block (D-Bus, a locked wallet): the window calls them off the UI
thread (`ui.jobs.run_blocking`).
"""

from __future__ import annotations

import abc
import contextlib
import logging

SERVICE = "holoremote"

log = logging.getLogger(__name__)


class SecretStore(abc.ABC):
    #: True where secrets survive a restart (a real OS keyring).
    is_persistent: bool = False
    #: One line for the UI: which store this is.
    description: str = ""

    @abc.abstractmethod
    def set_secret(self, name: str, value: str) -> None: ...

    @abc.abstractmethod
    def get_secret(self, name: str) -> str | None: ...

    @abc.abstractmethod
    def delete_secret(self, name: str) -> None: ...


class KeyringSecretStore(SecretStore):
    is_persistent = True

    def __init__(self, backend_name: str) -> None:
        self.description = f"OS keyring ({backend_name})"

    def set_secret(self, name: str, value: str) -> None:
        import keyring

        keyring.set_password(SERVICE, name, value)

    def get_secret(self, name: str) -> str | None:
        import keyring

        value = keyring.get_password(SERVICE, name)
        return None if value is None else str(value)

    def delete_secret(self, name: str) -> None:
        import keyring
        import keyring.errors

        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            keyring.delete_password(SERVICE, name)


class NotRememberingStore(SecretStore):
    """No OS keyring: secrets are kept for this run only, in memory."""

    is_persistent = False

    def __init__(self, why: str) -> None:
        self.description = f"not remembering secrets: {why}"
        self._values: dict[str, str] = {}

    def set_secret(self, name: str, value: str) -> None:
        self._values[name] = value

    def get_secret(self, name: str) -> str | None:
        return self._values.get(name)

    def delete_secret(self, name: str) -> None:
        self._values.pop(name, None)


def open_secret_store() -> SecretStore:
    """The OS keyring if one is usable, else the not-remembering fallback."""
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - any keyring start-up failure means "none"
        return NotRememberingStore(f"the keyring could not start ({type(exc).__name__})")
    if isinstance(backend, fail.Keyring):
        return NotRememberingStore("no OS keyring was found")
    priority = getattr(backend, "priority", 1)
    try:
        usable = float(priority) > 0
    except (TypeError, ValueError):
        usable = True
    # The chainer wraps the real backends; an empty chain stores nothing.
    backends = getattr(backend, "backends", None)
    if backends is not None and not backends:
        usable = False
    if not usable:
        return NotRememberingStore("no OS keyring was found")
    name = type(backend).__module__.rsplit(".", 1)[-1] + "." + type(backend).__name__
    return KeyringSecretStore(name)

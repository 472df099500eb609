"""Saved connection profiles: a name -> the endpoint's fields, in the settings file.

Secrets (tokens, passphrases) never go into the settings file: with Settings >
Remember secrets in the OS keyring on, a profile's secrets go to the keyring under
the profile's name; otherwise they are not kept at all.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

from ui.settings import FieldBinder

PROFILES_GROUP = "profiles"
MAX_PROFILE_NAME = 80


def check_profile_name(name: str) -> str:
    """The name as stored, or ValueError with a sentence in the window's words."""
    cleaned = name.strip()
    if not cleaned:
        raise ValueError("Give the profile a name.")
    if len(cleaned) > MAX_PROFILE_NAME:
        raise ValueError(f"Profile names are at most {MAX_PROFILE_NAME} characters.")
    if any(c in cleaned for c in "/\\") or not cleaned.isprintable():
        raise ValueError("Profile names may not contain slashes or control characters.")
    return cleaned


def profile_names(settings: QSettings) -> list[str]:
    settings.beginGroup(PROFILES_GROUP)
    try:
        return sorted(settings.childGroups(), key=str.casefold)
    finally:
        settings.endGroup()


def save_profile(settings: QSettings, name: str, binder: FieldBinder) -> str:
    """The endpoint's plain fields under `name` (replacing a profile of that name)."""
    name = check_profile_name(name)
    settings.remove(f"{PROFILES_GROUP}/{name}")
    settings.beginGroup(f"{PROFILES_GROUP}/{name}")
    try:
        binder.save(settings)
    finally:
        settings.endGroup()
    settings.sync()
    return name


def load_profile(settings: QSettings, name: str, binder: FieldBinder) -> bool:
    if name not in profile_names(settings):
        return False
    settings.beginGroup(f"{PROFILES_GROUP}/{name}")
    try:
        binder.restore(settings)
    finally:
        settings.endGroup()
    return True


def delete_profile(settings: QSettings, name: str) -> None:
    settings.remove(f"{PROFILES_GROUP}/{name}")
    settings.sync()


def _prefix(name: str) -> str:
    return f"profile:{name}/"


def secret_names(name: str, binder: FieldBinder) -> list[str]:
    """The keyring names of a profile's secrets."""
    return [_prefix(name) + secret for secret in binder.secret_names()]


def secret_values(name: str, binder: FieldBinder) -> dict[str, str]:
    return {_prefix(name) + key: value for key, value in binder.secret_values().items()}


def apply_secrets(name: str, binder: FieldBinder, values: dict[str, str | None]) -> None:
    prefix = _prefix(name)
    binder.apply_secrets({k.removeprefix(prefix): v for k, v in values.items()})

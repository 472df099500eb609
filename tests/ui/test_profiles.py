"""Saved connection profiles: fields in the settings file, secrets only in the secret
store and only when the person opted in."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from tests.ui.conftest import TOKEN
from ui.secrets import SecretStore
from ui.window import MainWindow


class MemoryStore(SecretStore):
    """A keyring stand-in kept in memory (the OS keyring is not the point here)."""

    description = "memory (tests)"
    is_persistent = True

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def set_secret(self, name: str, value: str) -> None:
        self.values[name] = value

    def get_secret(self, name: str) -> str | None:
        return self.values.get(name)

    def delete_secret(self, name: str) -> None:
        self.values.pop(name, None)


def _window(qtbot, path: Path, store: SecretStore) -> MainWindow:  # type: ignore[no-untyped-def]
    window = MainWindow(QSettings(str(path), QSettings.Format.IniFormat), secret_store=store)
    qtbot.addWidget(window)
    return window


def _fill(window: MainWindow, host: str, port: int) -> None:
    e = window.endpoint
    e.set_mode("connect")
    e.host.setText(host)
    e.port.setValue(port)
    e.client_panel.token.setText(TOKEN)


def _wait_idle(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=5_000)


def test_profile_round_trip_without_remembering_secrets(qtbot, qasync_loop, tmp_path: Path) -> None:
    store = MemoryStore()
    ini = tmp_path / "settings.ini"
    window = _window(qtbot, ini, store)
    _fill(window, "headset.lab", 9100)
    window.save_profile("lab headset")
    _wait_idle(qtbot, window)
    window.endpoint.host.setText("elsewhere.example")
    window.endpoint.port.setValue(8265)
    window.load_profile("lab headset")
    assert window.endpoint.host.text() == "headset.lab"
    assert window.endpoint.port.value() == 9100
    window._fill_profiles_menu()
    assert [a.text() for a in window.profiles_menu.actions()] == ["lab headset"]
    assert TOKEN not in ini.read_text(encoding="utf-8")
    assert store.values == {}  # not opted in: the token is kept nowhere
    window.delete_profile("lab headset")
    _wait_idle(qtbot, window)
    window._fill_profiles_menu()
    assert not window.profiles_menu.actions()[0].isEnabled()  # "(no profile saved yet)"


def test_profile_secrets_go_to_the_secret_store_when_opted_in(
    qtbot, qasync_loop, tmp_path: Path
) -> None:
    store = MemoryStore()
    ini = tmp_path / "settings.ini"
    window = _window(qtbot, ini, store)
    window.remember_action.setChecked(True)
    _wait_idle(qtbot, window)
    _fill(window, "headset.lab", 9100)
    window.save_profile("lab")
    _wait_idle(qtbot, window)
    assert TOKEN in store.values.values()
    assert all(name.startswith("profile:lab/") for name in store.values)
    assert TOKEN not in ini.read_text(encoding="utf-8")
    window.endpoint.client_panel.token.clear()
    with qtbot.waitSignal(window.secretsLoaded, timeout=5_000):
        window.load_profile("lab")
    assert window.endpoint.client_panel.token.text() == TOKEN
    window.delete_profile("lab")
    _wait_idle(qtbot, window)
    assert store.values == {}


def test_bad_profile_names_are_refused_in_the_windows_words(
    qtbot, qasync_loop, tmp_path: Path
) -> None:
    window = _window(qtbot, tmp_path / "settings.ini", MemoryStore())
    window.save_profile("a/b")
    assert "slashes" in window.status_detail.text()
    window.save_profile("   ")
    assert "Give the profile a name" in window.status_detail.text()

"""`holoremote --install-desktop-entry` / `--remove-desktop-entry` (issue 16, point 4):
the pip/pipx install's way into the menus, under $XDG_DATA_HOME where desktops look."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import desktop_entry
from app.cli import main


def test_install_then_remove_round_trip(tmp_path: Path) -> None:
    command = [str(tmp_path / "my bin" / "holoremote")]
    written = desktop_entry.install(tmp_path, command)
    assert written == desktop_entry.entry_paths(tmp_path)
    desktop = tmp_path / "applications" / "holoremote.desktop"
    text = desktop.read_text(encoding="utf-8")
    assert f'Exec="{command[0]}"\n' in text and "Icon=holoremote\n" in text
    assert (tmp_path / "icons/hicolor/scalable/apps/holoremote.svg").is_file()
    assert (tmp_path / "icons/hicolor/256x256/apps/holoremote.png").is_file()
    validator = shutil.which("desktop-file-validate")
    assert validator, "desktop-file-validate missing: scripts/system-deps.sh test installs it"
    checked = subprocess.run(
        [validator, str(desktop)], capture_output=True, text=True, timeout=30, check=False
    )
    assert checked.returncode == 0 and "error" not in checked.stdout, checked.stdout
    assert desktop_entry.remove(tmp_path) == written
    assert not any(path.exists() for path in written)
    assert desktop_entry.remove(tmp_path) == []


@pytest.mark.parametrize(
    ("argument", "quoted"),
    [
        ("/usr/bin/holoremote", "/usr/bin/holoremote"),
        ("/home/a b/bin/holoremote", '"/home/a b/bin/holoremote"'),
        ('/x/"$q`\\', '"/x/\\"\\$q\\`\\\\"'),
        ("/x/100%", "/x/100%%"),
        ("/x y/100%", '"/x y/100%%"'),
    ],
)
def test_exec_quoting_follows_the_desktop_entry_spec(argument: str, quoted: str) -> None:
    assert desktop_entry.quote_exec_argument(argument) == quoted


def test_data_home_follows_xdg() -> None:
    assert desktop_entry.data_home({"XDG_DATA_HOME": "/d", "HOME": "/h"}) == Path("/d")
    assert desktop_entry.data_home({"XDG_DATA_HOME": "rel", "HOME": "/h"}) == Path(
        "/h/.local/share"
    )
    assert desktop_entry.data_home({"HOME": "/h"}) == Path("/h/.local/share")


def test_launch_command_prefers_the_script_beside_the_one_run(tmp_path: Path) -> None:
    (tmp_path / "holoremote").write_text("#!/bin/sh\n")
    (tmp_path / "holoremote-cli").write_text("#!/bin/sh\n")
    assert desktop_entry.launch_command(str(tmp_path / "holoremote-cli")) == [
        str(tmp_path / "holoremote")
    ]
    assert desktop_entry.launch_command("/somewhere/app/__main__.py") == [
        sys.executable,
        "-m",
        "app",
    ]


def test_flag_installs_under_xdg_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(["--install-desktop-entry"]) == 0
    assert (tmp_path / "applications" / "holoremote.desktop").is_file()
    assert main(["--remove-desktop-entry"]) == 0
    assert not (tmp_path / "applications" / "holoremote.desktop").exists()
    assert "removed: 9 files" in capsys.readouterr().out


def test_flag_with_a_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--install-desktop-entry", "demo"])
    assert exited.value.code == 2
    assert "--install-desktop-entry stands alone" in capsys.readouterr().err


def test_unwritable_data_home_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    assert main(["--install-desktop-entry"]) == 2
    assert "set XDG_DATA_HOME to a writable folder" in capsys.readouterr().err


def test_other_platforms_are_told_where_to_look(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert desktop_entry.supported("linux") and not desktop_entry.supported("win32")
    monkeypatch.setattr(desktop_entry.sys, "platform", "win32")
    assert main(["--install-desktop-entry"]) == 2
    assert "the installer adds the Start-menu entry" in capsys.readouterr().err

"""The Windows installer files (issue 16, point 5) cannot run here; what can be checked
on any platform is checked: every file the Inno Setup script names exists, the
version and the bundle folder come from build.ps1 (one version source), and the
uninstall and per-user settings are there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WINDOWS = ROOT / "installer" / "windows"


def _iss() -> str:
    return (WINDOWS / "holoremote.iss").read_text(encoding="utf-8")


def _settings() -> dict[str, str]:
    setup = _iss().split("[Setup]", 1)[1].split("\n[", 1)[0]
    pairs = (line.split("=", 1) for line in setup.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.startswith(";")}


def test_files_named_by_the_script_exist() -> None:
    settings = _settings()
    assert (WINDOWS / settings["SetupIconFile"].replace("\\", "/")).resolve().is_file()
    assert (WINDOWS / settings["OutputDir"].replace("\\", "/")).resolve() == ROOT / "dist"


def test_per_user_install_with_start_menu_entry_and_uninstaller() -> None:
    settings = _settings()
    text = _iss()
    assert settings["PrivilegesRequired"] == "lowest"
    assert settings["DefaultDirName"] == "{autopf}\\holoremote"
    assert re.fullmatch(r"\{\{[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}\}", settings["AppId"])
    assert settings["UninstallDisplayIcon"] == "{app}\\holoremote.exe"
    assert '"{autoprograms}\\holoremote"; Filename: "{app}\\holoremote.exe"' in text
    assert "CurUninstallStepChanged" in text  # the PATH entry goes with the uninstall


def test_version_comes_from_build_ps1() -> None:
    text = _iss()
    assert "#ifndef AppVersion\n  #error" in text
    assert '#define BundleDir "..\\..\\dist\\holoremote-" + AppVersion' in text
    assert _settings()["AppVersion"] == "{#AppVersion}"
    script = (WINDOWS / "build.ps1").read_text(encoding="utf-8")
    assert "import app; print(app.__version__)" in script
    assert '"/DAppVersion=$Version" "/DNumericVersion=$Numeric"' in script
    assert "installer\\holoremote.spec" in script and "installer\\windows\\holoremote.iss" in script

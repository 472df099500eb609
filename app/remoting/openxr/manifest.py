"""Where the Khronos loader will find its OpenXR runtime, found the same way it does.

The loader reads `XR_RUNTIME_JSON` when it first needs a runtime; without it, it
looks for `openxr/1/active_runtime.json` in the XDG config folders (Linux) or reads
the `ActiveRuntime` registry value (Windows). Knowing that answer before the loader
is touched lets the app say plainly which runtime it is about to use, refuse a
missing or broken manifest with a message naming the file, and pick the built-in
runtime without the loader writing its own error lines to stderr.

Plain Python: no pyopenxr, no pointers.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from app.errors import InputError

RUNTIME_JSON_ENV = "XR_RUNTIME_JSON"
# Runtime manifests are a few hundred bytes; refuse to parse something huge.
MAX_MANIFEST_BYTES = 1024 * 1024
_ACTIVE_RELATIVE = Path("openxr") / "1"
_WINDOWS_KEY = r"SOFTWARE\Khronos\OpenXR\1"


class RuntimeManifestError(InputError):
    """A runtime manifest (a `--runtime-json` file or `XR_RUNTIME_JSON`) is unusable."""

    def __init__(self, path: str, message: str, *, fix: str | None = None) -> None:
        super().__init__(
            path,
            message,
            fix=fix
            or "Pass the runtime's manifest JSON with --runtime-json (for Microsoft's runtime: "
            "RemotingXR.json from the Microsoft.Holographic.Remoting.OpenXr package), "
            "or use --runtime builtin.",
        )
        self.path = path


@dataclass(frozen=True)
class RuntimeManifest:
    """A parsed runtime manifest: the file and the library it names."""

    path: Path
    library_path: str
    name: str | None

    @property
    def resolved_library(self) -> Path:
        """The library as the loader resolves it: relative paths against the manifest."""
        library = Path(self.library_path)
        if library.is_absolute() or (
            os.sep not in self.library_path and "/" not in self.library_path
        ):
            return library
        return (self.path.parent / library).resolve()


@dataclass(frozen=True)
class ActiveRuntime:
    """The manifest the loader will use, and how it was found (for messages)."""

    path: Path
    source: str  # "XR_RUNTIME_JSON", "--runtime-json", "active_runtime.json", "registry"


def load_manifest(path: str | os.PathLike[str]) -> RuntimeManifest:
    """Read and check a runtime manifest as the loader will; raise `RuntimeManifestError`."""
    shown = os.fspath(path)
    file = Path(shown).expanduser()
    if not file.exists():
        raise RuntimeManifestError(shown, "the OpenXR runtime manifest does not exist")
    if not file.is_file():
        raise RuntimeManifestError(shown, "the OpenXR runtime manifest is not a file")
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise RuntimeManifestError(
            shown, f"the OpenXR runtime manifest cannot be read ({exc.strerror})"
        ) from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise RuntimeManifestError(
            shown, f"the file is larger than {MAX_MANIFEST_BYTES} bytes; not a runtime manifest"
        )
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        detail = (
            f" ({exc.msg} at line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        )
        raise RuntimeManifestError(
            shown, f"the OpenXR runtime manifest is not valid JSON{detail}"
        ) from None
    runtime = document.get("runtime") if isinstance(document, dict) else None
    if not isinstance(runtime, dict):
        raise RuntimeManifestError(
            shown, 'the manifest has no "runtime" object; not an OpenXR runtime manifest'
        )
    library = runtime.get("library_path")
    if not isinstance(library, str) or not library:
        raise RuntimeManifestError(
            shown, 'the manifest has no "runtime.library_path"; not an OpenXR runtime manifest'
        )
    name = runtime.get("name")
    return RuntimeManifest(
        path=file.resolve(), library_path=library, name=name if isinstance(name, str) else None
    )


def _linux_candidates() -> list[Path]:
    home = os.environ.get("HOME")
    config_home = os.environ.get("XDG_CONFIG_HOME") or (str(Path(home) / ".config") if home else "")
    config_dirs = os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    folders = [config_home, *config_dirs.split(":"), "/etc"]
    names = [f"active_runtime.{platform.machine()}.json", "active_runtime.json"]
    return [
        Path(folder) / _ACTIVE_RELATIVE / name for folder in folders if folder for name in names
    ]


def _windows_active() -> Path | None:  # pragma: no cover - exercised on Windows only
    if sys.platform != "win32":
        return None
    import winreg

    for view in (winreg.KEY_WOW64_64KEY, winreg.KEY_WOW64_32KEY):
        try:
            with winreg.OpenKey(
                winreg.HKEY_LOCAL_MACHINE, _WINDOWS_KEY, 0, winreg.KEY_READ | view
            ) as key:
                value, _kind = winreg.QueryValueEx(key, "ActiveRuntime")
        except OSError:
            continue
        if isinstance(value, str) and value:
            return Path(value)
    return None


def find_active_runtime() -> ActiveRuntime | None:
    """The manifest the loader would use now, or None if it would find none.

    `XR_RUNTIME_JSON` wins when set (even if the file is missing: the loader then
    fails, and so should we, naming the file).
    """
    env = os.environ.get(RUNTIME_JSON_ENV)
    if env:
        return ActiveRuntime(Path(env), RUNTIME_JSON_ENV)
    if sys.platform == "win32":  # pragma: no cover - Windows only
        found = _windows_active()
        return ActiveRuntime(found, "registry") if found else None
    for candidate in _linux_candidates():
        if candidate.is_file():
            return ActiveRuntime(candidate, "active_runtime.json")
    return None


def describe_search() -> str:
    """Where the loader looks, for a 'no runtime found' message."""
    if sys.platform == "win32":  # pragma: no cover - Windows only
        return f"{RUNTIME_JSON_ENV} unset and no ActiveRuntime under HKLM\\{_WINDOWS_KEY}"
    return f"{RUNTIME_JSON_ENV} unset and no active_runtime.json"


def search_locations() -> list[str]:
    """Every file the loader would try on this machine, in order."""
    if sys.platform == "win32":  # pragma: no cover - Windows only
        return [f"HKLM\\{_WINDOWS_KEY}\\ActiveRuntime"]
    return [str(path) for path in _linux_candidates()]


def use_runtime_json(manifest: RuntimeManifest) -> None:
    """Point the loader at `manifest` (it reads the variable when it loads a runtime)."""
    os.environ[RUNTIME_JSON_ENV] = str(manifest.path)

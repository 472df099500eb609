"""PyInstaller hook for pyopenxr (`xr`).

pyopenxr finds its native libraries with importlib.resources, in packages nobody
imports by name and next to shared libraries PyInstaller does not see as
dependencies; without this hook the bundle dies on the first `--runtime openxr` with
`ModuleNotFoundError: xr.library.linux_x86_64`. Collected, for this platform only
(the wheel carries six):
- `xr.library.<platform>` and the Khronos loader in it;
- `xr.api_layer.<platform>` and libXrApiLayer_python, which `import xr` loads
  (xr/api_layer/raw_functions.py) even when no layer is used.
Left out: the LunarG/Khronos validation and api_dump layers (17 MB; explicit layers
for debugging that the app never enables) and `xr.utils` (GLFW, PyOpenGL and PySide6
helpers for rendering samples, never imported on the app's path).
"""

from pathlib import Path

from PyInstaller.utils.hooks import get_package_paths
from xr.platform_folder import platform_folder

_folder, _suffix = platform_folder()
_prefix = "" if _suffix == "dll" else "lib"
_package_dir = Path(get_package_paths("xr")[1])

hiddenimports = [f"xr.library.{_folder}", f"xr.api_layer.{_folder}"]
binaries = [
    (
        str(_package_dir / "library" / _folder / f"{_prefix}openxr_loader.{_suffix}"),
        f"xr/library/{_folder}",
    ),
    (
        str(_package_dir / "api_layer" / _folder / f"{_prefix}XrApiLayer_python.{_suffix}"),
        f"xr/api_layer/{_folder}",
    ),
]
excludedimports = ["xr.utils", "glfw"]

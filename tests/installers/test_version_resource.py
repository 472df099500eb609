"""The Windows version resource (issue 16, point 1) carries the package version.
PyInstaller evaluates the version file with its own classes on Windows only; here the
text is evaluated with stand-ins that record what each class was given."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from app import __version__

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "installer"))
import version_resource

CLASSES = [
    "VSVersionInfo",
    "FixedFileInfo",
    "StringFileInfo",
    "StringTable",
    "StringStruct",
    "VarFileInfo",
    "VarStruct",
]


def _record(name: str) -> Any:
    def make(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"class": name, "args": args, "kwargs": kwargs}

    return make


@pytest.mark.parametrize(
    ("text", "numbers"),
    [("0.1.0", (0, 1, 0, 0)), ("1.2", (1, 2, 0, 0)), ("2.0.1.dev3", (2, 0, 1, 0)),
     ("1.2.3.4.5", (1, 2, 3, 4)), ("70000.1", (65535, 1, 0, 0))],
)  # fmt: skip
def test_numeric_version(text: str, numbers: tuple[int, int, int, int]) -> None:
    assert version_resource.numeric_version(text) == numbers


def test_version_file_names_the_package_version() -> None:
    text = version_resource.version_file_text(__version__, "holoremote-cli")
    namespace = {name: _record(name) for name in CLASSES}
    info = eval(text, {"__builtins__": {}}, namespace)
    numbers = version_resource.numeric_version(__version__)
    fixed = info["kwargs"]["ffi"]["kwargs"]
    assert fixed["filevers"] == fixed["prodvers"] == numbers
    string_file, var_file = info["kwargs"]["kids"]
    (table,) = string_file["args"][0]
    strings = {s["args"][0]: s["args"][1] for s in table["args"][1]}
    assert strings["FileVersion"] == strings["ProductVersion"] == __version__
    assert strings["OriginalFilename"] == "holoremote-cli.exe"
    assert var_file["args"][0][0]["args"] == ("Translation", [0x0409, 1200])

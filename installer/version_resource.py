"""The Windows version resource of both executables, from the package version.

Explorer's Properties > Details, the installer and SmartScreen read FileVersion and
ProductVersion from here; they come from the same metadata as `--version` (one
source). PyInstaller takes the resource as a "version file": the text of a
VSVersionInfo(...) expression, which it evaluates on Windows with its own classes
(PyInstaller.utils.win32.versioninfo, importable only there). Writing the text needs
nothing Windows-only, so it is made and tested on any platform; the Windows build
attaches it (installer/holoremote.spec).
"""

from __future__ import annotations

from packaging.version import Version

COMPANY = "holoremote contributors"
DESCRIPTION = "holoremote: secure Holographic Remoting connections through OpenXR"
US_ENGLISH_UNICODE = "040904B0"  # language 0x0409, code page 1200 (UTF-16)


def numeric_version(version: str) -> tuple[int, int, int, int]:
    """The four 16-bit numbers of VS_FIXEDFILEINFO: the release parts, padded with
    zeros; a pre/dev/local suffix shows only in the text fields."""
    release = [min(part, 0xFFFF) for part in Version(version).release[:4]]
    padded = [*release, 0, 0, 0, 0][:4]
    return (padded[0], padded[1], padded[2], padded[3])


def version_file_text(version: str, executable: str) -> str:
    numbers = numeric_version(version)
    strings = {
        "CompanyName": COMPANY,
        "FileDescription": DESCRIPTION,
        "FileVersion": version,
        "InternalName": executable,
        "OriginalFilename": f"{executable}.exe",
        "ProductName": "holoremote",
        "ProductVersion": version,
        "LegalCopyright": "MIT License",
    }
    table = ",\n".join(
        f"          StringStruct({key!r}, {value!r})" for key, value in strings.items()
    )
    return (
        "VSVersionInfo(\n"
        f"  ffi=FixedFileInfo(filevers={numbers}, prodvers={numbers}, mask=0x3F, flags=0x0,\n"
        "                    OS=0x40004, fileType=0x1, subtype=0x0, date=(0, 0)),\n"
        "  kids=[\n"
        f"    StringFileInfo([StringTable({US_ENGLISH_UNICODE!r}, [\n{table}\n    ])]),\n"
        "    VarFileInfo([VarStruct('Translation', [0x0409, 1200])]),\n"
        "  ],\n"
        ")\n"
    )

"""holoremote core: importable without Qt, so the command line and scripts stay light.

The version has one source, the package metadata (`version` in pyproject.toml): the
command line, the About box, the bundle's name and the Windows version resource all
read it from here. A checkout that was never installed reads pyproject.toml itself,
so even then there is no second place to keep in step.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "holoremote"
UNKNOWN_VERSION = "0+unknown"


def _checkout_version(pyproject: Path) -> str | None:
    try:
        with pyproject.open("rb") as handle:
            project = tomllib.load(handle).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    version = project.get("version") if project.get("name") == DISTRIBUTION else None
    return version if isinstance(version, str) else None


def package_version() -> str:
    """The installed distribution's version; a bare checkout's pyproject.toml else."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pass
    found = _checkout_version(Path(__file__).resolve().parent.parent / "pyproject.toml")
    return found or UNKNOWN_VERSION


__version__ = package_version()

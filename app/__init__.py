"""holoremote core: importable without Qt, so the command line and scripts stay light.

The version has one source, the package metadata (`version` in pyproject.toml): the
command line, the About box, the bundle's name and the Windows version resource all
read it from here. A checkout that was never installed reads pyproject.toml itself,
so even then there is no second place to keep in step.

`__version__` is looked up on first use (PEP 562), not at import: reading the package
metadata imports `importlib.metadata` (and with it `email`, `zipfile`, `csv`), which the
window would otherwise pay before its first paint for an About box (docs/benchmarks.md).
"""

from __future__ import annotations

from pathlib import Path

DISTRIBUTION = "holoremote"
UNKNOWN_VERSION = "0+unknown"


def _checkout_version(pyproject: Path) -> str | None:
    import tomllib

    try:
        with pyproject.open("rb") as handle:
            project = tomllib.load(handle).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    version = project.get("version") if project.get("name") == DISTRIBUTION else None
    return version if isinstance(version, str) else None


def package_version() -> str:
    """The installed distribution's version; a bare checkout's pyproject.toml else."""
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pass
    found = _checkout_version(Path(__file__).resolve().parent.parent / "pyproject.toml")
    return found or UNKNOWN_VERSION


_version: str | None = None


def __getattr__(name: str) -> str:
    """`app.__version__`, computed once, when first asked for."""
    global _version
    if name == "__version__":
        if _version is None:
            _version = package_version()
        return _version
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""One version source (issue 16, point 1): pyproject.toml's `version`, through the
package metadata, is what `--version` prints and what `app.__version__` holds."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest

import app

ROOT = Path(__file__).resolve().parents[2]


def _pyproject_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        version = tomllib.load(handle)["project"]["version"]
    assert isinstance(version, str)
    return version


def test_metadata_and_pyproject_agree() -> None:
    """`--version` prints app.__version__ (tests/app/test_imports.py)."""
    assert app.__version__ == metadata.version("holoremote") == _pyproject_version()


def test_a_bare_checkout_reads_pyproject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    assert app.package_version() == _pyproject_version()
    other = tmp_path / "pyproject.toml"
    other.write_text('[project]\nname = "someone-else"\nversion = "9.9"\n', encoding="utf-8")
    assert app._checkout_version(other) is None
    assert app._checkout_version(tmp_path / "missing.toml") is None
    other.write_text("not toml [", encoding="utf-8")
    assert app._checkout_version(other) is None

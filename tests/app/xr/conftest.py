"""Fixtures for the OpenXR path: the test runtime, built once per session, and a clean
OpenXR environment per test (no XR_RUNTIME_JSON, an empty HOME and XDG folders, so the
machine's own runtime, if any, never leaks in)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.openxr_runtime import build, variants
from tests.support.openxr_runtime import runtime as test_runtime


@pytest.fixture(scope="session")
def xr_runtimes(
    tmp_path_factory: pytest.TempPathFactory, require_tool: Callable[[str], str]
) -> dict[str, build.BuiltRuntime]:
    """Every variant of the test runtime, compiled once; each is also installed in this
    process (the same loaded copy the loader will dlopen), so tests can read its trace."""
    require_tool("cc")  # missing: a failure, never a skip
    out = tmp_path_factory.mktemp("openxr-test-runtime")
    library = build.compile_shim(out / "build")
    built = {v.name: build.make_variant(library, out, v) for v in variants.ALL}
    for item in built.values():
        test_runtime.install(str(item.library), item.variant)
    return built


def installed(built: build.BuiltRuntime) -> test_runtime.TestRuntime:
    """The in-process Python side of a built variant (the newest installed)."""
    path = str(built.library)
    for candidate in reversed(test_runtime._runtimes):
        if candidate.variant == built.variant and path in test_runtime._libraries:
            return candidate
    raise LookupError(built.variant.name)


@pytest.fixture(autouse=True)
def clean_openxr_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    # setenv first so that monkeypatch records the value before the test and puts it
    # back (unset) afterwards, also when the code under test set it: delenv of an
    # unset variable records nothing.
    monkeypatch.setenv("XR_RUNTIME_JSON", "")
    monkeypatch.delenv("XR_RUNTIME_JSON")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "xdg"))
    yield home

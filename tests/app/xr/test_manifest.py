"""Runtime manifests: checked like the loader would read them, found where it looks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.remoting.openxr import manifest as manifests
from app.remoting.openxr.manifest import RuntimeManifestError


def write(path: Path, content: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_valid_manifest_resolves_a_relative_library(tmp_path: Path) -> None:
    path = write(
        tmp_path / "rt" / "RemotingXR.json",
        {"file_format_version": "1.0.0", "runtime": {"library_path": "./lib/x.so", "name": "X"}},
    )
    loaded = manifests.load_manifest(path)
    assert loaded.name == "X"
    assert loaded.resolved_library == (tmp_path / "rt" / "lib" / "x.so").resolve()


def test_bare_library_name_is_left_to_the_system_search(tmp_path: Path) -> None:
    path = write(tmp_path / "m.json", {"runtime": {"library_path": "libx.so"}})
    assert manifests.load_manifest(path).resolved_library == Path("libx.so")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not valid JSON"),
        ([1, 2], 'has no "runtime" object'),
        ({"runtime": {}}, 'has no "runtime.library_path"'),
        ({"runtime": {"library_path": ""}}, 'has no "runtime.library_path"'),
    ],
)
def test_invalid_manifests_are_named(tmp_path: Path, content: object, expected: str) -> None:
    path = write(tmp_path / "bad.json", content)
    with pytest.raises(RuntimeManifestError) as caught:
        manifests.load_manifest(path)
    assert str(path) in str(caught.value)
    assert expected in caught.value.message
    assert "--runtime-json" in (caught.value.fix or "")


def test_missing_manifest_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "RemotingXR.json"
    with pytest.raises(RuntimeManifestError, match="does not exist") as caught:
        manifests.load_manifest(path)
    assert caught.value.subject == str(path)


def test_active_runtime_from_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XR_RUNTIME_JSON", str(tmp_path / "a.json"))
    active = manifests.find_active_runtime()
    assert active is not None
    assert (active.path, active.source) == (tmp_path / "a.json", "XR_RUNTIME_JSON")


def test_active_runtime_json_in_xdg_config_home(clean_openxr_env: Path) -> None:
    assert manifests.find_active_runtime() is None
    target = write(
        clean_openxr_env / ".config" / "openxr" / "1" / "active_runtime.json",
        {"runtime": {"library_path": "x.so"}},
    )
    active = manifests.find_active_runtime()
    assert active is not None
    assert (active.path, active.source) == (target, "active_runtime.json")


def test_use_runtime_json_sets_the_loader_variable(tmp_path: Path) -> None:
    path = write(tmp_path / "m.json", {"runtime": {"library_path": "x.so"}})
    manifests.use_runtime_json(manifests.load_manifest(path))
    assert manifests.find_active_runtime() == manifests.ActiveRuntime(
        path.resolve(), "XR_RUNTIME_JSON"
    )

"""Each error of runtime selection, through the real Khronos loader, with its message."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.endpoint.runtime_choice import (
    ExtensionFunctionMissingError,
    ExtensionNotOfferedError,
    NoOpenXRRuntimeError,
    RuntimeManifestError,
    create_runtime,
)
from app.errors import HoloremoteError
from tests.support.openxr_runtime.build import BuiltRuntime


def test_no_openxr_runtime() -> None:
    with pytest.raises(NoOpenXRRuntimeError) as caught:
        create_runtime("openxr", None)
    error = caught.value
    assert isinstance(error, HoloremoteError)
    assert error.message == (
        "no OpenXR runtime found: XR_RUNTIME_JSON unset and no active_runtime.json"
    )
    assert "--runtime-json" in (error.fix or "")
    assert "RemotingXR.json" in (error.fix or "")


def test_runtime_without_the_extension_is_named(xr_runtimes: dict[str, BuiltRuntime]) -> None:
    built = xr_runtimes["no-extension"]
    with pytest.raises(ExtensionNotOfferedError) as caught:
        create_runtime("openxr", str(built.manifest))
    error = caught.value
    # The name comes from xrGetInstanceProperties on an instance made without it.
    assert error.runtime == "holoremote test runtime (no ext)"
    assert error.message.startswith(
        f"OpenXR runtime 'holoremote test runtime (no ext)' (from {built.manifest}) does not "
        "offer XR_MSFT_holographic_remoting"
    )
    assert "XR_MSFT_holographic_remoting" not in error.offered
    assert "--runtime builtin" in (error.fix or "")


def test_missing_extension_function_is_named(xr_runtimes: dict[str, BuiltRuntime]) -> None:
    built = xr_runtimes["missing-function"]
    with pytest.raises(ExtensionFunctionMissingError) as caught:
        create_runtime("openxr", str(built.manifest))
    error = caught.value
    assert error.function == "xrRemotingGetConnectionStateMSFT"
    assert error.message == (
        "OpenXR runtime 'holoremote test runtime' offers XR_MSFT_holographic_remoting but has "
        "no xrRemotingGetConnectionStateMSFT (xrGetInstanceProcAddr returned "
        "XR_ERROR_FUNCTION_UNSUPPORTED)"
    )


@pytest.mark.parametrize("choice", ["openxr", "auto", "builtin"])
def test_missing_manifest(tmp_path: Path, choice: str) -> None:
    path = tmp_path / "RemotingXR.json"
    with pytest.raises(RuntimeManifestError) as caught:
        create_runtime(choice, str(path))  # type: ignore[arg-type]
    assert str(caught.value).startswith(f"{path}: the OpenXR runtime manifest does not exist")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"runtime": ', "the OpenXR runtime manifest is not valid JSON"),
        (
            '{"file_format_version": "1.0.0", "runtime": {"name": "x"}}',
            'the manifest has no "runtime.library_path"; not an OpenXR runtime manifest',
        ),
    ],
)
def test_invalid_manifest(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(RuntimeManifestError) as caught:
        create_runtime("openxr", str(path))
    assert caught.value.subject == str(path)
    assert expected in caught.value.message


def test_environment_manifest_that_is_missing_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "gone.json"
    monkeypatch.setenv("XR_RUNTIME_JSON", str(path))
    with pytest.raises(RuntimeManifestError, match="does not exist"):
        create_runtime("openxr", None)


def test_runtime_json_is_set_before_the_loader_is_used(
    xr_runtimes: dict[str, BuiltRuntime],
) -> None:
    import os

    built = xr_runtimes["no-extension"]
    with pytest.raises(ExtensionNotOfferedError):
        create_runtime("openxr", str(built.manifest))
    assert os.environ["XR_RUNTIME_JSON"] == str(built.manifest)

"""Which runtime a session uses: `--runtime auto|builtin|openxr` and `--runtime-json FILE`.

`create_runtime` returns the runtime and one sentence saying which was taken and
why, for the CLI and the window to show. Rules:

- `--runtime-json FILE` is checked first (exists, JSON, `runtime.library_path`) and
  then put in `XR_RUNTIME_JSON`, which the Khronos loader reads when it loads a
  runtime; so it must happen before the loader is first used.
- `builtin` takes the built-in runtime.
- `openxr` takes the OpenXR runtime or fails with a named error: no runtime, a
  runtime without XR_MSFT_holographic_remoting (named), a function missing, a
  manifest missing or invalid.
- `auto` takes the OpenXR runtime when one with the extension is present, else the
  built-in one, and says why. It decides "no runtime" itself (the loader's own
  search, see `app.remoting.openxr.manifest`) so that the loader does not print its errors.
  A manifest given with `--runtime-json` must be valid even under `auto`: the user
  named it.
"""

from __future__ import annotations

import importlib
from typing import Any, Literal

from app.remoting.contract import RemotingRuntime
from app.remoting.openxr import manifest as manifests
from app.remoting.openxr.errors import (
    EXTENSION,
    ExtensionFunctionMissingError,
    ExtensionNotOfferedError,
    NoOpenXRRuntimeError,
    OpenXRCallError,
    OpenXRRuntimeError,
)
from app.remoting.openxr.manifest import RuntimeManifestError

RuntimeChoice = Literal["auto", "builtin", "openxr"]
CHOICES: tuple[RuntimeChoice, ...] = ("auto", "builtin", "openxr")


def _builtin(options: Any) -> RemotingRuntime:
    # Imported here: the built-in runtime pulls in the network and TLS stack, which
    # a session on the OpenXR path does not need.
    builtin = importlib.import_module("app.remoting.builtin")
    runtime: RemotingRuntime = builtin.BuiltinRuntime(options)
    return runtime


def _open_openxr() -> tuple[RemotingRuntime, str]:
    from app.remoting.openxr.runtime import OpenXRRuntime

    runtime = OpenXRRuntime.open()
    return runtime, (
        f"OpenXR runtime '{runtime.runtime_name}' from {runtime.manifest_path} offers {EXTENSION}"
    )


def create_runtime(
    choice: RuntimeChoice,
    runtime_json: str | None,
    builtin_options: Any = None,
) -> tuple[RemotingRuntime, str]:
    """The runtime to use and a sentence saying which one was taken and why.

    `builtin_options` is the `app.remoting.builtin.BuiltinOptions` for the built-in
    runtime (None: its defaults); the OpenXR path takes its settings from the runtime.

    Raises `RuntimeManifestError` (an `InputError`) for a bad manifest and an
    `OpenXRRuntimeError` subclass when `openxr` was asked for and cannot be had.
    """
    if choice not in CHOICES:
        raise ValueError(f"runtime choice must be one of {CHOICES}, not {choice!r}")
    given: manifests.RuntimeManifest | None = None
    if runtime_json is not None:
        given = manifests.load_manifest(runtime_json)
        manifests.use_runtime_json(given)

    if choice == "builtin":
        note = " (--runtime-json is ignored)" if given else ""
        return _builtin(builtin_options), f"built-in runtime: chosen with --runtime builtin{note}"

    active = manifests.find_active_runtime()
    if choice == "openxr":
        if active is None:
            raise NoOpenXRRuntimeError(manifests.describe_search())
        if given is None:
            # XR_RUNTIME_JSON from the environment or an active_runtime.json: check it
            # as strictly as a --runtime-json file, so the message names the file.
            manifests.load_manifest(active.path)
        return _open_openxr()

    # auto
    if active is None:
        return _builtin(builtin_options), (
            f"built-in runtime: no OpenXR runtime found ({manifests.describe_search()})"
        )
    try:
        manifests.load_manifest(active.path)
    except RuntimeManifestError as exc:
        return _builtin(builtin_options), (
            f"built-in runtime: the OpenXR runtime manifest from {active.source} is "
            f"unusable ({exc.message})"
        )
    try:
        return _open_openxr()
    except ExtensionNotOfferedError as exc:
        return _builtin(builtin_options), (
            f"built-in runtime: OpenXR runtime '{exc.runtime}' from {active.path} does not "
            f"offer {EXTENSION}"
        )
    except (ExtensionFunctionMissingError, NoOpenXRRuntimeError, OpenXRCallError) as exc:
        return _builtin(builtin_options), f"built-in runtime: {exc.message}"
    except OpenXRRuntimeError as exc:  # pragma: no cover - every subclass is listed above
        return _builtin(builtin_options), f"built-in runtime: {exc.message}"


__all__ = [
    "CHOICES",
    "ExtensionFunctionMissingError",
    "ExtensionNotOfferedError",
    "NoOpenXRRuntimeError",
    "OpenXRCallError",
    "OpenXRRuntimeError",
    "RuntimeChoice",
    "RuntimeManifestError",
    "create_runtime",
]

"""Errors of the OpenXR path, each naming the runtime and saying what to do.

Plain values only (no pyopenxr), so `app.endpoint.runtime_choice`, the CLI and the window
can catch them without importing the loader.
"""

from __future__ import annotations

from app.errors import HoloremoteError
from app.xr.values import result_name

EXTENSION = "XR_MSFT_holographic_remoting"
_USE_MICROSOFT = (
    "select Microsoft's Holographic Remoting runtime with --runtime-json PATH/RemotingXR.json "
    "(NuGet package Microsoft.Holographic.Remoting.OpenXr, build/native/bin/x64/Desktop), "
    "or use --runtime builtin"
)


class OpenXRRuntimeError(HoloremoteError):
    """The OpenXR path cannot be used. `runtime` names the runtime when it is known
    (its runtimeName, else its manifest or library path); `result` is the XrResult of
    the call that failed, if one did."""

    def __init__(
        self,
        message: str,
        *,
        runtime: str | None = None,
        result: int | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message, fix=fix)
        self.runtime = runtime
        self.result = result


class NoOpenXRRuntimeError(OpenXRRuntimeError):
    """The loader finds no runtime (none configured, or its library cannot be loaded)."""

    def __init__(self, detail: str, *, result: int | None = None) -> None:
        super().__init__(
            f"no OpenXR runtime found: {detail}",
            result=result,
            fix=f"Pass --runtime-json FILE to name one: {_USE_MICROSOFT}.",
        )


class ExtensionNotOfferedError(OpenXRRuntimeError):
    """The runtime loads but does not offer XR_MSFT_holographic_remoting."""

    def __init__(self, runtime: str, source: str, offered: list[str]) -> None:
        listed = ", ".join(offered) if offered else "no instance extensions at all"
        super().__init__(
            f"OpenXR runtime '{runtime}' (from {source}) does not offer {EXTENSION}; "
            f"it offers {listed}",
            runtime=runtime,
            fix=f"This runtime cannot do Holographic Remoting: {_USE_MICROSOFT}.",
        )
        self.offered = offered


class ExtensionFunctionMissingError(OpenXRRuntimeError):
    """The runtime offers the extension but xrGetInstanceProcAddr lacks one of its
    seven functions."""

    def __init__(self, runtime: str, function: str, result: int) -> None:
        super().__init__(
            f"OpenXR runtime '{runtime}' offers {EXTENSION} but has no {function} "
            f"(xrGetInstanceProcAddr returned {result_name(result)})",
            runtime=runtime,
            result=result,
            fix="Update the Holographic Remoting runtime to a version that implements the "
            "whole extension (revision 6 or later), or use --runtime builtin.",
        )
        self.function = function


class OpenXRCallError(OpenXRRuntimeError):
    """A core OpenXR call (instance, system, events) failed."""

    def __init__(self, function: str, result: int, runtime: str | None, fix: str) -> None:
        where = f" in OpenXR runtime '{runtime}'" if runtime else ""
        super().__init__(
            f"{function} failed{where} with {result_name(result)}",
            runtime=runtime,
            result=result,
            fix=fix,
        )
        self.function = function


__all__ = [
    "EXTENSION",
    "ExtensionFunctionMissingError",
    "ExtensionNotOfferedError",
    "NoOpenXRRuntimeError",
    "OpenXRCallError",
    "OpenXRRuntimeError",
]

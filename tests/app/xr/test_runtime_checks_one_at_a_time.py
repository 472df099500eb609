"""Runtime checks and session starts take the OpenXR loader one at a time, instance
destroyed included: the Khronos loader allows one XrInstance per process, and the
window starts a check per edit of the Runtime fields (two can overlap), so a check
that let the next one in before destroying its instance made the newer check fail
with XR_ERROR_LIMIT_REACHED ("Loader does not support simultaneous XrInstances")."""

from __future__ import annotations

import threading

import pytest

from app.endpoint import service
from app.remoting.openxr.runtime import OpenXRRuntime
from tests.support.openxr_runtime.build import BuiltRuntime

EXTENSION = "XR_MSFT_holographic_remoting"


def _sentence(built: BuiltRuntime) -> str:
    return f"OpenXR runtime 'holoremote test runtime' from {built.manifest} offers {EXTENSION}"


def test_a_check_destroys_its_instance_before_letting_the_next_selection_in(
    xr_runtimes: dict[str, BuiltRuntime], monkeypatch: pytest.MonkeyPatch
) -> None:
    built = xr_runtimes["full"]
    monkeypatch.setenv("XR_RUNTIME_JSON", str(built.manifest))  # restored after the test
    held_while_closing: list[bool] = []
    real_close = OpenXRRuntime.close

    def close(self: OpenXRRuntime) -> None:
        held_while_closing.append(service._RUNTIME_SELECTION.locked())
        real_close(self)

    monkeypatch.setattr(OpenXRRuntime, "close", close)
    assert service.check_runtime("openxr", str(built.manifest)) == _sentence(built)
    assert held_while_closing == [True]


def test_overlapping_checks_each_get_the_runtime(
    xr_runtimes: dict[str, BuiltRuntime], monkeypatch: pytest.MonkeyPatch
) -> None:
    built = xr_runtimes["full"]
    monkeypatch.setenv("XR_RUNTIME_JSON", str(built.manifest))
    results: list[str] = []
    start = threading.Barrier(2, timeout=10)

    def check() -> None:
        for _ in range(10):
            start.wait()
            try:
                results.append(service.check_runtime("openxr", str(built.manifest)))
            except Exception as exc:  # the test shows what went wrong
                results.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert results == [_sentence(built)] * 20

"""The allocator thresholds a connected built-in session sets (app/remoting/builtin/
allocator.py): which calls, where, and that a connected session makes them."""

from __future__ import annotations

import platform

import pytest

from app.endpoint.events import Connected
from app.remoting.builtin import allocator
from app.security.testpki import GeneratedPki
from tests.app.remoting.remoting_support import (
    client_session,
    outcome,
    run,
    server_session,
    start_listening,
)


class Recorder:
    def __init__(self, answer: int = 1) -> None:
        self.answer = answer
        self.calls: list[tuple[int, int]] = []

    def __call__(self, parameter: int, value: int) -> int:
        self.calls.append((parameter, value))
        return self.answer


def test_both_thresholds_are_set_through_mallopt() -> None:
    mallopt = Recorder()
    assert allocator.set_thresholds(mallopt)
    assert mallopt.calls == [
        (allocator.M_MMAP_THRESHOLD, allocator.MMAP_THRESHOLD_BYTES),
        (allocator.M_TRIM_THRESHOLD, allocator.TRIM_THRESHOLD_BYTES),
    ]


def test_a_refused_threshold_is_reported_not_set() -> None:
    assert not allocator.set_thresholds(Recorder(answer=0))


@pytest.mark.parametrize("name", ["darwin", "win32", "freebsd14"])
def test_other_systems_are_left_alone(name: str) -> None:
    assert allocator._glibc_mallopt(name) is None


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_glibc_takes_the_thresholds() -> None:
    mallopt = allocator._glibc_mallopt("linux")
    assert mallopt is not None
    assert allocator.set_thresholds(mallopt)


def test_a_connected_session_sets_them_once(
    pki: GeneratedPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    mallopt = Recorder()
    monkeypatch.setattr(allocator, "_done", False)
    monkeypatch.setattr(allocator, "_glibc_mallopt", lambda: mallopt)

    async def scenario() -> None:
        player = server_session(pki)
        listening = await start_listening(player)
        assert mallopt.calls == []  # listening alone keeps glibc's defaults
        remote = client_session(listening.port, pki)
        await remote.start()
        try:
            assert isinstance(await outcome(remote), Connected)
            assert isinstance(await outcome(player), Connected)
        finally:
            await remote.aclose()
            await player.aclose()

    run(scenario())
    assert len(mallopt.calls) == 2  # both ends connected, in one process: set once
    assert allocator.keep_freed_memory()

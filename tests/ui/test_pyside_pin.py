"""PySide6 6.12.0 drops a reference to None on every call of a method returning
nothing, on Python < 3.12 (where None is not immortal); after enough calls None is
freed and the interpreter crashes. The pin in pyproject.toml keeps 6.11.3 there;
this proves the installed build is clean."""

from __future__ import annotations

import gc
import sys

import PySide6
from PySide6.QtCore import QObject

CALLS = 10_000


def test_installed_version_is_not_the_broken_release() -> None:
    if sys.version_info < (3, 12):
        assert PySide6.__version__ != "6.12.0", (
            "PySide6 6.12.0 corrupts None's refcount on Python < 3.12; "
            "reinstall with the pin from pyproject.toml"
        )


def test_void_methods_leave_none_refcount_unchanged(qapp: object) -> None:
    obj = QObject()
    name = "holoremote"
    obj.setObjectName(name)  # warm up: first-call caches are not part of the test
    # Nothing but the calls should touch None's count between the two reads:
    # - no collection: freeing garbage that earlier tests left (frames, tasks, dicts
    #   holding None) moved the count by a few;
    # - no other Python thread: threads left running by earlier tests (a runtime's
    #   loop, executor workers) took and dropped references to None whenever the GIL
    #   switched to them (every 5 ms; the count moved by 3 once in CI). With the switch
    #   interval far beyond the loop's length (about 10 ms) this thread keeps the GIL
    #   throughout, setObjectName never waiting for anything.
    gc.collect()
    gc.disable()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        before = sys.getrefcount(None)
        for _ in range(CALLS):
            obj.setObjectName(name)
        after = sys.getrefcount(None)
    finally:
        sys.setswitchinterval(interval)
        gc.enable()
    # The broken build loses one reference per call: 10,000 here. A thread that
    # still ran in between could move the count by a few, never by thousands.
    assert abs(after - before) < CALLS // 100, (
        f"None's refcount moved by {after - before} over {CALLS} calls"
    )

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
    # No collection during the count: freeing garbage that earlier tests left (frames,
    # tasks, dicts holding None) moved the count by a few under load, not the calls.
    gc.collect()
    gc.disable()
    try:
        before = sys.getrefcount(None)
        for _ in range(CALLS):
            obj.setObjectName(name)
        after = sys.getrefcount(None)
    finally:
        gc.enable()
    # Exact: the loop creates no lasting reference to None (no tolerance needed: a
    # bug loses one reference per call, i.e. 10,000 here).
    assert after == before, f"None's refcount moved by {after - before} over {CALLS} calls"

"""Certificates for the built-in runtime tests, made once per test session."""

from __future__ import annotations

import datetime as dt

import pytest

from app.remoting.builtin.interim_security import InterimPki, interim_test_pki


@pytest.fixture(scope="session")
def pki() -> InterimPki:
    """CA -> intermediate -> leaf for localhost and 127.0.0.1."""
    return interim_test_pki(["localhost"], ["127.0.0.1"], intermediate=True)


@pytest.fixture(scope="session")
def other_pki() -> InterimPki:
    """A second, unrelated CA: a client trusting only this refuses `pki`'s server."""
    return interim_test_pki(["localhost"], ["127.0.0.1"])


@pytest.fixture(scope="session")
def expired_pki() -> InterimPki:
    now = dt.datetime.now(dt.UTC)
    return interim_test_pki(
        ["localhost"],
        ["127.0.0.1"],
        not_before=now - dt.timedelta(days=60),
        not_after=now - dt.timedelta(days=1),
    )

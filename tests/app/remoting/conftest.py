"""Certificates for the built-in runtime tests, made once per test session."""

from __future__ import annotations

import datetime as dt

import pytest

from app.security.testpki import GeneratedPki, create_test_pki
from tests.app.remoting.tls_loop_support import Contexts, make_contexts


@pytest.fixture(scope="session")
def pki() -> GeneratedPki:
    """CA -> intermediate -> leaf for localhost and 127.0.0.1."""
    return create_test_pki(["localhost"], ["127.0.0.1"], intermediate=True)


@pytest.fixture(scope="session")
def other_pki() -> GeneratedPki:
    """A second, unrelated CA: a client trusting only this refuses `pki`'s server."""
    return create_test_pki(["localhost"], ["127.0.0.1"])


@pytest.fixture(scope="session")
def expired_pki() -> GeneratedPki:
    """Valid for 30 days, ending 30 days ago."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=60)
    return create_test_pki(["localhost"], ["127.0.0.1"], days=30, now=past)


@pytest.fixture(scope="session")
def contexts(pki: GeneratedPki) -> Contexts:
    """The TLS server and client contexts for `pki`, built once (each costs ms)."""
    return make_contexts(pki)

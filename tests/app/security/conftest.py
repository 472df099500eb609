"""Shared fixtures for the security tests: keys are generated once per session
(key generation dominates the run time otherwise)."""

from __future__ import annotations

import datetime as dt

import pytest

from app.security.testpki import GeneratedPki, SigningKey, create_test_pki, generate_private_key


@pytest.fixture(scope="session")
def keys() -> dict[str, SigningKey]:
    return {name: generate_private_key() for name in ("root", "intermediate", "leaf", "other")}


@pytest.fixture(scope="session")
def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture(scope="session")
def pki(keys: dict[str, SigningKey], now: dt.datetime) -> GeneratedPki:
    return create_test_pki(
        ["server.test", "alt.server.test"],
        ["127.0.0.1", "::1"],
        friendly_name="holo-server",
        passphrase="correct horse",
        intermediate=True,
        now=now,
        ca_key=keys["root"],
        intermediate_key=keys["intermediate"],
        server_key=keys["leaf"],
    )


@pytest.fixture(scope="session")
def window(now: dt.datetime) -> dict[str, dt.datetime]:
    """Validity bounds: certificates valid from a day ago for thirty days."""
    return {"nb": now - dt.timedelta(days=1), "na": now + dt.timedelta(days=30)}

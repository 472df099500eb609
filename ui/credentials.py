"""Tokens and the test PKI for the server panel and Tools > Create test
certificates, made by `app.security`. Blocking; run with `ui.jobs.run_blocking`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal


def generate_token() -> str:
    """A fresh random shared secret, from the security module."""
    from app.security.tokens import generate_shared_secret

    return generate_shared_secret()


def read_token_file(path: str) -> str:
    """A token from a file (bounded, trimmed) through the security module. Blocking."""
    from app.security.tokens import token_from_file

    return token_from_file(path)


@dataclass(frozen=True)
class TestPkiFiles:
    """What Tools > Create test certificates wrote (no secrets except the passphrase,
    which the dialog shows once and can copy into the server panel)."""

    paths: dict[str, str]
    friendly_name: str
    passphrase: str = field(repr=False)
    pin: str = ""
    sha1: str = ""


def create_test_pki(
    out_dir: str,
    hosts: Sequence[str],
    ips: Sequence[str],
    *,
    days: int,
    key_type: Literal["ecdsa", "rsa"],
    friendly_name: str,
    passphrase: str | None,
) -> TestPkiFiles:
    """Make a CA + server .pfx with the security module's test PKI and write them."""
    from app.security.testpki import create_test_pki as make_pki

    pki = make_pki(
        list(hosts),
        list(ips),
        days=days,
        key_type=key_type,
        friendly_name=friendly_name,
        passphrase=passphrase,
    )
    paths = pki.write(out_dir)
    return TestPkiFiles(
        paths={k: str(v) for k, v in paths.items()},
        friendly_name=pki.friendly_name,
        passphrase=pki.passphrase,
        pin=pki.pin,
        sha1=pki.sha1_thumbprint,
    )

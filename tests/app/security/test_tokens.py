from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app.security.errors import TokenError
from app.security.tokens import (
    generate_shared_secret,
    token_from_command,
    token_from_env,
    token_from_file,
)


def test_generated_secrets_are_long_random_and_url_safe() -> None:
    secrets_ = {generate_shared_secret() for _ in range(50)}
    assert len(secrets_) == 50
    assert all(len(s) >= 43 and s.replace("-", "").replace("_", "").isalnum() for s in secrets_)
    assert len(generate_shared_secret(128)) >= 22
    with pytest.raises(ValueError, match="128"):
        generate_shared_secret(64)


def test_token_from_file_strips_newline(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("tok-123\n")
    assert token_from_file(tmp_path / "t") == "tok-123"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b"a" * 2000, "over the 1023-byte limit"),
        (b"a\nb\n", "several lines"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_token_files(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "t").write_bytes(content)
    with pytest.raises(TokenError, match=expected) as caught:
        token_from_file(tmp_path / "t")
    assert str(tmp_path / "t") in str(caught.value)


def test_missing_token_file(tmp_path: Path) -> None:
    with pytest.raises(TokenError, match="no such token file"):
        token_from_file(tmp_path / "none")


def test_token_from_env() -> None:
    assert token_from_env(environ={"HOLOREMOTE_TOKEN": "abc\n"}) == "abc"
    assert token_from_env("OTHER", environ={"OTHER": "x"}) == "x"
    with pytest.raises(TokenError, match="HOLOREMOTE_TOKEN is not set"):
        token_from_env(environ={})


def test_token_from_command_output() -> None:
    assert token_from_command([sys.executable, "-c", "print('from-cmd')"]) == "from-cmd"


def test_token_command_failure_does_not_leak_output() -> None:
    with pytest.raises(TokenError) as caught:
        token_from_command([sys.executable, "-c", "import sys; print('SECRET-OUT'); sys.exit(3)"])
    assert "exit status 3" in str(caught.value) and "SECRET-OUT" not in str(caught.value)


def test_token_command_timeout() -> None:
    with pytest.raises(TokenError, match=r"did not finish within 0\.3 s"):
        token_from_command(
            [sys.executable, "-c", "import threading; threading.Event().wait()"], timeout=0.3
        )


def test_token_command_not_found() -> None:
    with pytest.raises(TokenError, match="was not found"):
        token_from_command(["/nonexistent/token-helper"])

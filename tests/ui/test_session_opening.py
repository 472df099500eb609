"""`ui.session_opening`: the window's fields become the same settings the command
line's flags do (no Qt here: plain values in, plain values out)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import defaults
from app.cli import build_parser
from app.commands import common
from ui import field_values, session_opening


def test_both_faces_remember_a_first_used_server_in_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trust on first use with no known-hosts file named: the per-user file, for the
    window (its empty field) and the command line (no --known-hosts) alike."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    window = session_opening.client_auth_settings(
        field_values.ClientSettings(token="t", trust_on_first_use=True, known_hosts="")
    )
    argv = ["connect", "127.0.0.1", "--trust-on-first-use"]
    cli = common.client_auth_settings(build_parser(argv).parse_args(argv), token="t")
    assert window.known_hosts_path == cli.known_hosts_path == defaults.known_hosts_file()
    assert defaults.known_hosts_file().is_relative_to(tmp_path)


def test_the_known_hosts_field_counts_only_with_trust_on_first_use() -> None:
    off = field_values.ClientSettings(token="t", known_hosts="/some/file")
    assert session_opening.client_auth_settings(off).known_hosts_path is None
    on = field_values.ClientSettings(token="t", trust_on_first_use=True, known_hosts="/some/file")
    assert session_opening.client_auth_settings(on).known_hosts_path == Path("/some/file")

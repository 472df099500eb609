"""`failure.error_text`: the one rule both faces word an error by (the command line's
`report_error` and the window's message boxes), each in its own words."""

from __future__ import annotations

import errno

import pytest

from app.commands._certificate_cli import report_error
from app.endpoint.failure import COMMAND_LINE, WINDOW, error_text
from app.errors import HoloremoteError, InputError


def test_the_apps_errors_keep_message_and_fix_and_name_the_setting_per_face() -> None:
    error = HoloremoteError("the CA file cannot be read", fix="check --ca-file")
    assert error_text(COMMAND_LINE, error) == ("the CA file cannot be read", "check --ca-file")
    message, fix = error_text(WINDOW, error)
    assert message == "the CA file cannot be read"
    assert "--ca-file" not in fix and "CA file" in fix


def test_a_file_error_names_the_file_in_both_faces_alike() -> None:
    error = FileNotFoundError(errno.ENOENT, "No such file or directory", "/no/such/store.pfx")
    expected = (
        "/no/such/store.pfx: No such file or directory",
        "check the path and its permissions",
    )
    assert error_text(COMMAND_LINE, error) == error_text(WINDOW, error) == expected


def test_anything_else_is_shown_by_type_and_text_without_a_fix() -> None:
    assert error_text(WINDOW, ValueError("bad value")) == ("ValueError: bad value", "")


def test_the_command_line_prints_what_error_text_says(capsys: pytest.CaptureFixture[str]) -> None:
    report_error("connect", InputError("--ca-file ca.pem", "cannot be read", fix="check the path"))
    report_error("inspect", PermissionError(errno.EACCES, "Permission denied", "/root/x.pfx"))
    assert capsys.readouterr().err.splitlines() == [
        "holoremote connect: --ca-file ca.pem: cannot be read",
        "  fix: check the path",
        "holoremote inspect: /root/x.pfx: Permission denied",
        "  fix: check the path and its permissions",
    ]

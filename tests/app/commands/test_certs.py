from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from app.cli import main


def test_certs_create_generates_passphrase_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOLOREMOTE_KEY_PASSPHRASE", raising=False)
    out = tmp_path / "pki"
    status = main(
        [
            "certs",
            "create",
            "--out",
            str(out),
            "--host",
            "server.test",
            "--ip",
            "127.0.0.1",
            "--friendly-name",
            "holo",
            "--days",
            "5",
        ]
    )
    printed = capsys.readouterr().out
    assert status == 0
    passphrase_file = out / "passphrase.txt"
    assert stat.S_IMODE(passphrase_file.stat().st_mode) == 0o600
    secret = passphrase_file.read_text().strip()
    assert "passphrase.txt (mode 0600)" in printed and secret not in printed
    bundle = pkcs12.load_pkcs12((out / "server.pfx").read_bytes(), secret.encode())
    assert bundle.cert is not None and bundle.cert.friendly_name == b"holo"
    assert "SHA256:" in printed and "SHA-1 (Windows thumbprint)" in printed and "█" in printed
    assert (out / "ca.pem").exists() and (out / "thumbprint-qr.svg").exists()


def test_certs_create_with_env_passphrase_and_rsa(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOLOREMOTE_KEY_PASSPHRASE", "from-env-pass")
    out = tmp_path / "pki"
    assert (
        main(["certs", "create", "--out", str(out), "--host", "rsa.test", "--key-type", "rsa"]) == 0
    )
    assert "from-env-pass" not in capsys.readouterr().out
    assert not (out / "passphrase.txt").exists()
    pkcs12.load_pkcs12((out / "server.pfx").read_bytes(), b"from-env-pass")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--ip", "not-an-ip"], "--ip not-an-ip: is not an IP address"),
        (["--days", "5000"], "--days 5000: must be 1..398"),
        (["--host", "bad host!"], "--host bad host!: is not a DNS name"),
    ],
)
def test_certs_create_bad_flags_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], expected: str
) -> None:
    assert main(["certs", "create", "--out", str(tmp_path / "x"), "--host", "ok.test", *extra]) == 2
    assert expected in capsys.readouterr().err


def test_passphrase_is_never_an_argument() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["certs", "create", "--out", "x", "--host", "a.test", "--passphrase", "p"])
    assert caught.value.code == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"x" * 5000, "is too large to be a passphrase file"),
        (b"\xff\xfe not utf-8", "is not UTF-8 text"),
    ],
)
def test_certs_create_bad_passphrase_file_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, expected: str
) -> None:
    secret_file = tmp_path / "pass.txt"
    secret_file.write_bytes(content)
    status = main(
        [
            "certs",
            "create",
            "--out",
            str(tmp_path / "x"),
            "--host",
            "ok.test",
            "--passphrase-file",
            str(secret_file),
        ]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert f"--passphrase-file {secret_file}: {expected}" in err
    assert "x" * 50 not in err


def test_certs_create_missing_passphrase_file_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.txt"
    status = main(
        [
            "certs",
            "create",
            "--out",
            str(tmp_path / "x"),
            "--host",
            "ok.test",
            "--passphrase-file",
            str(missing),
        ]
    )
    assert status == 2
    assert f"--passphrase-file {missing}: cannot be read" in capsys.readouterr().err


def test_certs_create_out_is_a_file_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "file"
    target.write_text("")
    assert main(["certs", "create", "--out", str(target), "--host", "ok.test"]) == 2
    assert f"--out {target}: exists and is not a directory" in capsys.readouterr().err


def test_certs_create_out_not_writable_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOLOREMOTE_KEY_PASSPHRASE", "from-env-pass")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    out = blocker / "pki"  # a directory below a regular file cannot be made, even as root
    assert main(["certs", "create", "--out", str(out), "--host", "ok.test"]) != 0
    err = capsys.readouterr().err
    assert f"--out {out}: cannot be written" in err
    assert "from-env-pass" not in err


def test_certs_create_empty_friendly_name_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "certs",
            "create",
            "--out",
            str(tmp_path / "x"),
            "--host",
            "ok.test",
            "--friendly-name",
            "  ",
        ]
    )
    assert status == 2
    assert "--friendly-name: is empty" in capsys.readouterr().err

"""`holoremote inspect` on a .pfx made by `openssl pkcs12 -export -name ...` shows the
friendly name and the thumbprints `openssl x509 -fingerprint` prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.security.testpki import create_test_pki

REPO = Path(__file__).resolve().parents[3]


def _openssl(*args: str) -> str:
    return subprocess.run(
        ["openssl", *args], capture_output=True, text=True, check=True, timeout=30
    ).stdout


@pytest.fixture(scope="module")
def openssl_pfx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("inspect")
    pki = create_test_pki(["inspect.test"], ["10.0.0.7"], passphrase="unused")
    (base / "leaf.pem").write_bytes(pki.server.pem)
    (base / "ca.pem").write_bytes(pki.ca_pem)
    from cryptography.hazmat.primitives import serialization

    (base / "key.pem").write_bytes(
        pki.server.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (base / "pass.txt").write_text("s3cret-pass\n")
    _openssl(
        "pkcs12",
        "-export",
        "-name",
        "My Remoting Server",
        "-in",
        str(base / "leaf.pem"),
        "-inkey",
        str(base / "key.pem"),
        "-certfile",
        str(base / "ca.pem"),
        "-passout",
        f"file:{base / 'pass.txt'}",
        "-out",
        str(base / "server.pfx"),
    )
    return {
        "dir": base,
        "pfx": base / "server.pfx",
        "pass": base / "pass.txt",
        "leaf": base / "leaf.pem",
    }


def _fingerprint(leaf: Path, digest: str) -> str:
    line = _openssl("x509", "-in", str(leaf), "-noout", "-fingerprint", f"-{digest}").strip()
    return line.split("=", 1)[1]


def test_inspect_json_matches_openssl(
    openssl_pfx: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "inspect",
            str(openssl_pfx["pfx"]),
            "--passphrase-file",
            str(openssl_pfx["pass"]),
            "--json",
        ]
    )
    out, _ = capsys.readouterr()
    assert status == 0
    report = json.loads(out)
    leaf = report["certificates"][0]
    assert leaf["friendlyName"] == "My Remoting Server"
    assert leaf["sha256"] == _fingerprint(openssl_pfx["leaf"], "sha256")
    assert leaf["sha1"] == _fingerprint(openssl_pfx["leaf"], "sha1").replace(":", "")
    assert leaf["dnsNames"] == ["inspect.test"] and leaf["ipAddresses"] == ["10.0.0.7"]
    assert leaf["extendedKeyUsage"] == ["serverAuth"] and leaf["hasPrivateKey"] is True
    assert leaf["keyType"] == "ECDSA secp256r1" and leaf["keySize"] == 256
    for key in (
        "subject",
        "issuer",
        "serial",
        "notBefore",
        "notAfter",
        "keyUsage",
        "basicConstraints",
        "signatureAlgorithm",
    ):
        assert leaf[key]
    assert "s3cret-pass" not in out


def test_inspect_text_as_a_process(openssl_pfx: dict[str, Path]) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "inspect",
            str(openssl_pfx["pfx"]),
            "--passphrase-file",
            str(openssl_pfx["pass"]),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "My Remoting Server" in completed.stdout
    assert _fingerprint(openssl_pfx["leaf"], "sha256") in completed.stdout
    assert _fingerprint(openssl_pfx["leaf"], "sha1").replace(":", "") in completed.stdout


def test_inspect_wrong_passphrase_exits_2(
    openssl_pfx: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("guess-123\n")
    assert main(["inspect", str(openssl_pfx["pfx"]), "--passphrase-file", str(wrong)]) == 2
    _, err = capsys.readouterr()
    assert str(openssl_pfx["pfx"]) in err and "passphrase" in err and "guess-123" not in err


def test_inspect_missing_passphrase_file_exits_2(
    openssl_pfx: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["inspect", str(openssl_pfx["pfx"]), "--passphrase-file", str(tmp_path / "none.txt")])
        == 2
    )
    assert "--passphrase-file" in capsys.readouterr().err

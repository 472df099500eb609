"""Keys cryptography cannot read (EC with explicit curve parameters, forbidden by
CA/B BR 7.1.3.1.2) are refusals with a reason, never a traceback. The certificates
are made by the real openssl, which can still write such keys."""

from __future__ import annotations

import subprocess
from pathlib import Path

from app.cli import main


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def test_explicit_curve_root_and_leaf_are_refused_with_a_reason(
    tmp_path: Path, capsys: object
) -> None:
    ext = tmp_path / "ext.cnf"
    ext.write_text(
        "subjectAltName=DNS:server.test\nextendedKeyUsage=serverAuth\n"
        "keyUsage=critical,digitalSignature\nauthorityKeyIdentifier=keyid\n"
        "subjectKeyIdentifier=hash\n"
    )
    explicit = ("ecparam", "-name", "prime256v1", "-param_enc", "explicit", "-genkey", "-noout")
    _openssl(*explicit, "-out", "root.key", cwd=tmp_path)
    _openssl(
        "req", "-x509", "-new", "-key", "root.key", "-subj", "/CN=Explicit Root", "-days", "2",
        "-out", "root.pem", "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-addext", "subjectKeyIdentifier=hash",
        cwd=tmp_path,
    )  # fmt: skip
    _openssl(*explicit, "-out", "leaf.key", cwd=tmp_path)
    _openssl("req", "-new", "-key", "leaf.key", "-subj", "/CN=server.test", "-out", "leaf.csr",
             cwd=tmp_path)  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "leaf.csr", "-CA", "root.pem", "-CAkey", "root.key",
        "-CAcreateserial", "-days", "1", "-out", "leaf.pem", "-extfile", "ext.cnf",
        cwd=tmp_path,
    )  # fmt: skip
    status = main(
        [
            "verify",
            str(tmp_path / "leaf.pem"),
            "--host",
            "server.test",
            "--ca-file",
            str(tmp_path / "root.pem"),
        ]
    )
    out, err = capsys.readouterr()  # type: ignore[attr-defined]
    assert status == 1 and "REFUSED" in out and "Traceback" not in out + err
    assert "public key that cannot be read" in out

"""Usage errors and policies of `holoremote verify` (the chain matrix is in
tests/app/security/test_chain_matrix.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from app.security.testpki import create_test_pki


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("verify")
    pki = create_test_pki(["server.test"], ["127.0.0.1"], intermediate=True, passphrase="pw-1234")
    pki.write(base)
    (base / "leaf.pem").write_bytes(pki.server.pem)
    return {"dir": base, "pki": pki}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_accepts_with_ca_file(files: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    base: Path = files["dir"]  # type: ignore[assignment]
    status, out, _ = _run(
        [
            "verify",
            str(base / "chain.pem"),
            "--host",
            "server.test",
            "--ca-file",
            str(base / "ca.pem"),
        ],
        capsys,
    )
    assert status == 0 and "ACCEPTED" in out and "CA file" in out


def test_pin_accepts_without_ca_and_other_name(
    files: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    base: Path = files["dir"]  # type: ignore[assignment]
    pin = files["pki"].pin  # type: ignore[attr-defined]
    status, out, _ = _run(
        [
            "verify",
            str(base / "leaf.pem"),
            "--host",
            "10.1.2.3",
            "--pin",
            pin.upper(),
            "--json",
            "--ca-file",
            str(base / "ca.pem"),
        ],
        capsys,
    )
    report = json.loads(out)
    assert status == 0 and report["policy"] == "pin"
    assert report["result"]["nameMismatch"].endswith("NOT_CHECKED_MSFT")


def test_escape_hatches_warn(
    files: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base: Path = files["dir"]  # type: ignore[assignment]
    other = create_test_pki(["elsewhere.test"])
    (tmp_path / "other-ca.pem").write_bytes(other.ca_pem)
    status, out, _ = _run(
        [
            "verify",
            str(base / "chain.pem"),
            "--host",
            "wrong.test",
            "--ca-file",
            str(tmp_path / "other-ca.pem"),
            "--allow-name-mismatch",
            "--allow-unverified-chain",
            "--json",
        ],
        capsys,
    )
    report = json.loads(out)
    assert status == 0
    assert any("--allow-name-mismatch" in w for w in report["result"]["warnings"])
    assert any("--allow-unverified-chain" in w for w in report["result"]["warnings"])
    assert report["systemResult"]["trustedRoot"] is False


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--at", "yesterday"], "--at yesterday: is not an ISO-8601 time"),
        (["--pin", "SHA256:xyz"], "the pin is not a SHA-256 or SHA-1 thumbprint"),
        (["--crl", "__missing__.crl"], "no such CRL file"),
        (["--ca-file", "__missing__.pem"], "no such CA file"),
        (
            ["--pin", "SHA256:" + "ab" * 32, "--allow-unverified-chain"],
            "--allow-unverified-chain together with a pin",
        ),
    ],
)
def test_usage_errors_exit_2(
    files: dict[str, object], capsys: pytest.CaptureFixture[str], extra: list[str], expected: str
) -> None:
    base: Path = files["dir"]  # type: ignore[assignment]
    status, _, err = _run(
        [
            "verify",
            str(base / "chain.pem"),
            "--host",
            "server.test",
            "--ca-file",
            str(base / "ca.pem"),
            *extra,
        ],
        capsys,
    )
    assert status == 2
    assert expected in err


def test_bad_crl_file_exit_2(files: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    base: Path = files["dir"]  # type: ignore[assignment]
    status, _, err = _run(
        [
            "verify",
            str(base / "chain.pem"),
            "--host",
            "server.test",
            "--ca-file",
            str(base / "ca.pem"),
            "--crl",
            str(base / "ca.pem"),
        ],
        capsys,
    )
    assert status == 2 and "is not a CRL" in err


def test_unreadable_chain_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("not a chain")
    status, _, err = _run(["verify", str(junk), "--host", "server.test"], capsys)
    assert status == 2 and str(junk) in err and "fix:" in err


def test_pfx_chain_with_passphrase_file(
    files: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base: Path = files["dir"]  # type: ignore[assignment]
    (tmp_path / "pw").write_text("pw-1234\n")
    status, out, _ = _run(
        [
            "verify",
            str(base / "server.pfx"),
            "--passphrase-file",
            str(tmp_path / "pw"),
            "--host",
            "127.0.0.1",
            "--ca-file",
            str(base / "ca.pem"),
        ],
        capsys,
    )
    assert status == 0, out


def test_more_certificates_than_path_building_takes_is_a_refusal(
    files: dict[str, object], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A pathological chain (x509-limbo's 100 intermediates) is refused with the bound
    # as its reason (exit 1), not reported as unreadable input (exit 2).
    base: Path = files["dir"]  # type: ignore[assignment]
    pki = files["pki"]
    chain = tmp_path / "long.pem"
    chain.write_bytes(pki.server.pem + pki.intermediate.pem * 100)  # type: ignore[attr-defined]
    status, out, err = _run(
        ["verify", str(chain), "--host", "server.test", "--ca-file", str(base / "ca.pem")], capsys
    )
    assert status == 1 and "REFUSED" in out and not err
    assert "presented 101 certificates, over the limit of 64" in out


def test_an_issuer_whose_key_cannot_be_read_is_refused_not_a_traceback(
    files: dict[str, object], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    base: Path = files["dir"]  # type: ignore[assignment]
    pki = files["pki"]
    ica = x509.load_pem_x509_certificate(pki.intermediate.pem)  # type: ignore[attr-defined]
    spki = ica.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # The key's last octet changed (the point's y off the curve): not a key. Flipped,
    # not set to 0x00, which the key's own last octet is once in 256 test PKIs (then
    # nothing changed and the chain was rightly accepted: this test failed that way).
    broken_spki = spki[:-1] + bytes([spki[-1] ^ 0x01])
    assert broken_spki != spki
    broken = ica.public_bytes(serialization.Encoding.DER).replace(spki, broken_spki)
    pem = b"-----BEGIN CERTIFICATE-----\n" + __import__("base64").encodebytes(broken)
    pem += b"-----END CERTIFICATE-----\n"
    chain = tmp_path / "badkey.pem"
    chain.write_bytes(pki.server.pem + pem)  # type: ignore[attr-defined]
    status, out, err = _run(
        ["verify", str(chain), "--host", "server.test", "--ca-file", str(base / "ca.pem")], capsys
    )
    assert status == 1 and "REFUSED" in out and "Traceback" not in out + err

"""Revocation on a live `connect` (built-in runtime, real listener subprocess, all on
127.0.0.1): CRL distribution points served by a local HTTP server, OCSP answered by
the real `openssl ocsp` behind it, `--check-revocation`, `--force-revocation-check`
and `--crl FILE`."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pkibuild import Made, issue
from revocation_server import Responder, crl_der, serve

from app.security.testpki import SigningKey
from tests.app.remoting.cli_support import Listener, run_cli
from tests.app.remoting.remoting_support import TOKEN

HOST = "127.0.0.1"
# RFC 5280 5.2.5: a CRL that covers only CA certificates.
CA_CERTIFICATES_ONLY = x509.IssuingDistributionPoint(
    full_name=None,
    relative_name=None,
    only_contains_user_certs=False,
    only_contains_ca_certs=True,
    only_some_reasons=None,
    indirect_crl=False,
    only_contains_attribute_certs=False,
)


@pytest.fixture(scope="module")
def root(keys: dict[str, SigningKey], window: dict[str, dt.datetime]) -> Made:
    return issue(
        "Live Revocation Root",
        key=keys["root"],
        ca=True,
        not_before=window["nb"],
        not_after=window["na"],
    )


def _server_files(leaf: Made, root: Made, directory: Path) -> dict[str, Path]:
    store = directory / "server.pem"
    store.write_bytes(
        leaf.cert.public_bytes(serialization.Encoding.PEM)
        + leaf.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ca = directory / "ca.pem"
    ca.write_bytes(root.cert.public_bytes(serialization.Encoding.PEM))
    token = directory / "token.txt"
    token.write_text(TOKEN + "\n")
    return {"store": store, "ca": ca, "token": token}


def _leaf(root: Made, key: SigningKey, window: dict[str, dt.datetime], **urls: str) -> Made:
    return issue(
        "server.test",
        key=key,
        issuer=root,
        dns=["server.test"],
        ips=[HOST],
        not_before=window["nb"],
        not_after=window["na"],
        **urls,  # type: ignore[arg-type]
    )


def _connect(files: dict[str, Path], *flags: str) -> tuple[int, str, list[dict[str, object]]]:
    with Listener(
        "--once", "--cert-store", str(files["store"]), "--token-file", str(files["token"])
    ) as listener:
        port, _ = listener.ports()
        args = ["connect", "--runtime", "builtin", f"{HOST}:{port}", "--ca-file", str(files["ca"])]
        args += ["--token-file", str(files["token"]), "--hold", "0.1", *flags]
        text = run_cli(*args)
    with Listener(
        "--once", "--cert-store", str(files["store"]), "--token-file", str(files["token"])
    ) as listener:
        port, _ = listener.ports()
        args[3] = f"{HOST}:{port}"
        as_json = run_cli(*args, "--json")
    events = [json.loads(line) for line in as_json.stdout.splitlines() if line.startswith("{")]
    assert as_json.returncode == text.returncode, (text.stdout, as_json.stdout)
    return text.returncode, text.stdout + text.stderr, events


def _verdict(events: list[dict[str, object]]) -> dict[str, object]:
    record = next(e for e in events if e.get("callback") == "ValidateServerCertificate")
    outputs = record["outputs"]
    assert isinstance(outputs, dict)
    verdict = outputs["validationResultOut"]
    assert isinstance(verdict, dict)
    return verdict


def test_revoked_leaf_is_refused_naming_revocation_and_the_url(
    root: Made,
    keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
    tmp_path: Path,
) -> None:
    with serve(Responder(issuer=root, now=now)) as responder:
        leaf = _leaf(root, keys["leaf"], window, crl_url=responder.url("/crl"))
        responder.crl_der = crl_der(root, [leaf.cert.serial_number], now)
        code, out, events = _connect(_server_files(leaf, root, tmp_path), "--check-revocation")
    assert code == 3, out
    assert "revoked" in out and responder.url("/crl") in out
    verdict = _verdict(events)
    assert verdict["revoked"] is True
    reasons = verdict["reasons"]
    assert isinstance(reasons, dict) and responder.url("/crl") in str(reasons["revoked"])


def test_good_leaf_connects_and_says_which_url_answered(
    root: Made,
    keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
    tmp_path: Path,
) -> None:
    with serve(Responder(issuer=root, now=now)) as responder:
        leaf = _leaf(root, keys["leaf"], window, crl_url=responder.url("/crl"))
        responder.crl_der = crl_der(root, [], now)
        code, out, events = _connect(
            _server_files(leaf, root, tmp_path), "--check-revocation", "--force-revocation-check"
        )
    assert code == 0, out
    verdict = _verdict(events)
    assert verdict["revoked"] is False and verdict["revocationCheckFailed"] is False
    reasons = verdict["reasons"]
    assert isinstance(reasons, dict)
    assert responder.url("/crl") in str(reasons["revocationCheckFailed"])


def _dead_url() -> str:
    # A port the responder had and gave back: nothing listens there any more.
    with serve(Responder(issuer=None, now=dt.datetime.now(dt.UTC))) as gone:  # type: ignore[arg-type]
        url = gone.url("/crl")
    return url


def test_unreachable_crl_under_force_is_refused_with_revocation_check_failed(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], tmp_path: Path
) -> None:
    url = _dead_url()
    leaf = _leaf(root, keys["leaf"], window, crl_url=url)
    files = _server_files(leaf, root, tmp_path)
    code, out, events = _connect(files, "--force-revocation-check")
    assert code == 3, out
    assert "revocationCheckFailed" in out and url in out
    verdict = _verdict(events)
    assert verdict["revocationCheckFailed"] is True
    reasons = verdict["reasons"]
    assert isinstance(reasons, dict) and "could not be reached" in str(
        reasons["revocationCheckFailed"]
    )


def test_unreachable_crl_without_force_connects_with_a_warning(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], tmp_path: Path
) -> None:
    url = _dead_url()
    leaf = _leaf(root, keys["leaf"], window, crl_url=url)
    code, out, _ = _connect(_server_files(leaf, root, tmp_path), "--check-revocation")
    assert code == 0, out
    assert "warning: revocation could not be determined" in out and url in out


def test_crl_scoped_to_ca_certificates_is_no_answer_for_the_leaf(
    root: Made,
    keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
    tmp_path: Path,
) -> None:
    # The leaf is listed, but the CRL says it covers only CA certificates (RFC 5280
    # 5.2.5): it is neither "revoked" nor "good" for the leaf; forced, that refuses.
    crl_file = tmp_path / "cas-only.crl"
    leaf = _leaf(root, keys["leaf"], window)
    crl_file.write_bytes(crl_der(root, [leaf.cert.serial_number], now, idp=CA_CERTIFICATES_ONLY))
    files = _server_files(leaf, root, tmp_path)
    code, out, events = _connect(files, "--crl", str(crl_file), "--force-revocation-check")
    assert code == 3, out
    verdict = _verdict(events)
    assert verdict["revoked"] is False and verdict["revocationCheckFailed"] is True
    reasons = verdict["reasons"]
    assert isinstance(reasons, dict)
    assert "covers only CA certificates" in str(reasons["revocationCheckFailed"])


def test_unreadable_crl_file_is_a_usage_error_naming_the_flag(tmp_path: Path) -> None:
    bad = tmp_path / "not-a.crl"
    bad.write_bytes(b"garbage")
    token = tmp_path / "token.txt"
    token.write_text(TOKEN + "\n")
    result = run_cli(
        "connect",
        "--runtime",
        "builtin",
        f"{HOST}:9",
        "--token-file",
        str(token),
        "--crl",
        str(bad),
        timeout=30,
    )
    assert result.returncode == 2
    assert "--crl" in result.stderr and "not a CRL" in result.stderr
    assert "Traceback" not in result.stderr


# --- OCSP answered by the real `openssl ocsp` ------------------------------------------


@pytest.fixture
def openssl_ocsp(root: Made, tmp_path: Path) -> Iterator[Path]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed (scripts/system-deps.sh test installs it)")
    directory = tmp_path / "ocsp"
    directory.mkdir()
    (directory / "ca.pem").write_bytes(root.cert.public_bytes(serialization.Encoding.PEM))
    (directory / "ca.key").write_bytes(
        root.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (directory / "index.txt").write_text("")
    yield directory


def _index_line(cert: x509.Certificate, revoked_at: dt.datetime | None) -> str:
    """A line of openssl ca's database: status, expiry, revocation time, serial."""
    expiry = cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
    revoked = revoked_at.strftime("%y%m%d%H%M%SZ") if revoked_at else ""
    serial = f"{cert.serial_number:X}"
    serial = serial if len(serial) % 2 == 0 else "0" + serial
    subject = "/" + "/".join(reversed(cert.subject.rfc4514_string().split(",")))
    return f"{'R' if revoked_at else 'V'}\t{expiry}\t{revoked}\t{serial}\tunknown\t{subject}\n"


def _openssl_answer(directory: Path, request: bytes) -> bytes:
    completed = subprocess.run(
        [
            "openssl",
            "ocsp",
            "-index",
            str(directory / "index.txt"),
            "-CA",
            str(directory / "ca.pem"),
            "-rsigner",
            str(directory / "ca.pem"),
            "-rkey",
            str(directory / "ca.key"),
            "-reqin",
            "/dev/stdin",
            "-respout",
            "/dev/stdout",
            "-ndays",
            "1",
        ],
        input=request,
        capture_output=True,
        timeout=30,
        check=True,
    )
    return completed.stdout


@pytest.mark.parametrize("revoked", [False, True])
def test_ocsp_from_openssl_decides_a_live_connection(
    root: Made,
    keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
    tmp_path: Path,
    openssl_ocsp: Path,
    revoked: bool,
) -> None:
    responder = Responder(issuer=root, now=now)
    responder.ocsp_backend = lambda request: _openssl_answer(openssl_ocsp, request)
    with serve(responder):
        url = responder.url("/ocsp")
        leaf = _leaf(root, keys["leaf"], window, ocsp_url=url)
        when = now - dt.timedelta(hours=1) if revoked else None
        (openssl_ocsp / "index.txt").write_text(_index_line(leaf.cert, when))
        code, out, events = _connect(
            _server_files(leaf, root, tmp_path), "--check-revocation", "--force-revocation-check"
        )
    assert "POST /ocsp" in responder.requests
    verdict = _verdict(events)
    reasons = verdict["reasons"]
    assert isinstance(reasons, dict)
    if revoked:
        assert code == 3 and verdict["revoked"] is True, out
        assert url in str(reasons["revoked"])
    else:
        assert code == 0 and verdict["revoked"] is False, out
        assert url in str(reasons["revocationCheckFailed"])


def test_doctor_applies_the_revocation_settings(
    root: Made,
    keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
    tmp_path: Path,
) -> None:
    leaf = _leaf(root, keys["leaf"], window)
    crl_file = tmp_path / "ca.crl"
    crl_file.write_bytes(crl_der(root, [leaf.cert.serial_number], now))
    files = _server_files(leaf, root, tmp_path)
    with Listener("--cert-store", str(files["store"]), "--token-file", str(files["token"])) as srv:
        port, _ = srv.ports()
        args = ["doctor", f"{HOST}:{port}", "--ca-file", str(files["ca"]), "--json"]
        plain = run_cli(*args)
        checked = run_cli(*args, "--crl", str(crl_file))
    chain = next(json.loads(line) for line in plain.stdout.splitlines() if '"chain"' in line)
    assert chain["ok"] is True and chain["validation"]["revoked"] is False
    chain = next(json.loads(line) for line in checked.stdout.splitlines() if '"chain"' in line)
    assert chain["ok"] is False and chain["validation"]["revoked"] is True

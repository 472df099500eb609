"""The chain matrix of issue 4: each case is built here, validated by the library
and by `holoremote verify`, and every one of the seven fields is asserted.
`openssl verify` runs on the same files and must agree on accept/reject."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from pkibuild import Made, issue
from revocation_server import Responder, crl_der, serve

from app.cli import main
from app.security.acceptance import is_acceptable
from app.security.revocation import RevocationOptions
from app.security.revocation_fetch import http_fetcher
from app.security.system_validation import validate_server_chain
from app.security.testpki import SigningKey
from app.security.trust import anchors_from_certificates
from app.xr.values import CertificateNameValidationResult as Name

REPO = Path(__file__).resolve().parents[3]
FIELDS = (
    "trusted_root",
    "revoked",
    "expired",
    "wrong_usage",
    "name_mismatch",
    "revocation_check_failed",
    "invalid_cert_or_chain",
)
GOOD = dict(
    trusted_root=True,
    revoked=False,
    expired=False,
    wrong_usage=False,
    name_mismatch=Name.MATCH,
    revocation_check_failed=False,
    invalid_cert_or_chain=False,
)


@dataclass
class Case:
    chain: list[bytes]
    host: str
    expected: dict[str, object]
    crl: bytes | None = None
    ocsp: bool = False
    openssl: bool = True
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return all(self.expected[f] == GOOD[f] for f in FIELDS)


def _pem(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def world(
    keys: dict[str, SigningKey], now: dt.datetime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, object]]:
    nb, na = now - dt.timedelta(days=1), now + dt.timedelta(days=30)
    root = issue(
        "Matrix Root", key=keys["root"], ca=True, not_before=nb, not_after=na + dt.timedelta(days=1)
    )
    inter = issue(
        "Matrix Intermediate",
        key=keys["intermediate"],
        issuer=root,
        ca=True,
        path_length=0,
        not_before=nb,
        not_after=na + dt.timedelta(days=1),
    )
    stranger = issue("Stranger Root", key=keys["other"], ca=True, not_before=nb, not_after=na)
    leaf_key = keys["leaf"]
    with serve(Responder(issuer=root, now=now)) as responder:

        def leaf(issuer: Made = root, **kw: object) -> Made:
            options: dict[str, object] = dict(
                dns=["server.test"], ips=["127.0.0.1"], not_before=nb, not_after=na
            )
            options.update(kw)
            return issue(str((options["dns"] or ["ip"])[0]), key=leaf_key, issuer=issuer, **options)  # type: ignore[arg-type]

        crl_leaf = leaf()
        ocsp_leaf = leaf(ocsp_url=responder.url("/ocsp"))
        ocsp_good = leaf(ocsp_url=responder.url("/ocsp"))
        responder.revoked_serials.add(ocsp_leaf.cert.serial_number)
        via_inter = leaf(inter)
        wildcard = leaf(dns=["*.wild.test"], ips=[])
        cases = {
            "good": Case([leaf().der], "server.test", GOOD),
            "expired": Case(
                [
                    leaf(
                        not_before=now - dt.timedelta(days=40),
                        not_after=now - dt.timedelta(days=10),
                    ).der
                ],
                "server.test",
                {**GOOD, "expired": True},
            ),
            "not_yet_valid": Case(
                [leaf(not_before=now + dt.timedelta(days=2), not_after=na).der],
                "server.test",
                {**GOOD, "expired": True},
            ),
            "no_server_auth": Case(
                [leaf(eku=[ExtendedKeyUsageOID.CLIENT_AUTH]).der],
                "server.test",
                {**GOOD, "wrong_usage": True},
            ),
            "name_mismatch": Case(
                [leaf().der], "other.test", {**GOOD, "name_mismatch": Name.MISMATCH}
            ),
            "ip_san_match": Case([leaf().der], "127.0.0.1", GOOD),
            "ip_san_mismatch": Case(
                [leaf().der], "127.0.0.2", {**GOOD, "name_mismatch": Name.MISMATCH}
            ),
            "wildcard_match": Case([wildcard.der], "a.wild.test", GOOD),
            "wildcard_two_labels": Case(
                [wildcard.der], "a.b.wild.test", {**GOOD, "name_mismatch": Name.MISMATCH}
            ),
            "wildcard_apex": Case(
                [wildcard.der], "wild.test", {**GOOD, "name_mismatch": Name.MISMATCH}
            ),
            "unknown_root": Case(
                [leaf(stranger).der], "server.test", {**GOOD, "trusted_root": False}
            ),
            "missing_intermediate": Case(
                [via_inter.der], "server.test", {**GOOD, "trusted_root": False}
            ),
            "intermediate_supplied": Case([via_inter.der, inter.der], "server.test", GOOD),
            "revoked_by_crl": Case(
                [crl_leaf.der],
                "server.test",
                {**GOOD, "revoked": True},
                crl=crl_der(root, [crl_leaf.cert.serial_number], now),
            ),
            "not_revoked_by_crl": Case(
                [leaf().der],
                "server.test",
                GOOD,
                crl=crl_der(root, [crl_leaf.cert.serial_number], now),
            ),
            "revoked_by_ocsp": Case(
                [ocsp_leaf.der], "server.test", {**GOOD, "revoked": True}, ocsp=True, openssl=False
            ),
            "good_by_ocsp": Case([ocsp_good.der], "server.test", GOOD, ocsp=True, openssl=False),
            "malformed_der": Case(
                [leaf().der[:-40]],
                "server.test",
                dict(
                    trusted_root=False,
                    revoked=False,
                    expired=False,
                    wrong_usage=False,
                    name_mismatch=Name.NOT_CHECKED,
                    revocation_check_failed=False,
                    invalid_cert_or_chain=True,
                ),
                openssl=False,
            ),
        }
        base = tmp_path_factory.mktemp("matrix")
        (base / "ca.pem").write_bytes(root.pem)
        for label, case in cases.items():
            folder = base / label
            folder.mkdir()
            if label == "malformed_der":
                import base64

                body = base64.encodebytes(case.chain[0])
                (folder / "chain.pem").write_bytes(
                    b"-----BEGIN CERTIFICATE-----\n" + body + b"-----END CERTIFICATE-----\n"
                )
            else:
                (folder / "chain.pem").write_bytes(b"".join(_pem(d) for d in case.chain))
                (folder / "leaf.pem").write_bytes(_pem(case.chain[0]))
                (folder / "untrusted.pem").write_bytes(
                    b"".join(_pem(d) for d in case.chain[1:]) or inter.pem
                )
            if case.crl:
                (folder / "crl.der").write_bytes(case.crl)
                crl = x509.load_der_x509_crl(case.crl).public_bytes(serialization.Encoding.PEM)
                (folder / "crl.pem").write_bytes(crl)
            case.files = {"dir": folder, "ca": base / "ca.pem"}
        yield {"cases": cases, "root": root, "now": now, "responder": responder}


CASE_NAMES = [
    "good",
    "expired",
    "not_yet_valid",
    "no_server_auth",
    "name_mismatch",
    "ip_san_match",
    "ip_san_mismatch",
    "wildcard_match",
    "wildcard_two_labels",
    "wildcard_apex",
    "unknown_root",
    "missing_intermediate",
    "intermediate_supplied",
    "revoked_by_crl",
    "not_revoked_by_crl",
    "revoked_by_ocsp",
    "good_by_ocsp",
    "malformed_der",
]


@pytest.mark.parametrize("label", CASE_NAMES)
def test_seven_fields(world: dict[str, object], label: str) -> None:
    case: Case = world["cases"][label]  # type: ignore[index]
    root: Made = world["root"]  # type: ignore[assignment]
    options = RevocationOptions(
        crls=(x509.load_der_x509_crl(case.crl),) if case.crl else (),
        check_ocsp=case.ocsp,
        fetcher=http_fetcher(timeout=5) if case.ocsp else None,
    )
    validation = validate_server_chain(
        case.chain,
        case.host,
        anchors=anchors_from_certificates([root.cert], "test CA"),
        at=world["now"],
        revocation=options,  # type: ignore[arg-type]
    )
    result = validation.result
    assert {f: getattr(result, f) for f in FIELDS} == case.expected, result.reasons
    assert set(result.reasons) == {
        "trustedRoot",
        "revoked",
        "expired",
        "wrongUsage",
        "nameMismatch",
        "revocationCheckFailed",
        "invalidCertOrChain",
    }
    assert is_acceptable(result, revocation_forced=False) == case.accepted


@pytest.mark.parametrize("label", CASE_NAMES)
def test_verify_command_exit_status_and_json(
    world: dict[str, object], label: str, capsys: pytest.CaptureFixture[str]
) -> None:
    case: Case = world["cases"][label]  # type: ignore[index]
    folder = case.files["dir"]
    argv = [
        "verify",
        str(folder / "chain.pem"),
        "--host",
        case.host,
        "--ca-file",
        str(case.files["ca"]),
        "--at",
        world["now"].isoformat(),
        "--json",
    ]  # type: ignore[attr-defined]
    if case.crl:
        argv += ["--crl", str(folder / "crl.der")]
    if case.ocsp:
        argv += ["--ocsp"]
    status = main(argv)
    out, err = capsys.readouterr()
    if label == "malformed_der":
        assert status == 2
        assert str(folder / "chain.pem") in err and "not a valid certificate" in err
        return
    assert status == (0 if case.accepted else 1), out
    report = json.loads(out)
    assert report["accepted"] is case.accepted
    fields = report["result"]
    assert fields["trustedRoot"] is case.expected["trusted_root"]
    assert fields["revoked"] is case.expected["revoked"]
    assert fields["expired"] is case.expected["expired"]
    assert fields["wrongUsage"] is case.expected["wrong_usage"]
    assert fields["nameMismatch"] == case.expected["name_mismatch"].spec_name  # type: ignore[attr-defined]
    assert fields["revocationCheckFailed"] is case.expected["revocation_check_failed"]
    assert fields["invalidCertOrChain"] is case.expected["invalid_cert_or_chain"]
    assert all(fields["reasons"][name] for name in ("trustedRoot", "expired", "nameMismatch"))


def test_verify_runs_as_a_process(world: dict[str, object]) -> None:
    case: Case = world["cases"]["name_mismatch"]  # type: ignore[index]
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "verify",
            str(case.files["dir"] / "chain.pem"),
            "--host",
            case.host,
            "--ca-file",
            str(case.files["ca"]),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 1
    assert "nameMismatch" in completed.stdout and "MISMATCH" in completed.stdout
    assert "REFUSED: nameMismatch" in completed.stdout


@pytest.mark.parametrize(
    "label",
    [n for n in CASE_NAMES if n not in ("revoked_by_ocsp", "good_by_ocsp", "malformed_der")],
)
def test_openssl_verify_agrees(world: dict[str, object], label: str) -> None:
    case: Case = world["cases"][label]  # type: ignore[index]
    folder = case.files["dir"]
    argv = [
        "openssl",
        "verify",
        "-CAfile",
        str(case.files["ca"]),
        "-purpose",
        "sslserver",
        "-attime",
        str(int(world["now"].timestamp())),
    ]  # type: ignore[attr-defined]
    if len(case.chain) > 1:
        argv += ["-untrusted", str(folder / "untrusted.pem")]
    if case.host.replace(".", "").isdigit():
        argv += ["-verify_ip", case.host]
    else:
        argv += ["-verify_hostname", case.host]
    if case.crl:
        argv += ["-crl_check", "-CRLfile", str(folder / "crl.pem")]
    argv.append(str(folder / "leaf.pem"))
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert (completed.returncode == 0) == case.accepted, completed.stdout + completed.stderr

"""Paths through a self-issued CA certificate (a key rollover), RFC 5280 4.2.1.9 and
6.1.4(l): `root -> CA (old key) -> CA (same name, new key, signed by the old key)
-> sub-CA -> leaf`. The self-issued certificate does not count toward path length,
so the valid rollover is accepted; every rule the split search adds (and each way
to abuse it) is shown refused with certificates built here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pkibuild import Made, issue
from revocation_server import crl_der

from app.cli import main
from app.security import self_issued_paths
from app.security.acceptance import is_acceptable
from app.security.revocation import RevocationOptions
from app.security.system_validation import ChainValidation, validate_server_chain
from app.security.testpki import SigningKey, generate_private_key
from app.security.trust import anchors_from_certificates
from tests.app.remoting.cli_support import Listener, run_cli
from tests.app.remoting.remoting_support import TOKEN

HOST = "server.test"
CA_NAME = "Rollover CA"


@pytest.fixture(scope="module")
def more_keys() -> dict[str, SigningKey]:
    return {name: generate_private_key() for name in ("old", "new", "sub", "rogue", "extra")}


@dataclass(frozen=True)
class Rollover:
    root: Made
    old: Made  # CA_NAME, old key, issued by the root
    new: Made  # CA_NAME, new key, self-issued: signed by the old key
    sub: Made  # issued by the new key
    leaf: Made

    @property
    def chain(self) -> list[Made]:
        return [self.leaf, self.sub, self.new, self.old]


def _rollover(
    keys: dict[str, SigningKey],
    more_keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    *,
    old_len: int | None = 1,
    new_len: int | None = 1,
    old_extensions: tuple[tuple[x509.ExtensionType, bool], ...] = (),
    new_signer: Made | None = None,
    new_not_after: dt.datetime | None = None,
    new_self_signed: bool = False,
) -> Rollover:
    nb, na = window["nb"], window["na"]
    root = issue("Rollover Root", key=keys["root"], ca=True, not_before=nb, not_after=na)
    old = issue(
        CA_NAME,
        key=more_keys["old"],
        issuer=root,
        ca=True,
        path_length=old_len,
        not_before=nb,
        not_after=na,
        extensions=old_extensions,
    )
    new = issue(
        CA_NAME,
        key=more_keys["new"],
        issuer=None if new_self_signed else (new_signer or old),
        ca=True,
        path_length=new_len,
        not_before=nb,
        not_after=new_not_after or na,
    )
    assert new.cert.issuer == new.cert.subject  # self-issued in every variant
    sub = issue(
        "Rollover Sub CA",
        key=more_keys["sub"],
        issuer=new,
        ca=True,
        path_length=0,
        not_before=nb,
        not_after=na,
    )
    leaf = issue(HOST, key=keys["leaf"], issuer=sub, dns=[HOST], not_before=nb, not_after=na)
    return Rollover(root, old, new, sub, leaf)


def _validate(chain: list[Made], root: Made, now: dt.datetime, **kw: Any) -> ChainValidation:
    return validate_server_chain(
        [m.der for m in chain],
        HOST,
        anchors=anchors_from_certificates([root.cert], "rollover CA"),
        at=now,
        **kw,
    )


def test_rollover_through_a_self_issued_certificate_is_accepted(
    keys: dict[str, SigningKey],
    more_keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
) -> None:
    pki = _rollover(keys, more_keys, window)
    checked = _validate(pki.chain, pki.root, now)
    assert is_acceptable(checked.result, revocation_forced=False), checked.result.reasons
    assert [c for c in checked.path] == [
        pki.leaf.cert,
        pki.sub.cert,
        pki.new.cert,
        pki.old.cert,
        pki.root.cert,
    ]
    assert any("self-issued" in note and "4.2.1.9" in note for note in checked.notes)


def test_verify_command_accepts_the_rollover(
    keys: dict[str, SigningKey],
    more_keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pki = _rollover(keys, more_keys, window)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(b"".join(m.pem for m in pki.chain))
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki.root.pem)
    status = main(["verify", str(chain), "--host", HOST, "--ca-file", str(ca)])
    out = capsys.readouterr().out
    assert status == 0 and "ACCEPTED" in out and "self-issued" in out


def test_without_the_split_pass_cryptography_refuses_the_rollover(
    keys: dict[str, SigningKey],
    more_keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The acceptance above is the second pass's doing (should a later cryptography
    count pathLen as RFC 5280 does, this test says the pass can go)."""
    pki = _rollover(keys, more_keys, window)
    monkeypatch.setattr(self_issued_paths, "MAX_SELF_ISSUED", 0)
    checked = _validate(pki.chain, pki.root, now)
    assert not checked.result.trusted_root
    assert "self-issued" in checked.result.reasons["trustedRoot"]


def test_self_issued_certificate_signed_by_a_key_not_in_the_chain_is_refused(
    keys: dict[str, SigningKey],
    more_keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
) -> None:
    """RFC 5280 6.1.3(a)(1): the self-issued certificate's signature must verify
    with its issuer's key; a same-named CA key the chain does not hold proves nothing."""
    rogue = issue(
        CA_NAME,
        key=more_keys["rogue"],
        ca=True,
        not_before=window["nb"],
        not_after=window["na"],
    )
    pki = _rollover(keys, more_keys, window, new_signer=rogue)
    checked = _validate(pki.chain, pki.root, now)
    assert not checked.result.trusted_root
    assert not is_acceptable(checked.result, revocation_forced=False)
    assert "self-issued" in checked.result.reasons["trustedRoot"]


def test_path_length_exceeded_without_counting_the_self_issued_certificate_is_refused(
    keys: dict[str, SigningKey],
    more_keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
) -> None:
    """RFC 5280 6.1.4(l)/(m): the old CA allows 0 intermediates below it; the sub-CA
    is one (the self-issued certificate is not counted, the sub-CA is). Each segment
    alone passes cryptography: only the count across the split refuses."""
    pki = _rollover(keys, more_keys, window, old_len=0, new_len=5)
    checked = _validate(pki.chain, pki.root, now)
    assert not checked.result.trusted_root
    reason = checked.result.reasons["trustedRoot"]
    assert "pathLenConstraint" in reason and CA_NAME in reason


@pytest.mark.parametrize("permitted", ["other.test", HOST])
def test_name_constraints_above_the_split_refuse(
    keys: dict[str, SigningKey],
    more_keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
    permitted: str,
) -> None:
    """RFC 5280 6.1.3(b)/(c): the old CA's name constraints bind the leaf below the
    split. Violated (other.test) they must refuse; the search does not carry them
    across a split, so it refuses any path with them (satisfied ones too) and says so."""
    constraints = x509.NameConstraints([x509.DNSName(permitted)], None)
    pki = _rollover(keys, more_keys, window, old_extensions=((constraints, True),))
    checked = _validate(pki.chain, pki.root, now)
    assert not checked.result.trusted_root
    assert "name constraints" in checked.result.reasons["trustedRoot"]


def test_expired_self_issued_certificate_is_refused(
    keys: dict[str, SigningKey],
    more_keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
) -> None:
    """RFC 5280 6.1.3(a)(2): the self-issued certificate is valid at the time too."""
    pki = _rollover(keys, more_keys, window, new_not_after=now - dt.timedelta(hours=1))
    checked = _validate(pki.chain, pki.root, now)
    assert not is_acceptable(checked.result, revocation_forced=False)
    assert not checked.result.trusted_root
    assert checked.result.expired and CA_NAME in checked.result.reasons["expired"]


def test_revoked_self_issued_certificate_is_refused_under_forced_revocation(
    keys: dict[str, SigningKey],
    more_keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
) -> None:
    """RFC 5280 6.1.3(a)(3): the self-issued certificate's status comes from a CRL
    signed with the old key (same issuer name as the CRL signed with the new key,
    which covers the sub-CA): it is checked like every other intermediate."""
    pki = _rollover(keys, more_keys, window)
    good = [
        crl_der(pki.root, [], now),
        crl_der(pki.new, [], now),
        crl_der(pki.sub, [], now),
    ]
    crls = tuple(x509.load_der_x509_crl(d) for d in good)
    listed = x509.load_der_x509_crl(crl_der(pki.old, [pki.new.cert.serial_number], now))
    unlisted = x509.load_der_x509_crl(crl_der(pki.old, [], now))

    fine = _validate(
        pki.chain,
        pki.root,
        now,
        revocation=RevocationOptions(crls=(*crls, unlisted)),
        force_revocation_check=True,
    )
    assert is_acceptable(fine.result, revocation_forced=True), fine.result.reasons

    revoked = _validate(
        pki.chain,
        pki.root,
        now,
        revocation=RevocationOptions(crls=(*crls, listed)),
        force_revocation_check=True,
    )
    assert revoked.result.revoked and not is_acceptable(revoked.result, revocation_forced=True)
    assert CA_NAME in revoked.result.reasons["revoked"]


def test_self_signed_certificate_in_the_middle_is_refused(
    keys: dict[str, SigningKey],
    more_keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
) -> None:
    """RFC 5280 6.1.1(d): a trust anchor comes from the trust store. A self-signed
    certificate with the CA's name, sent by the server, is never a split point."""
    pki = _rollover(keys, more_keys, window, new_self_signed=True)
    checked = _validate(pki.chain, pki.root, now)
    assert not checked.result.trusted_root
    assert not is_acceptable(checked.result, revocation_forced=False)


def test_more_self_issued_certificates_than_the_bound_are_refused_with_the_bound(
    keys: dict[str, SigningKey],
    more_keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
) -> None:
    """RFC 4158 3.5: path building is bounded; an exceeded bound is a refusal with
    its reason."""
    pki = _rollover(keys, more_keys, window)
    extra = [
        issue(
            CA_NAME,
            key=more_keys["extra"],
            issuer=pki.old,
            ca=True,
            not_before=window["nb"],
            not_after=window["na"],
            serial=1000 + n,
        )
        for n in range(self_issued_paths.MAX_SELF_ISSUED)
    ]
    checked = _validate([*pki.chain, *extra], pki.root, now)
    assert not checked.result.trusted_root
    assert f"more than {self_issued_paths.MAX_SELF_ISSUED}" in checked.result.reasons["trustedRoot"]


def test_joined_path_rules_each_refuse(
    keys: dict[str, SigningKey],
    more_keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
) -> None:
    """The checks on the joined path one by one (each segment run already refuses
    these; the joined check must not depend on that)."""
    pki = _rollover(keys, more_keys, window)
    path = [pki.leaf.cert, pki.sub.cert, pki.new.cert, pki.old.cert, pki.root.cert]
    problems = self_issued_paths.joined_path_problems
    assert problems(path, [pki.new.cert], now, 8) == []
    # RFC 5280 6.1.3(a)(1): a broken link between the segments.
    assert any("signature" in p for p in problems([*path[:2], *path[3:]], [pki.old.cert], now, 8))
    # RFC 5280 6.1.3(a)(2): validity at the time.
    assert any(
        "not valid at" in p
        for p in problems(path, [pki.new.cert], window["na"] + dt.timedelta(1), 8)
    )
    # The depth bound over the whole path.
    assert any("over the limit" in p for p in problems(path, [pki.new.cert], now, 2))
    # RFC 5280 6.1.4(n): keyCertSign on the split point.
    no_sign = issue(
        CA_NAME,
        key=more_keys["new"],
        issuer=pki.old,
        ca=True,
        key_usage=x509.KeyUsage(True, False, False, False, False, False, True, False, False),
        not_before=window["nb"],
        not_after=window["na"],
    )
    assert any(
        "keyCertSign" in p
        for p in problems([*path[:2], no_sign.cert, *path[3:]], [no_sign.cert], now, 8)
    )


def test_live_connect_accepts_the_rollover_chain_the_server_sends(
    keys: dict[str, SigningKey],
    more_keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    tmp_path: Path,
) -> None:
    """The built-in runtime's client uses the same validator: a listener serving the
    rollover chain (leaf, sub-CA, self-issued CA, old CA) is accepted over real TLS
    on 127.0.0.1 with only the root as --ca-file."""
    pki = _rollover(keys, more_keys, window)
    leaf = issue(
        HOST,
        key=keys["leaf"],
        issuer=pki.sub,
        dns=[HOST],
        ips=["127.0.0.1"],
        not_before=window["nb"],
        not_after=window["na"],
    )
    store = tmp_path / "server.pem"
    key_pem = leaf.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    store.write_bytes(leaf.pem + key_pem + pki.sub.pem + pki.new.pem + pki.old.pem)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki.root.pem)
    token = tmp_path / "token.txt"
    token.write_text(TOKEN + "\n")
    with Listener("--once", "--cert-store", str(store), "--token-file", str(token)) as listener:
        port, _ = listener.ports()
        done = run_cli(
            "connect", "--runtime", "builtin", f"127.0.0.1:{port}", "--ca-file", str(ca),
            "--token-file", str(token), "--hold", "0.1",
        )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr

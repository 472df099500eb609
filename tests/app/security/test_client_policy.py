from __future__ import annotations

import base64
import threading
from pathlib import Path

import pytest

from app.security.acceptance import is_acceptable
from app.security.client_policy import (
    ClientPolicy,
    TofuQuestion,
    apply_policy,
    ask_with_timeout,
    decide,
)
from app.security.errors import PolicyError
from app.security.known_hosts import KnownHosts, load_known_hosts
from app.security.testpki import GeneratedPki
from app.security.thumbprints import colon_hex, parse_pin
from app.xr.validation_result import ValidationResult
from app.xr.values import CertificateNameValidationResult as Name

TRUSTED = ValidationResult(
    trusted_root=True, name_mismatch=Name.MATCH, reasons={"trustedRoot": "ok"}
)
UNTRUSTED_MISMATCH = ValidationResult(
    trusted_root=False,
    name_mismatch=Name.MISMATCH,
    reasons={"trustedRoot": "unknown CA", "nameMismatch": "host not in SANs"},
)


def test_pin_forms_all_parse_to_the_same_pin(pki: GeneratedPki) -> None:
    digest = bytes.fromhex(pki.sha256_thumbprint)
    forms = [
        pki.pin,
        pki.pin.upper().replace("SHA256:", "sha256:"),
        "SHA256:" + colon_hex(pki.sha256_thumbprint),
        "SHA256:" + base64.b64encode(digest).decode().rstrip("="),
        "SHA256:" + base64.urlsafe_b64encode(digest).decode(),
        pki.sha256_thumbprint,
    ]
    assert {parse_pin(f).digest for f in forms} == {digest}
    sha1 = parse_pin(pki.sha1_thumbprint.lower())
    assert sha1.algorithm == "sha1" and sha1.matches_der(pki.server.der)
    assert (
        parse_pin(" ".join(pki.sha1_thumbprint[i : i + 2] for i in range(0, 40, 2))).algorithm
        == "sha1"
    )


@pytest.mark.parametrize("bad", ["", "SHA256:zz", "SHA1:" + "ab" * 32, "abc"])
def test_bad_pins_are_refused(bad: str) -> None:
    with pytest.raises(PolicyError, match="not a SHA-256 or SHA-1 thumbprint"):
        parse_pin(bad)


def test_pin_match_overrides_chain_and_name(pki: GeneratedPki) -> None:
    policy = ClientPolicy(pins=(parse_pin(pki.pin),))
    result = apply_policy(UNTRUSTED_MISMATCH, [pki.server.der], "10.0.0.9", 8265, policy).result
    assert result.trusted_root and result.name_mismatch == Name.NOT_CHECKED
    assert is_acceptable(result, revocation_forced=False)


def test_pin_mismatch_refuses_even_a_trusted_chain(pki: GeneratedPki) -> None:
    policy = ClientPolicy(pins=(parse_pin("SHA256:" + "00" * 32),))
    result = apply_policy(TRUSTED, [pki.server.der], "server.test", 8265, policy).result
    assert (
        not result.trusted_root and "matches none of the 1 pinned" in result.reasons["trustedRoot"]
    )


def test_pin_keeps_expiry(pki: GeneratedPki) -> None:
    expired = TRUSTED.with_changes(expired=True)
    result = apply_policy(
        expired, [pki.server.der], "h", 1, ClientPolicy(pins=(parse_pin(pki.pin),))
    ).result
    assert not is_acceptable(result, revocation_forced=False)


@pytest.mark.parametrize(
    "options",
    [
        {"pins": (parse_pin("SHA256:" + "ab" * 32),), "known_hosts": Path("k")},
        {"pins": (parse_pin("SHA256:" + "ab" * 32),), "allow_unverified_chain": True},
        {"known_hosts": Path("k"), "allow_name_mismatch": True},
    ],
)
def test_contradictory_policies_are_refused_when_built(options: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        ClientPolicy(**options)  # type: ignore[arg-type]


def test_escape_hatches_mark_warnings() -> None:
    policy = ClientPolicy(allow_name_mismatch=True, allow_unverified_chain=True)
    result = apply_policy(UNTRUSTED_MISMATCH, [b"\x30\x00"], "h", 1, policy).result
    assert result.trusted_root and result.name_mismatch == Name.NOT_CHECKED
    assert len(result.warnings) == 2 and "unknown CA" in result.warnings[1]
    assert is_acceptable(result, revocation_forced=False)


def test_default_policy_is_the_system_verdict(pki: GeneratedPki) -> None:
    decision = apply_policy(UNTRUSTED_MISMATCH, [pki.server.der], "h", 1, ClientPolicy())
    assert decision.result == UNTRUSTED_MISMATCH and not decision.result.warnings


def test_tofu_first_use_asks_then_remembers(pki: GeneratedPki, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    policy = ClientPolicy(known_hosts=known)
    asked: list[TofuQuestion] = []

    def accept(question: TofuQuestion) -> bool:
        asked.append(question)
        return True

    decision = decide(
        UNTRUSTED_MISMATCH,
        [pki.server.der],
        "Server.Test",
        8265,
        policy,
        known_hosts=load_known_hosts(known),
        ask=accept,
        ask_timeout=5,
    )
    assert asked[0].endpoint == "server.test:8265" and asked[0].sha256 == pki.sha256_thumbprint
    assert decision.result.trusted_root and decision.known_hosts is not None
    decision.known_hosts.save(known)
    again = apply_policy(
        UNTRUSTED_MISMATCH,
        [pki.server.der],
        "server.test",
        8265,
        policy,
        known_hosts=load_known_hosts(known),
    )
    assert again.result.trusted_root and again.question is None


def test_tofu_changed_key_is_refused_without_asking(pki: GeneratedPki, tmp_path: Path) -> None:
    memory = KnownHosts().with_entry("server.test:8265", "ab" * 32)
    policy = ClientPolicy(known_hosts=tmp_path / "kh")
    decision = decide(
        TRUSTED,
        [pki.server.der],
        "server.test",
        8265,
        policy,
        known_hosts=memory,
        ask=lambda q: pytest.fail("must not ask"),
    )
    reason = decision.result.reasons["trustedRoot"]
    assert (
        not decision.result.trusted_root and "CHANGED" in reason and str(tmp_path / "kh") in reason
    )


def test_tofu_refusal_and_timeout_refuse(pki: GeneratedPki, tmp_path: Path) -> None:
    policy = ClientPolicy(known_hosts=tmp_path / "kh")
    refused = decide(TRUSTED, [pki.server.der], "s.test", 1, policy, ask=lambda q: False)
    assert not refused.result.trusted_root and refused.known_hosts is None
    release = threading.Event()
    try:
        late = decide(
            TRUSTED,
            [pki.server.der],
            "s.test",
            1,
            policy,
            ask=lambda q: release.wait(10),
            ask_timeout=0.1,
        )
    finally:
        release.set()
    assert not late.result.trusted_root


def test_ask_exception_is_a_refusal() -> None:
    def broken(question: TofuQuestion) -> bool:
        raise RuntimeError("dialog crashed")

    question = TofuQuestion("h:1", "00", "00", TRUSTED)
    assert ask_with_timeout(broken, question, 5) is False


def test_known_hosts_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "kh"
    bad.write_text("server.test:8265 not-a-digest\n")
    from app.security.errors import CertificateFileError

    with pytest.raises(CertificateFileError, match="line 1 is not 'host:port sha256-hex'"):
        load_known_hosts(bad)

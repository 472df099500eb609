"""Client policies on top of system validation, as the Microsoft docs recommend:
name + chain of trust (the default), a pinned thumbprint, trust on first use, and
the sample's two escape hatches (allow name mismatch, allow unverified chain).

`ClientPolicy` is immutable and refuses contradictory settings when built (pyca
style). `apply_policy` is a pure function from (system verdict, chain, endpoint,
policy, known hosts) to the effective verdict that the ValidateServerCertificate
callback writes to `validationResultOut`; every escape hatch that changes a failed
field leaves a warning in the verdict. The one impure step, asking a person on
first use, is a callable handed in (`ask_with_timeout` runs it in a worker thread
and treats a timeout as "refuse").
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.security.errors import PolicyError
from app.security.known_hosts import KnownHosts, endpoint_key
from app.security.thumbprints import Pin, der_sha1, der_sha256, parse_pin
from app.xr.validation_result import ValidationResult
from app.xr.values import CertificateNameValidationResult as NameResult

# A person needs time to read a thumbprint and decide; past this we refuse (fail
# closed) rather than hold the connection attempt open indefinitely.
DEFAULT_ASK_TIMEOUT_SECONDS = 45.0


@dataclass(frozen=True)
class TofuQuestion:
    """What the person is asked on first use (or never, for a changed key)."""

    endpoint: str
    sha256: str
    sha1: str
    system_result: ValidationResult
    # The chain the server presented (DER, leaf first), so the dialog can show it.
    chain: tuple[bytes, ...] = field(default=(), repr=False)


AskUser = Callable[[TofuQuestion], bool]


@dataclass(frozen=True)
class ClientPolicy:
    """How the client decides. Default: name + chain of trust.

    pins: accept exactly these certificates (SHA-256 or SHA-1 thumbprints), whatever
        the chain and the name; for servers not reached by a stable name.
    known_hosts: trust on first use, remembered in this file.
    allow_name_mismatch / allow_unverified_chain: the sample's escape hatches.
    """

    pins: tuple[Pin, ...] = ()
    known_hosts: Path | None = None
    allow_name_mismatch: bool = False
    allow_unverified_chain: bool = False

    def __post_init__(self) -> None:
        if self.pins and self.known_hosts is not None:
            raise PolicyError(
                "a pin and trust on first use were both given",
                fix="use --pin when the thumbprint is known in advance, --known-hosts otherwise",
            )
        identity = "a pin" if self.pins else "trust on first use" if self.known_hosts else None
        if identity and self.allow_unverified_chain:
            raise PolicyError(
                f"--allow-unverified-chain together with {identity}",
                fix=f"drop --allow-unverified-chain: {identity} already decides "
                "which certificate is trusted",
            )
        if identity and self.allow_name_mismatch:
            raise PolicyError(
                f"--allow-name-mismatch together with {identity}",
                fix=f"drop --allow-name-mismatch: with {identity} the host name is not used",
            )

    @classmethod
    def from_pin_texts(cls, pins: Sequence[str], **options: bool) -> ClientPolicy:
        return cls(pins=tuple(parse_pin(p) for p in pins), **options)  # type: ignore[arg-type]

    @property
    def mode(self) -> str:
        if self.pins:
            return "pin"
        if self.known_hosts is not None:
            return "tofu"
        return "chain"


@dataclass(frozen=True)
class PolicyDecision:
    """The effective verdict, and the updated known hosts when TOFU learned a key
    (the caller saves it; this module writes no files)."""

    result: ValidationResult
    known_hosts: KnownHosts | None = None
    question: TofuQuestion | None = field(default=None)


def _identity_verdict(system: ValidationResult, why: str) -> ValidationResult:
    """The certificate itself is trusted (pinned or remembered): the chain and the
    name no longer matter, dates, usage, revocation and well-formedness still do."""
    name = system.name_mismatch
    reasons = dict(system.reasons)
    reasons["trustedRoot"] = why
    if name == NameResult.MISMATCH:
        name = NameResult.NOT_CHECKED
        reasons["nameMismatch"] = f"not checked: {why}"
    return system.with_changes(trusted_root=True, name_mismatch=name, reasons=reasons)


def _untrusted(system: ValidationResult, why: str) -> ValidationResult:
    return system.with_changes(trusted_root=False, reasons={**system.reasons, "trustedRoot": why})


def apply_policy(
    system: ValidationResult,
    chain_der: Sequence[bytes],
    host: str,
    port: int,
    policy: ClientPolicy,
    *,
    known_hosts: KnownHosts | None = None,
    user_accepts: bool | None = None,
) -> PolicyDecision:
    """The effective verdict for `validationResultOut`.

    For TOFU with an unknown endpoint, call once with `user_accepts=None`: the
    decision carries the `question` to ask; call again with the answer (or use
    `decide`, which asks through a callable)."""
    if not chain_der:
        return PolicyDecision(_untrusted(system, "no certificate was presented"))
    leaf = bytes(chain_der[0])
    sha256, sha1 = der_sha256(leaf), der_sha1(leaf)
    if policy.pins:
        for pin in policy.pins:
            if pin.matches_der(leaf):
                return PolicyDecision(
                    _identity_verdict(system, f"the certificate matches the pin {pin}")
                )
        return PolicyDecision(
            _untrusted(
                system,
                f"the server certificate (SHA-256 {sha256}, SHA-1 {sha1}) matches none of the "
                f"{len(policy.pins)} pinned thumbprint(s)",
            )
        )
    if policy.known_hosts is not None:
        memory = known_hosts or KnownHosts()
        endpoint = endpoint_key(host, port)
        remembered = memory.get(endpoint)
        if remembered == sha256:
            return PolicyDecision(
                _identity_verdict(system, f"the certificate is the one remembered for {endpoint}")
            )
        if remembered is not None:
            return PolicyDecision(
                _untrusted(
                    system,
                    f"the certificate of {endpoint} CHANGED since it was first trusted "
                    f"(remembered SHA-256 {remembered}, presented {sha256}); this may be an "
                    f"attack. If the server's certificate was replaced on purpose, delete the "
                    f"line for {endpoint} from {policy.known_hosts}",
                )
            )
        question = TofuQuestion(endpoint, sha256, sha1, system, tuple(map(bytes, chain_der)))
        if user_accepts is None:
            return PolicyDecision(
                _untrusted(system, f"first connection to {endpoint}: waiting for a decision"),
                question=question,
            )
        if not user_accepts:
            return PolicyDecision(
                _untrusted(
                    system, f"first connection to {endpoint}: the certificate was not accepted"
                )
            )
        return PolicyDecision(
            _identity_verdict(system, f"trusted on first use for {endpoint} (SHA-256 {sha256})"),
            known_hosts=memory.with_entry(endpoint, sha256),
        )
    result = system
    warnings = list(system.warnings)
    if policy.allow_name_mismatch and result.name_mismatch == NameResult.MISMATCH:
        warnings.append(
            "name mismatch allowed by --allow-name-mismatch: "
            + system.reasons.get("nameMismatch", "the host is not among the certificate's names")
        )
        result = result.with_changes(
            name_mismatch=NameResult.NOT_CHECKED,
            reasons={
                **result.reasons,
                "nameMismatch": "not checked: allowed by --allow-name-mismatch",
            },
        )
    if policy.allow_unverified_chain and not result.trusted_root:
        warnings.append(
            "unverified chain allowed by --allow-unverified-chain: "
            + system.reasons.get("trustedRoot", "no path to a trusted root")
        )
        result = result.with_changes(
            trusted_root=True,
            reasons={
                **result.reasons,
                "trustedRoot": "not verified: allowed by --allow-unverified-chain",
            },
        )
    return PolicyDecision(result.with_changes(warnings=tuple(warnings)))


def ask_with_timeout(ask: AskUser, question: TofuQuestion, timeout: float) -> bool:
    """Run `ask` in a worker thread; a timeout or an exception counts as "refuse".

    The worker is not waited for after a timeout (a dialog may still be open); its
    late answer is ignored."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="tofu-ask")
    try:
        future = pool.submit(ask, question)
        return future.result(timeout=timeout) is True
    except Exception:  # noqa: BLE001 - any failure to get a yes is a no
        return False
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def decide(
    system: ValidationResult,
    chain_der: Sequence[bytes],
    host: str,
    port: int,
    policy: ClientPolicy,
    *,
    known_hosts: KnownHosts | None = None,
    ask: AskUser | None = None,
    ask_timeout: float = DEFAULT_ASK_TIMEOUT_SECONDS,
    trust_on_first_use: bool = True,
) -> PolicyDecision:
    """`apply_policy`, deciding a first use (an endpoint not in the known-hosts file):
    refused when `trust_on_first_use` is off; else `ask` is asked (in a worker
    thread, bounded by `ask_timeout`; no answer is no), and without `ask` the setting
    itself is the answer given in advance (the command line cannot ask). An accepted
    first use carries a warning saying what was learned and where it was saved."""
    decision = apply_policy(system, chain_der, host, port, policy, known_hosts=known_hosts)
    question = decision.question
    if question is None:
        return decision
    if not trust_on_first_use:
        refused = apply_policy(
            system, chain_der, host, port, policy, known_hosts=known_hosts, user_accepts=False
        )
        reason = (
            f"first connection to {question.endpoint}: it is not in the known-hosts file "
            f"{policy.known_hosts}, and trust on first use is off"
        )
        return PolicyDecision(
            refused.result.with_changes(reasons={**refused.result.reasons, "trustedRoot": reason})
        )
    answer = ask_with_timeout(ask, question, ask_timeout) if ask is not None else True
    decision = apply_policy(
        system, chain_der, host, port, policy, known_hosts=known_hosts, user_accepts=answer
    )
    if not answer:
        return decision
    note = (
        f"trusted on first use: learned the certificate of {question.endpoint} "
        f"(SHA256:{question.sha256}) and saved it to {policy.known_hosts}; later "
        "connections must present it"
    )
    return PolicyDecision(
        decision.result.with_changes(warnings=(*decision.result.warnings, note)),
        known_hosts=decision.known_hosts,
    )

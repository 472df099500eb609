"""Validate a chain held in a file exactly as the client would: system validation
(against a CA file or the OS store, with revocation from CRL files or online),
then the client policy.

The core of `holoremote verify` and of the window's Tools > Verify a chain; the
front ends only read their inputs and show the outcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.security.acceptance import is_acceptable
from app.security.certstore import load_certificate_store, read_bounded_file
from app.security.client_policy import ClientPolicy, PolicyDecision, apply_policy
from app.security.known_hosts import DEFAULT_REMOTING_PORT, KnownHosts
from app.security.revocation import RevocationOptions
from app.security.revocation_fetch import live_revocation_options
from app.security.system_validation import ChainValidation, validate_server_chain
from app.security.trust import anchors_from_file, system_anchors
from app.xr.validation_result import ValidationResult

# A chain file is what a server would present: more certificates than the validator
# takes (`MAX_PRESENTED_CERTIFICATES`) are its refusal, with the bound as reason, not
# unreadable input. This only bounds parsing (the file is at most 1 MiB anyway).
MAX_CHAIN_FILE_CERTIFICATES = 1024


@dataclass(frozen=True)
class ChainFileCheck:
    """The chain as read (leaf first), the system validation and the policy's
    decision on top of it."""

    certificates: tuple[x509.Certificate, ...]
    validation: ChainValidation
    decision: PolicyDecision
    revocation_forced: bool = False

    @property
    def chain_der(self) -> tuple[bytes, ...]:
        return tuple(c.public_bytes(serialization.Encoding.DER) for c in self.certificates)

    @property
    def result(self) -> ValidationResult:
        """The effective verdict (what `validationResultOut` would say)."""
        return self.decision.result

    @property
    def accepted(self) -> bool:
        return is_acceptable(self.result, revocation_forced=self.revocation_forced)

    @property
    def failed(self) -> list[str]:
        return self.result.failed_fields(revocation_forced=self.revocation_forced)


def revocation_options(
    crl_files: Sequence[str] = (),
    *,
    check_ocsp: bool = False,
    fetch_crls: bool = False,
    online: bool = False,
) -> RevocationOptions:
    """CRLs from files (DER or PEM), and whether OCSP responders and CRL distribution
    points are asked; the network is used only when one of them or `online` says so."""
    base = live_revocation_options(crl_files, forced=check_ocsp or fetch_crls or online)
    return RevocationOptions(
        crls=base.crls, check_ocsp=check_ocsp, fetch_crls=fetch_crls, fetcher=base.fetcher
    )


def verify_chain_file(
    path: str,
    host: str,
    *,
    ca_file: str | None = None,
    passphrase: str | None = None,
    at: dt.datetime | None = None,
    revocation: RevocationOptions | None = None,
    force_revocation_check: bool = False,
    policy: ClientPolicy | None = None,
    port: int = DEFAULT_REMOTING_PORT,
    known_hosts: KnownHosts | None = None,
    user_accepts: bool | None = None,
) -> ChainFileCheck:
    """Read the chain in `path` (PEM, DER or a .pfx opened with `passphrase`), leaf
    first, and validate it for `host` at `at` (default now) against `ca_file` or the
    OS store, then apply `policy` (default: name + chain of trust) for `host:port`
    with the remembered `known_hosts` and the TOFU answer `user_accepts`.

    Raises the security module's `InputError`s for unreadable inputs (naming the file
    and the fix); a chain that fails validation is a result, not an error."""
    data = read_bounded_file(path, what="chain file")
    store = load_certificate_store(
        data, passphrase, source=path, now=at, max_certificates=MAX_CHAIN_FILE_CERTIFICATES
    )
    anchors = anchors_from_file(ca_file) if ca_file else system_anchors()
    certificates = tuple(store.certificates)
    chain = [c.public_bytes(serialization.Encoding.DER) for c in certificates]
    validation = validate_server_chain(
        chain,
        host,
        anchors=anchors,
        at=at,
        revocation=revocation,
        force_revocation_check=force_revocation_check,
    )
    decision = apply_policy(
        validation.result,
        chain,
        host,
        port,
        policy or ClientPolicy(),
        known_hosts=known_hosts,
        user_accepts=user_accepts,
    )
    return ChainFileCheck(certificates, validation, decision, force_revocation_check)

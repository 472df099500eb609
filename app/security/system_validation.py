"""System validation: a presented chain, a host and a trust source in; the seven
fields of `XrRemotingCertificateValidationResultMSFT` out, each with its reason.

How each field is found (the verifier stops at the first problem, the verdict may
not):
- Chain building and every signature check are cryptography's
  (`x509.verification`). It runs twice: once strictly (WebPKI policy, the real time,
  the real host), and, if that fails, once relaxed (any EKU, no host, a time inside
  the certificates' validity) purely to learn whether *a path to a trusted root
  exists*; that answers `trustedRoot` on its own.
- `expired`, `wrongUsage`, `nameMismatch` and the CA/B rules are checked here, on
  the path found (or on the presented chain when none was found), so each has its
  own reason.
- Revocation comes from `revocation.check_revocation`.
- Fail closed: if the strict verifier refused a chain and none of our fields explains
  why, the refusal is recorded under the field its message names, else under
  `invalidCertOrChain`. A chain the strict verifier refuses is never acceptable.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from app.security.acceptance import is_acceptable
from app.security.cabf_rules import (
    LazyDescription,
    certificate_problems,
    describe,
    find_extension,
    wildcard_constraint_problems,
)
from app.security.certstore import order_chain
from app.security.hostnames import match_host, parse_host
from app.security.revocation import RevocationOptions, check_revocation
from app.security.self_issued_paths import SplitPath, find_split_path
from app.security.trust import TrustAnchors
from app.security.verifier_messages import GENERAL, classify
from app.xr.validation_result import ValidationResult
from app.xr.values import CertificateNameValidationResult as NameResult

# RFC 5280 puts no bound on chain length; real server chains have 2-4 certificates,
# but a server in a bridged or cross-signed PKI (RFC 4158 2.4) may send every
# cross-certificate it has, and the client picks the path: 30 or so is seen there.
# The input list is capped at 64 (OpenSSL's default verify depth is 100; Chrome
# bounds only the TLS message), and cryptography's path search at a depth of 8 and
# its own signature-check budget, so a peer cannot make us build paths through
# hundreds of certificates.
MAX_PRESENTED_CERTIFICATES = 64
MAX_CHAIN_DEPTH = 8


@dataclass(frozen=True)
class ChainValidation:
    """The verdict plus what it was computed on, for display."""

    result: ValidationResult
    path: tuple[x509.Certificate, ...]
    trust_source: str
    notes: tuple[str, ...] = field(default=())


# What cryptography raises for extensions it cannot accept: bad DER, a duplicate
# extension (RFC 5280 4.2), values outside what the type allows (a '*' in a DNS name
# constraint, an IP constraint that is not a network, an AKI with only one of
# issuer/serial, empty name-constraint subtrees).
_BAD_EXTENSIONS = (ValueError, TypeError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)


def extensions_problem(cert: x509.Certificate) -> str | None:
    """Why the certificate's extensions cannot be read, or None if they can."""
    with warnings.catch_warnings():
        # OS bundles carry roots with serial 0 (see trust.parse_pem_bundle); reading
        # them is not something the user can act on.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            _ = list(cert.extensions)
        except _BAD_EXTENSIONS as exc:
            return f"'{describe(cert)}' has a malformed extension ({exc})"
    return None


def _parse_chain(chain_der: Sequence[bytes]) -> tuple[list[x509.Certificate], list[str]]:
    """The certificates that can be used, and why the others cannot. A leaf that
    cannot be read ends the list (nothing can be checked); an unreadable
    intermediate is left out of path building and reported."""
    certs: list[x509.Certificate] = []
    problems: list[str] = []
    for index, der in enumerate(chain_der):
        try:
            cert = x509.load_der_x509_certificate(bytes(der))
        except ValueError as exc:
            problems.append(f"certificate {index} of the chain is not valid DER X.509 ({exc})")
            if index == 0:
                break
            continue
        problem = extensions_problem(cert)
        if problem:
            problems.append(problem)
            if index == 0:
                break
            continue
        certs.append(cert)
    return certs, problems


def _relaxed_time(certs: Sequence[x509.Certificate], at: dt.datetime) -> dt.datetime:
    """`at`, moved into the window where all `certs` are valid (if there is one), so
    that the relaxed run answers "is there a path" regardless of dates."""
    lo = max(c.not_valid_before_utc for c in certs)
    hi = min(c.not_valid_after_utc for c in certs)
    if lo > hi:
        return at
    return min(max(at, lo), hi)


def _no_common_window(certs: Sequence[x509.Certificate]) -> bool:
    return max(c.not_valid_before_utc for c in certs) > min(c.not_valid_after_utc for c in certs)


def _signature_path(
    leaf: x509.Certificate, rest: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate]
) -> list[x509.Certificate] | None:
    """When the certificates were never valid at one common moment, the verifier
    cannot be asked "is there a path" at any time; follow issuer names and
    cryptography's signature checks instead. Used only for `trustedRoot`: the same
    chain is then refused as expired anyway."""
    path = order_chain(leaf, [*rest, *anchors])
    if path[-1] in anchors:
        return path
    return None


@functools.cache
def _strict_ca_policy() -> verification.ExtensionPolicy:
    """cryptography's WebPKI CA policy, with keyUsage allowed to be absent: RFC 5280
    6.1.1(d) takes from a trust anchor only its name and key, and 6.3.3(f) lets a
    CRL issuer without keyUsage sign CRLs. keyUsage on a CA *below* the anchor is
    still required (`cabf_rules.ca_key_usage_problems`), and where present must
    allow keyCertSign (`_usage_problems`)."""
    return verification.ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.KeyUsage, verification.Criticality.AGNOSTIC, None
    )


@functools.cache
def _strict_ee_policy() -> verification.ExtensionPolicy:
    return verification.ExtensionPolicy.webpki_defaults_ee()


@functools.cache
def _relaxed_ca_policy() -> verification.ExtensionPolicy:
    return verification.ExtensionPolicy.permit_all().require_present(
        x509.BasicConstraints, verification.Criticality.AGNOSTIC, None
    )


def _subject(host: str) -> verification.Subject | None:
    try:
        parsed = parse_host(host)
    except ValueError:
        return None
    if isinstance(parsed, str):
        return x509.DNSName(parsed)
    return x509.IPAddress(parsed)


def _strict_path(
    leaf: x509.Certificate,
    rest: list[x509.Certificate],
    store: verification.Store,
    host: str,
    at: dt.datetime,
) -> tuple[list[x509.Certificate] | None, str]:
    subject = _subject(host)
    if subject is None:
        return None, f"'{host}' is not a host name or IP address"
    try:
        verifier = (
            verification.PolicyBuilder()
            .store(store)
            .time(at)
            .max_chain_depth(MAX_CHAIN_DEPTH)
            .extension_policies(
                ca_policy=_strict_ca_policy(),
                ee_policy=_strict_ee_policy(),
            )
            .build_server_verifier(subject)
        )
        return verifier.verify(leaf, rest), ""
    except (verification.VerificationError, ValueError) as exc:
        return None, str(exc)


def _split_path(
    presented: list[x509.Certificate],
    anchors: TrustAnchors,
    store: verification.Store,
    host: str,
    at: dt.datetime,
) -> SplitPath:
    """cryptography counts a self-issued certificate toward pathLenConstraint,
    RFC 5280 4.2.1.9 does not: the bounded second pass of `self_issued_paths`,
    every segment under the strict policies above."""
    subject = _subject(host)
    if subject is None:
        return SplitPath(None)
    return find_split_path(
        presented,
        anchors=anchors.certificates,
        extra_intermediates=anchors.intermediates,
        store=store,
        subject=subject,
        at=at,
        max_depth=MAX_CHAIN_DEPTH,
        ca_policy=_strict_ca_policy(),
    )


def _relaxed_path(
    leaf: x509.Certificate,
    rest: list[x509.Certificate],
    store: verification.Store,
    at: dt.datetime,
) -> tuple[list[x509.Certificate] | None, str]:
    try:
        verifier = (
            verification.PolicyBuilder()
            .store(store)
            .time(at)
            .max_chain_depth(MAX_CHAIN_DEPTH)
            .extension_policies(
                ca_policy=_relaxed_ca_policy(),
                ee_policy=verification.ExtensionPolicy.permit_all(),
            )
            .build_client_verifier()
        )
        return verifier.verify(leaf, rest).chain, ""
    except (verification.VerificationError, ValueError) as exc:
        return None, str(exc)


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _signature_problems(
    presented: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate]
) -> list[str]:
    """A certificate whose named issuer is at hand but whose signature does not
    verify with that issuer's key was altered or forged."""
    pool = [*presented, *anchors]
    problems = []
    for cert in presented:
        if cert.issuer == cert.subject and cert in anchors:
            continue
        candidates = [c for c in pool if c.subject == cert.issuer]
        if candidates and not any(_issued_by(cert, c) for c in candidates):
            problems.append(
                f"the signature on '{describe(cert)}' does not verify with the key of its "
                f"issuer '{describe(candidates[0])}'"
            )
    return problems


def _untrusted_reason(
    presented: Sequence[x509.Certificate], anchors: TrustAnchors, verifier_message: str
) -> str:
    ordered = order_chain(presented[0], presented[1:])
    top = ordered[-1]
    known = {a.subject for a in anchors.certificates}
    if top.issuer == top.subject:
        why = f"the chain ends at root '{describe(top)}', which is not in the {anchors.description}"
    elif top.issuer in known:
        why = f"'{describe(top)}' names a trusted issuer, but no valid path to it could be built"
    else:
        why = (
            f"'{describe(top)}' was issued by '{top.issuer.rfc4514_string()}', which is neither "
            f"in the presented chain nor in the {anchors.description} (a missing intermediate, "
            "or an unknown CA)"
        )
    refusal = classify(verifier_message) if verifier_message else GENERAL
    if refusal is not GENERAL and refusal.field == "trustedRoot":
        return f"{why} ({refusal.reason})"
    return why


def _expiry(path: Sequence[x509.Certificate], at: dt.datetime) -> list[str]:
    problems = []
    for cert in path:
        if at > cert.not_valid_after_utc:
            problems.append(f"'{describe(cert)}' expired on {cert.not_valid_after_utc.isoformat()}")
        elif at < cert.not_valid_before_utc:
            problems.append(
                f"'{describe(cert)}' is not valid before {cert.not_valid_before_utc.isoformat()}"
            )
    return problems


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return find_extension(cert, kind)
    except ValueError:
        return None


def _usage_problems(path: Sequence[x509.Certificate]) -> list[str]:
    """serverAuth in the leaf's EKU (present, not anyExtendedKeyUsage), the leaf not
    a CA, a TLS-capable key usage; every issuer a CA allowed to sign certificates
    and, if it restricts EKUs, allowing serverAuth; a self-signed root with no EKU
    at all."""
    problems: list[str] = []
    leaf = path[0]
    # Labels are built only for a message: reading a subject name is most of the
    # cost of these checks when nothing is wrong.
    label = LazyDescription(leaf)
    eku = _ext(leaf, x509.ExtendedKeyUsage)
    if not isinstance(eku, x509.ExtendedKeyUsage):
        problems.append(f"'{label}' has no extended key usage; serverAuth is required")
    elif ExtendedKeyUsageOID.SERVER_AUTH not in eku:
        names = ", ".join(getattr(o, "_name", o.dotted_string) for o in eku) or "none"
        problems.append(
            f"'{label}' is not allowed for TLS servers (EKU: {names}; serverAuth is required)"
        )
    elif ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku:
        problems.append(
            f"'{label}' lists anyExtendedKeyUsage, which a server certificate must not "
            "(CA/B BR 7.1.2.7.10)"
        )
    bc = _ext(leaf, x509.BasicConstraints)
    if isinstance(bc, x509.BasicConstraints) and bc.ca:
        problems.append(f"'{label}' is a CA certificate and cannot be a server certificate")
    ku = _ext(leaf, x509.KeyUsage)
    if isinstance(ku, x509.KeyUsage):
        if ku.key_cert_sign:
            problems.append(f"'{label}' has keyCertSign, which a server certificate must not have")
        if not (ku.digital_signature or ku.key_encipherment or ku.key_agreement):
            problems.append(f"'{label}' key usage allows no TLS key exchange or signature")
    root = path[-1]
    # (The EKU test first: comparing names builds both, and roots rarely carry an EKU.)
    if len(path) > 1 and _ext(root, x509.ExtendedKeyUsage) and root.issuer == root.subject:
        problems.append(
            f"root '{describe(root)}' carries an extendedKeyUsage extension, which a root "
            "must not (CA/B BR 7.1.2.1.2)"
        )
    for issuer in path[1:]:
        name = LazyDescription(issuer)
        bc = _ext(issuer, x509.BasicConstraints)
        if not (isinstance(bc, x509.BasicConstraints) and bc.ca):
            problems.append(f"issuer '{name}' is not a CA (basicConstraints cA is not set)")
        ku = _ext(issuer, x509.KeyUsage)
        if isinstance(ku, x509.KeyUsage) and not ku.key_cert_sign:
            problems.append(f"issuer '{name}' is not allowed to sign certificates (no keyCertSign)")
        eku = _ext(issuer, x509.ExtendedKeyUsage)
        if isinstance(eku, x509.ExtendedKeyUsage) and not (
            ExtendedKeyUsageOID.SERVER_AUTH in eku
            or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku
        ):
            problems.append(f"issuer '{name}' restricts its EKU and does not allow serverAuth")
    return problems


def _join(problems: Sequence[str], ok: str) -> str:
    return "; ".join(problems) if problems else ok


def validate_server_chain(
    chain_der: Sequence[bytes],
    host: str,
    *,
    anchors: TrustAnchors,
    at: dt.datetime | None = None,
    revocation: RevocationOptions | None = None,
    force_revocation_check: bool = False,
) -> ChainValidation:
    """Validate a chain (DER, leaf first, as the TLS layer hands it over) for `host`
    (DNS name or IP) against `anchors` at `at` (default: now)."""
    # Validity is encoded in whole seconds (RFC 5280 4.1.2.5): compare at that
    # granularity, so 00:00:00.005 is still inside a notAfter of 00:00:00.
    moment = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    options = revocation or RevocationOptions()
    reasons: dict[str, str] = {}
    if not chain_der:
        reasons = dict.fromkeys(
            (
                "trustedRoot",
                "revoked",
                "expired",
                "wrongUsage",
                "nameMismatch",
                "revocationCheckFailed",
            ),
            "not checked: no certificate was presented",
        )
        reasons["invalidCertOrChain"] = "no certificate was presented"
        result = ValidationResult(invalid_cert_or_chain=True, reasons=reasons)
        return ChainValidation(result, (), anchors.description)
    if len(chain_der) > MAX_PRESENTED_CERTIFICATES:
        return _overlong_chain(len(chain_der), anchors, force_revocation_check)
    presented, invalid = _parse_chain(chain_der)
    if not presented:
        not_checked = "not checked: the server certificate could not be parsed"
        reasons = dict.fromkeys(
            (
                "trustedRoot",
                "revoked",
                "expired",
                "wrongUsage",
                "nameMismatch",
                "revocationCheckFailed",
            ),
            not_checked,
        )
        reasons["invalidCertOrChain"] = "; ".join(invalid)
        result = ValidationResult(
            invalid_cert_or_chain=True,
            revocation_check_failed=force_revocation_check,
            reasons=reasons,
        )
        return ChainValidation(result, (), anchors.description)

    usable, unusable, store, names = _usable_anchors(anchors)
    if usable is None or store is None:
        return _no_usable_anchor(anchors, list(unusable), invalid, force_revocation_check)
    anchors = usable
    leaf, rest = presented[0], [*presented[1:], *anchors.intermediates]
    strict, strict_error = _strict_path(leaf, rest, store, host, moment)
    split = SplitPath(None)
    if strict is None:
        split = _split_path(presented, anchors, store, host, moment)
        if split.path is not None:
            strict = list(split.path)
    path: list[x509.Certificate] | None
    if strict is not None:
        path, relaxed_error = strict, ""
    else:
        relevant = [
            *presented,
            *(a for a in anchors.certificates if any(a.subject == c.issuer for c in presented)),
        ]
        path, relaxed_error = _relaxed_path(leaf, rest, store, _relaxed_time(relevant, moment))
        if path is None and _no_common_window(relevant):
            path = _signature_path(leaf, rest, anchors.certificates)
    trusted = path is not None
    if path is not None:
        root_name = names.get(id(path[-1])) or describe(path[-1])
        reasons["trustedRoot"] = f"chains to '{root_name}' from the {anchors.description}"
        eval_path = list(path)
        outside = wildcard_constraint_problems(eval_path)
        if outside:
            # A name-constraint violation: the CA does not vouch for this leaf.
            trusted = False
            reasons["trustedRoot"] = "; ".join(outside)
    else:
        reasons["trustedRoot"] = split.reason or _untrusted_reason(
            presented, anchors, relaxed_error
        )
        eval_path = order_chain(leaf, rest)
        top = eval_path[-1]
        anchor = next(
            (a for a in anchors.certificates if a.subject == top.issuer and _issued_by(top, a)),
            None,
        )
        if anchor is not None and top.issuer != top.subject:
            eval_path.append(anchor)

    expired = _expiry(eval_path, moment)
    reasons["expired"] = _join(
        expired, f"every certificate on the path is valid at {moment.isoformat()}"
    )
    usage = _usage_problems(eval_path)
    reasons["wrongUsage"] = _join(usage, "the leaf allows serverAuth and every issuer is a CA")
    name = match_host(leaf, host)
    reasons["nameMismatch"] = name.reason
    if not trusted:
        # With a path found, cryptography checked every signature on it; certificates
        # the server sent but the path does not use (stale cross-signs, other roots)
        # are ignored, as browsers ignore them.
        invalid += _signature_problems(eval_path, anchors.certificates)
    invalid += certificate_problems(eval_path, anchors.certificates)

    outcome = check_revocation(eval_path, options, at=moment, forced=force_revocation_check)
    reasons["revoked"] = outcome.revoked_reason
    reasons["revocationCheckFailed"] = outcome.check_reason

    if strict is not None:  # (the usual case: the reason is final, no second copy)
        reasons["invalidCertOrChain"] = (
            "; ".join(invalid) if invalid else "every certificate is well formed"
        )
    result = ValidationResult(
        trusted_root=trusted,
        revoked=outcome.revoked,
        expired=bool(expired),
        wrong_usage=bool(usage),
        name_mismatch=name.result,
        revocation_check_failed=outcome.check_failed,
        invalid_cert_or_chain=bool(invalid),
        reasons=reasons,
    )
    notes: list[str] = []
    if split.splits:
        notes.append(
            "the path passes through the self-issued "
            + ", ".join(f"'{describe(c)}'" for c in split.splits)
            + " (a CA key rollover), which does not count toward path length (RFC 5280 4.2.1.9)"
        )
    if strict is not None:
        return ChainValidation(result, tuple(eval_path), anchors.description, tuple(notes))
    if is_acceptable(result, revocation_forced=False):
        result = _attribute_refusal(result, strict_error)
        notes.append(f"the web PKI rules refused the chain: {classify(strict_error).reason}")
    if invalid:
        result = result.with_changes(
            reasons={**result.reasons, "invalidCertOrChain": "; ".join(invalid)}
        )
    elif "invalidCertOrChain" not in result.reasons:
        result = result.with_changes(
            reasons={**result.reasons, "invalidCertOrChain": "every certificate is well formed"}
        )
    return ChainValidation(result, tuple(eval_path), anchors.description, tuple(notes))


def _overlong_chain(count: int, anchors: TrustAnchors, forced: bool) -> ChainValidation:
    """A bound of path building was exceeded: a refusal with its reason, never an
    error and never a search through the whole list (RFC 4158 3.5 asks path builders
    to bound their work; a hostile server can send hundreds of certificates)."""
    not_checked = (
        f"not checked: the server presented {count} certificates, over the limit of "
        f"{MAX_PRESENTED_CERTIFICATES}"
    )
    reasons = dict.fromkeys(
        ("revoked", "expired", "wrongUsage", "nameMismatch", "revocationCheckFailed"), not_checked
    )
    reasons["trustedRoot"] = (
        f"no path was built: the server presented {count} certificates, over the limit of "
        f"{MAX_PRESENTED_CERTIFICATES} that path building examines"
    )
    reasons["invalidCertOrChain"] = (
        f"the chain holds {count} certificates; at most {MAX_PRESENTED_CERTIFICATES} are accepted"
    )
    result = ValidationResult(
        invalid_cert_or_chain=True, revocation_check_failed=forced, reasons=reasons
    )
    return ChainValidation(result, (), anchors.description)


_PreparedAnchors = tuple[
    TrustAnchors | None, tuple[str, ...], verification.Store | None, dict[int, str]
]
# The anchor sets prepared last, by identity (hashing a TrustAnchors hashes every
# certificate in it, which for a system store costs more than the work saved).
_PREPARED: collections.OrderedDict[int, tuple[TrustAnchors, _PreparedAnchors]] = (
    collections.OrderedDict()
)
_PREPARED_LOCK = threading.Lock()
MAX_PREPARED_ANCHOR_SETS = 8


def _usable_anchors(anchors: TrustAnchors) -> _PreparedAnchors:
    """`_prepare_anchors(anchors)`, made once per anchor set object: a runtime or a
    session validates every connection against the same immutable `TrustAnchors`
    (the system store: some 150 roots), so reading them and building the store per
    connection is waste (docs/benchmarks.md). The entry holds the anchors, so an
    id is never reused while it is cached."""
    key = id(anchors)
    with _PREPARED_LOCK:
        hit = _PREPARED.get(key)
        if hit is not None and hit[0] is anchors:
            _PREPARED.move_to_end(key)
            return hit[1]
    prepared = _prepare_anchors(anchors)
    with _PREPARED_LOCK:
        _PREPARED[key] = (anchors, prepared)
        while len(_PREPARED) > MAX_PREPARED_ANCHOR_SETS:
            _PREPARED.popitem(last=False)
    return prepared


def _prepare_anchors(anchors: TrustAnchors) -> _PreparedAnchors:
    """The anchors whose extensions can be read, why the others cannot, the
    verifier's store of the usable ones, and their labels by object identity (the
    verifier hands back the store's own objects, which the cache keeps alive)."""
    checked = [(a, extensions_problem(a)) for a in anchors.certificates]
    unusable = tuple(problem for _, problem in checked if problem)
    if unusable:
        usable = tuple(a for a, problem in checked if problem is None)
        if not usable:
            return None, unusable, None, {}
        anchors = TrustAnchors(
            usable,
            f"{anchors.description}, less {len(unusable)} unreadable",
            anchors.intermediates,
        )
    store = verification.Store(list(anchors.certificates))
    return anchors, unusable, store, {id(a): describe(a) for a in anchors.certificates}


def _no_usable_anchor(
    anchors: TrustAnchors, unusable: list[str], invalid: list[str], forced: bool
) -> ChainValidation:
    not_checked = "not checked: no trust anchor could be read"
    reasons = dict.fromkeys(
        ("revoked", "expired", "wrongUsage", "nameMismatch", "revocationCheckFailed"), not_checked
    )
    reasons["trustedRoot"] = f"no certificate of the {anchors.description} can be used: " + (
        "; ".join(unusable)
    )
    reasons["invalidCertOrChain"] = "; ".join(invalid) or "every certificate is well formed"
    result = ValidationResult(
        invalid_cert_or_chain=bool(invalid), revocation_check_failed=forced, reasons=reasons
    )
    return ChainValidation(result, (), anchors.description)


def _attribute_refusal(result: ValidationResult, message: str) -> ValidationResult:
    """The strict verifier refused what our own checks passed: put the refusal under
    the field it concerns, in our words (`verifier_messages.classify`), or under
    invalidCertOrChain. Never lets the chain through."""
    refusal = classify(message)
    why = f"the web PKI rules refuse the chain: {refusal.reason}"
    reasons = {**result.reasons, refusal.field: why}
    if refusal.field == "nameMismatch":
        return result.with_changes(name_mismatch=NameResult.MISMATCH, reasons=reasons)
    if refusal.field == "wrongUsage":
        return result.with_changes(wrong_usage=True, reasons=reasons)
    if refusal.field == "expired":
        return result.with_changes(expired=True, reasons=reasons)
    if refusal.field == "trustedRoot":
        return result.with_changes(trusted_root=False, reasons=reasons)
    return result.with_changes(invalid_cert_or_chain=True, reasons=reasons)

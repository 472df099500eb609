"""Paths through a self-issued CA certificate (a CA key rollover): a second, bounded
search for what cryptography's path builder refuses.

A CA that changes its key issues a certificate with its own name as subject and
issuer, for the new key, signed with the old one ("new with old", RFC 4210 4.4).
RFC 5280 4.2.1.9 and 6.1.4(l) do not count such a self-issued certificate toward
any pathLenConstraint; cryptography (45 to 50) counts every certificate, so it
refuses the valid `root -> CA (pathLen 1) -> CA' (same name, new key) -> sub-CA
(pathLen 0) -> leaf`.

Used only after cryptography refused the chain, and only when the server sent a
self-issued CA certificate that is not self-signed. The path is split at such
certificates, and every segment is validated by cryptography itself:

- the lowest (leaf .. S) with the real server policy (host, time, EKU, name
  constraints of S and below) and S as its only trust anchor, which makes
  cryptography check S as an issuer too (validity, CA profile, S's own pathLen
  counted from the leaf, S's signature on the certificate below);
- each higher one (S .. next split or a real anchor) with S in the leaf position
  under the CA profile (basicConstraints cA, keyUsage keyCertSign, validity), which
  checks the signature on S.

Self-issued certificates are left out of every segment's intermediates, so each
one on a joined path is a split point, and a self-signed certificate the server
sent is never on a path (it would be a trust anchor the server chose; anchors come
from the trust store, RFC 5280 6.1.1(d)). What the split loses is checked on the
joined path (`joined_path_problems`), each rule with its RFC 5280 section. Certificate
policies are processed by neither pass (cryptography does not implement them, and
refuses unknown critical extensions in every segment as in the first pass).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from app.security.cabf_rules import describe, find_extension
from app.security.verifier_messages import classify

# Bounds (RFC 4158 3.5 asks path builders to bound their work). A CA rolls its key
# over rarely; a real path holds one self-issued certificate, two when a rollover
# overlaps another. More than MAX_SELF_ISSUED candidates is refused unexamined, and
# the search stops after MAX_SEGMENT_RUNS verifier runs (each is itself bounded by
# cryptography's depth and signature-check budget).
MAX_SELF_ISSUED = 3
MAX_SEGMENT_RUNS = 16


@dataclass(frozen=True)
class SplitPath:
    """A path accepted through self-issued certificates (leaf first, anchor last)
    and the split points; or None and why no such path was accepted ("" when the
    chain holds no certificate this search applies to)."""

    path: tuple[x509.Certificate, ...] | None
    splits: tuple[x509.Certificate, ...] = ()
    reason: str = ""


def is_self_issued(cert: x509.Certificate) -> bool:
    """RFC 5280 6.1: "the same DN appears in the subject and issuer fields"."""
    return cert.issuer == cert.subject


def _signed_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return find_extension(cert, x509.BasicConstraints)
    except ValueError:
        return None


def split_candidates(
    presented: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    """Certificates the server sent (not the leaf) that are self-issued CA
    certificates and not self-signed: the only possible split points."""
    found = []
    for cert in presented[1:]:
        if not is_self_issued(cert) or cert in anchors or cert in found:
            continue
        bc = _basic_constraints(cert)
        if bc is None or not bc.ca or _signed_by(cert, cert):
            continue
        found.append(cert)
    return found


def _upper_policies() -> tuple[verification.ExtensionPolicy, verification.ExtensionPolicy]:
    """(CA policy, policy for S in the leaf position) of a higher segment. That run
    is a client verification (cryptography has no server verification without a
    host name), whose EKU rule asks for clientAuth: the EKU rule is taken out here
    and applied on the joined path with serverAuth instead (`_eku_problems`)."""
    ca = verification.ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.KeyUsage, verification.Criticality.AGNOSTIC, None
    )
    ca = ca.may_be_present(x509.ExtendedKeyUsage, verification.Criticality.NON_CRITICAL, None)
    as_leaf = verification.ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, verification.Criticality.NON_CRITICAL, None
    )
    return ca, as_leaf


class _BoundExceeded(Exception):
    pass


class _Search:
    """One bounded search: the segment runs and what the last refusal said."""

    def __init__(
        self,
        *,
        candidates: list[x509.Certificate],
        intermediates: list[x509.Certificate],
        store: verification.Store,
        subject: verification.Subject,
        at: dt.datetime,
        max_depth: int,
        ca_policy: verification.ExtensionPolicy,
    ) -> None:
        self.candidates = candidates
        self.intermediates = intermediates
        self.store = store
        self.subject = subject
        self.at = at
        self.max_depth = max_depth
        self.ca_policy = ca_policy
        self.upper_ca, self.upper_leaf = _upper_policies()
        self.runs = 0
        self.last_error = ""

    def segment(
        self, bottom: x509.Certificate, store: verification.Store, *, from_leaf: bool
    ) -> list[x509.Certificate] | None:
        self.runs += 1
        if self.runs > MAX_SEGMENT_RUNS:
            raise _BoundExceeded
        builder = verification.PolicyBuilder().store(store).time(self.at)
        builder = builder.max_chain_depth(self.max_depth)
        try:
            if from_leaf:
                server = builder.extension_policies(
                    ca_policy=self.ca_policy,
                    ee_policy=verification.ExtensionPolicy.webpki_defaults_ee(),
                ).build_server_verifier(self.subject)
                return list(server.verify(bottom, self.intermediates))
            client = builder.extension_policies(
                ca_policy=self.upper_ca, ee_policy=self.upper_leaf
            ).build_client_verifier()
            return list(client.verify(bottom, self.intermediates).chain)
        except (verification.VerificationError, ValueError) as exc:
            self.last_error = str(exc)
            return None

    def paths(
        self, bottom: x509.Certificate, used: tuple[x509.Certificate, ...]
    ) -> Iterator[list[list[x509.Certificate]]]:
        """Every sequence of segments from `bottom` to a real anchor, each split
        point used once (the leaf's direct paths were the first pass's job)."""
        if used:
            top = self.segment(bottom, self.store, from_leaf=False)
            if top is not None:
                yield [top]
        for split in self.candidates:
            if split in used:
                continue
            lower = self.segment(bottom, verification.Store([split]), from_leaf=not used)
            if lower is None:
                continue
            for rest in self.paths(split, (*used, split)):
                yield [lower, *rest]


def _join(segments: Sequence[Sequence[x509.Certificate]]) -> list[x509.Certificate]:
    path = list(segments[0])
    for segment in segments[1:]:
        path += segment[1:]
    return path


def _eku_problems(cert: x509.Certificate) -> list[str]:
    """RFC 5280 4.2.1.12 as cryptography applies it to a CA in server verification:
    an EKU, if present, allows serverAuth or anyExtendedKeyUsage."""
    try:
        eku = find_extension(cert, x509.ExtendedKeyUsage)
    except ValueError:
        return [f"the extended key usage of '{describe(cert)}' cannot be read"]
    if eku is None or any(
        oid in (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE)
        for oid in eku
    ):
        return []
    return [f"'{describe(cert)}' restricts its extended key usage and does not allow serverAuth"]


def joined_path_problems(
    path: Sequence[x509.Certificate],
    splits: Sequence[x509.Certificate],
    at: dt.datetime,
    max_depth: int,
) -> list[str]:
    """What no single segment run saw, on the joined path (leaf first, anchor last)."""
    problems: list[str] = []
    # Bounds: the joined path has no more intermediates than one run allows, and no
    # certificate twice (RFC 4158 3.5; a loop is never a path).
    if len(path) - 2 > max_depth:
        problems.append(
            f"the path holds {len(path) - 2} intermediate certificates, over the limit of "
            f"{max_depth}"
        )
    if len(set(path)) != len(path):
        problems.append("the path passes through one certificate twice")
    for child, issuer in itertools.pairwise(path):
        # RFC 5280 6.1.3(a)(1) and (a)(4): each signature verifies with the next
        # certificate's key, and its issuer names the next certificate's subject
        # (the links between segments included).
        if not _signed_by(child, issuer):
            problems.append(
                f"the signature on '{describe(child)}' does not verify with the key of "
                f"'{describe(issuer)}'"
            )
    for cert in path:
        # RFC 5280 6.1.3(a)(2): every certificate is valid at the validation time.
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            problems.append(f"'{describe(cert)}' is not valid at {at.isoformat()}")
    for split in splits:
        bc = _basic_constraints(split)
        # RFC 5280 6.1.4(k): an issuer is a CA (basicConstraints cA).
        if bc is None or not bc.ca:
            problems.append(f"self-issued '{describe(split)}' is not a CA certificate")
        # RFC 5280 6.1.4(n) and 4.2.1.3: an issuer's keyUsage allows keyCertSign
        # (and, on a CA below the anchor, is present).
        try:
            usage = find_extension(split, x509.KeyUsage)
        except ValueError:
            usage = None
        if usage is None or not usage.key_cert_sign:
            problems.append(
                f"self-issued '{describe(split)}' is not allowed to sign certificates "
                "(keyUsage keyCertSign is required)"
            )
        # RFC 5280 6.1.1(d): a trust anchor comes from the trust store; a self-signed
        # certificate the server sent is never a split point.
        if _signed_by(split, split):
            problems.append(f"'{describe(split)}' is self-signed, not only self-issued")
    problems += _path_length_problems(path)
    lowest = min(path.index(s) for s in splits)
    for cert in path[lowest:]:
        # The higher segments ran without the serverAuth EKU rule (see _upper_policies).
        problems += _eku_problems(cert)
    for cert in path[lowest + 1 :]:
        # RFC 5280 6.1.3(b), (c) and 6.1.4(g): a CA's name constraints apply to every
        # certificate below it, self-issued intermediates excepted. A split run
        # applies them only inside its own segment, so a path with name constraints
        # above a split point is refused rather than checked by hand.
        try:
            constrained = find_extension(cert, x509.NameConstraints) is not None
        except ValueError:
            constrained = True
        if constrained:
            problems.append(
                f"'{describe(cert)}' carries name constraints above the self-issued "
                "certificate, which this path search does not apply across it"
            )
    return problems


def _path_length_problems(path: Sequence[x509.Certificate]) -> list[str]:
    """RFC 5280 4.2.1.9, 6.1.4(l) and (m): a pathLenConstraint bounds the number of
    non-self-issued intermediate certificates that follow its certificate (the leaf
    not counted). Applied to the anchor's too, as cryptography does."""
    problems = []
    for index in range(1, len(path)):
        bc = _basic_constraints(path[index])
        if bc is None or bc.path_length is None:
            continue
        following = sum(1 for cert in path[1:index] if not is_self_issued(cert))
        if following > bc.path_length:
            problems.append(
                f"'{describe(path[index])}' allows {bc.path_length} intermediate "
                f"certificate(s) below it (pathLenConstraint), the path has {following} "
                "not counting self-issued ones"
            )
    return problems


def find_split_path(
    presented: Sequence[x509.Certificate],
    *,
    anchors: Sequence[x509.Certificate],
    extra_intermediates: Sequence[x509.Certificate],
    store: verification.Store,
    subject: verification.Subject,
    at: dt.datetime,
    max_depth: int,
    ca_policy: verification.ExtensionPolicy,
) -> SplitPath:
    """The second pass (module docstring) for `presented` (leaf first), which
    cryptography refused. `ca_policy` is the first pass's CA policy."""
    candidates = split_candidates(presented, anchors)
    if not candidates:
        return SplitPath(None)
    names = ", ".join(f"'{describe(c)}'" for c in candidates)
    if len(candidates) > MAX_SELF_ISSUED:
        return SplitPath(
            None,
            reason=f"the chain holds {len(candidates)} self-issued CA certificates; paths "
            f"through more than {MAX_SELF_ISSUED} are not built",
        )
    pool = [c for c in [*presented[1:], *extra_intermediates] if not is_self_issued(c)]
    search = _Search(
        candidates=candidates,
        intermediates=pool,
        store=store,
        subject=subject,
        at=at,
        max_depth=max_depth,
        ca_policy=ca_policy,
    )
    first_problem = ""
    try:
        for segments in search.paths(presented[0], ()):
            path = _join(segments)
            splits = tuple(segment[-1] for segment in segments[:-1])
            problems = joined_path_problems(path, splits, at, max_depth)
            if not problems:
                return SplitPath(tuple(path), splits)
            first_problem = first_problem or "; ".join(problems)
    except _BoundExceeded:
        return SplitPath(
            None,
            reason=f"no path through the self-issued certificate(s) {names} was found within "
            f"the bound of {MAX_SEGMENT_RUNS} verifier runs",
        )
    if first_problem:
        return SplitPath(
            None, reason=f"the path through the self-issued {names} is refused: {first_problem}"
        )
    why = classify(search.last_error).reason if search.last_error else "no segment could be built"
    return SplitPath(
        None, reason=f"no valid path through the self-issued certificate(s) {names} either: {why}"
    )

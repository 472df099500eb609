"""Revocation status from CRLs and OCSP, as pure functions over bytes.

Why pure: the verdict must be reproducible and testable without a network, and the
network (CRL distribution points, the AIA OCSP responder) is used only when asked.
Network access is a `Fetcher` passed in (see `revocation_fetch.http_fetcher`); with
none, only the CRL files the user gave are consulted.

Every certificate on the path except the trust anchor is checked. A certificate
counts as revoked if any fresh, correctly signed source says so; the check "failed"
if revocation was requested and some certificate got no fresh, signed answer.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from app.security.cabf_rules import describe
from app.xr.validation_result import ValidationResult

# url, request body (None for GET) -> response body. Raises OSError/ValueError on
# failure. Implementations bound time and size.
Fetcher = Callable[[str, bytes | None], bytes]

# Clocks of CA, responder and client differ; RFC 6960 does not fix a tolerance,
# five minutes is what Windows and most browsers allow for OCSP/CRL freshness.
FRESHNESS_LEEWAY = dt.timedelta(minutes=5)
# A certificate seldom lists more than two or three distribution points or
# responders; more are not tried, so a hostile certificate cannot fan out requests.
MAX_URLS_PER_CERTIFICATE = 3
# All network fetches of one validation together (per-request timeouts are the
# fetcher's); once spent, the remaining URLs are not asked and say so.
DEFAULT_BUDGET_SECONDS = 15.0


@dataclass(frozen=True)
class RevocationOptions:
    """What to consult. `crls` are CRLs the user supplied (parsed); `check_ocsp` asks
    the AIA responders and `fetch_crls` the CRL distribution points, both through
    `fetcher`, which is None when no network may be used."""

    crls: tuple[x509.CertificateRevocationList, ...] = ()
    check_ocsp: bool = False
    fetch_crls: bool = False
    fetcher: Fetcher | None = field(default=None, compare=False, repr=False)
    budget_seconds: float = DEFAULT_BUDGET_SECONDS

    @property
    def requested(self) -> bool:
        return bool(self.crls) or self.check_ocsp or self.fetch_crls


@dataclass(frozen=True)
class RevocationOutcome:
    checked: bool
    revoked: bool
    check_failed: bool
    revoked_reason: str
    check_reason: str


def parse_crls(data: bytes) -> list[x509.CertificateRevocationList]:
    """One DER CRL, or any number of PEM ones. Raises ValueError if one does not parse
    (cryptography's InvalidVersion, for a CRL with a version it does not know, is not
    a ValueError; it is turned into one so callers catch a single type)."""
    try:
        if b"-----BEGIN X509 CRL-----" in data:
            blocks = data.split(b"-----END X509 CRL-----")
            return [
                x509.load_pem_x509_crl(block + b"-----END X509 CRL-----")
                for block in blocks
                if b"-----BEGIN X509 CRL-----" in block
            ]
        return [x509.load_der_x509_crl(data)]
    except x509.InvalidVersion as exc:
        raise ValueError(f"unknown CRL version: {exc}") from None


def crl_problems(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> list[str]:
    """Why a CRL that names `issuer` cannot be used, RFC 5280 5.2 and 6.3.3:
    the issuer's key usage, if present, allows cRLSign; the CRL carries a
    non-critical cRLNumber; it is a complete CRL (delta CRLs are not merged here);
    it has no critical extension we do not process."""
    label = describe(issuer)
    problems = []
    try:
        usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    except ValueError:
        return [f"the key usage of CRL issuer '{label}' cannot be read"]
    if usage is not None and not usage.crl_sign:
        problems.append(f"'{label}' is not allowed to sign CRLs (its key usage lacks cRLSign)")
    try:
        extensions = list(crl.extensions)
    except ValueError as exc:
        return [*problems, f"the CRL of '{label}' has a malformed extension ({exc})"]
    number = next((e for e in extensions if isinstance(e.value, x509.CRLNumber)), None)
    if number is None:
        problems.append(f"the CRL of '{label}' has no cRLNumber, which RFC 5280 5.2.3 requires")
    elif number.critical:
        problems.append(f"the CRL of '{label}' marks cRLNumber critical (RFC 5280 5.2.3: MUST NOT)")
    for extension in extensions:
        if isinstance(extension.value, x509.DeltaCRLIndicator):
            problems.append(f"the CRL of '{label}' is a delta CRL; a complete CRL is needed")
        elif extension.critical and not isinstance(
            extension.value, x509.CRLNumber | x509.IssuingDistributionPoint
        ):
            problems.append(
                f"the CRL of '{label}' has a critical extension that is not understood "
                f"({extension.oid.dotted_string})"
            )
    return problems


def _distribution_point_names(cert: x509.Certificate) -> set[x509.GeneralName] | None:
    """The full names of the certificate's CRL distribution points; None when it has
    no CRLDistributionPoints extension."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return None
    except ValueError:
        return set()
    return {name for point in points for name in (point.full_name or [])}


def crl_scope_problem(crl: x509.CertificateRevocationList, cert: x509.Certificate) -> str | None:
    """Why a CRL's issuingDistributionPoint says it does not cover `cert` (RFC 5280
    5.2.5 and 6.3.3(b)(2)), or None when it covers it. A CRL that does not cover a
    certificate is no answer for it, neither "good" nor "revoked".

    - onlyContainsUserCerts: not for a CA certificate; onlyContainsCACerts: not for
      an end entity; onlyContainsAttributeCerts: for no public-key certificate.
    - onlySomeReasons: a partial CRL; without the other partitions it cannot say
      "good" (6.3.3(d)), so it is not used.
    - indirectCRL: entries may belong to other issuers (5.3.3); not processed.
    - a distribution point name (full name): one of the certificate's CRL
      distribution point names must match it; a certificate without that extension
      is covered only by a complete CRL of its issuer. A relative name is not
      processed."""
    try:
        idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return None
    except ValueError as exc:
        return f"the CRL's issuingDistributionPoint cannot be read ({exc})"
    label = describe(cert)
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = bool(constraints.ca)
    except (x509.ExtensionNotFound, ValueError):
        is_ca = False
    if idp.only_contains_user_certs and is_ca:
        return f"the CRL covers only end-entity certificates, and '{label}' is a CA"
    if idp.only_contains_ca_certs and not is_ca:
        return f"the CRL covers only CA certificates, and '{label}' is not one"
    if idp.only_contains_attribute_certs:
        return "the CRL covers only attribute certificates"
    if idp.only_some_reasons:
        return (
            "the CRL covers only some revocation reasons "
            f"({', '.join(sorted(r.value for r in idp.only_some_reasons))}), so it cannot say "
            f"'{label}' is not revoked"
        )
    if idp.indirect_crl:
        return "the CRL is an indirect CRL, which is not processed"
    if idp.relative_name is not None:
        return "the CRL names its distribution point relatively, which is not processed"
    if idp.full_name:
        names = _distribution_point_names(cert)
        if not names or not names.intersection(idp.full_name):
            where = ", ".join(str(getattr(n, "value", n)) for n in idp.full_name)
            return (
                f"the CRL is for distribution point {where}, which is not one of "
                f"'{label}''s CRL distribution points"
            )
    return None


def _partial_crl_lists(
    crl: x509.CertificateRevocationList, cert: x509.Certificate, at: dt.datetime
) -> bool:
    try:
        idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    if not idp.only_some_reasons or idp.indirect_crl:
        return False
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    return entry is not None and entry.revocation_date_utc <= at + FRESHNESS_LEEWAY


def _crl_status(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    crl: x509.CertificateRevocationList,
    at: dt.datetime,
    notes: list[str],
) -> str | None:
    """'good' / 'revoked' from one CRL, or None when it does not apply or is unusable."""
    if crl.issuer != cert.issuer:
        return None
    try:
        public_key: object = issuer.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):
        notes.append(f"the key of CRL issuer '{describe(issuer)}' cannot be read")
        return None
    if not isinstance(
        public_key,
        rsa.RSAPublicKey
        | ec.EllipticCurvePublicKey
        | dsa.DSAPublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey,
    ):
        notes.append(f"CRL of '{describe(issuer)}' uses an unsupported key type")
        return None
    if not crl.is_signature_valid(public_key):
        notes.append(f"a CRL naming '{describe(issuer)}' as issuer has a bad signature")
        return None
    problems = crl_problems(crl, issuer)
    if problems:
        notes.extend(problems)
        return None
    scope = crl_scope_problem(crl, cert)
    if scope and _partial_crl_lists(crl, cert, at):
        # A partitioned-by-reason CRL cannot say "good", but a listing in it is a
        # revocation for that reason (RFC 5280 6.3.3(d), (i)).
        return "revoked"
    if scope:
        notes.append(scope)
        return None
    if crl.last_update_utc > at + FRESHNESS_LEEWAY:
        notes.append(f"the CRL of '{describe(issuer)}' is not valid yet ({crl.last_update_utc})")
        return None
    if crl.next_update_utc is not None and crl.next_update_utc + FRESHNESS_LEEWAY < at:
        notes.append(
            f"the CRL of '{describe(issuer)}' is out of date "
            f"(next update was {crl.next_update_utc})"
        )
        return None
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is not None and entry.revocation_date_utc <= at + FRESHNESS_LEEWAY:
        return "revoked"
    return "good"


def ocsp_request_der(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """An OCSP request for one certificate (CertID with SHA-1, as RFC 5019 asks)."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303
    return builder.build().public_bytes(serialization.Encoding.DER)


def _verify_signed(
    public_key: object, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None
) -> bool:
    """Check a signature with cryptography's primitives (nothing re-implemented)."""
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and algorithm is not None:
            public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and algorithm is not None:
            public_key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            public_key.verify(signature, data)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _ocsp_signer(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> x509.Certificate | None:
    """The issuer itself, or a delegated responder certificate it issued with the
    OCSPSigning EKU (RFC 6960 4.2.2.2)."""
    try:
        issuer_key = issuer.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    issuer_key_hash = x509.SubjectKeyIdentifier.from_public_key(issuer_key).digest
    if response.responder_key_hash == issuer_key_hash or response.responder_name == issuer.subject:
        return issuer
    for candidate in response.certificates:
        try:
            candidate.verify_directly_issued_by(issuer)
            eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING in eku:
            return candidate
    return None


def _public_key_or_none(cert: x509.Certificate) -> object:
    try:
        return cert.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


def ocsp_status(
    response_der: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    at: dt.datetime,
    notes: list[str],
) -> str | None:
    """'good' / 'revoked' / None (unknown or unusable, with a note why)."""
    label = describe(cert)
    try:
        response = ocsp.load_der_ocsp_response(response_der)
    except ValueError:
        notes.append(f"the OCSP answer for '{label}' is not a valid OCSP response")
        return None
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        notes.append(f"the OCSP responder answered {response.response_status.name} for '{label}'")
        return None
    signer = _ocsp_signer(response, issuer)
    if signer is None or not _verify_signed(
        _public_key_or_none(signer),
        response.signature,
        response.tbs_response_bytes,
        response.signature_hash_algorithm,
    ):
        notes.append(
            f"the OCSP response for '{label}' is not signed by its issuer or a delegated responder"
        )
        return None
    for single in response.responses:
        if single.serial_number != cert.serial_number:
            continue
        if single.issuer_name_hash != _hash(single.hash_algorithm, issuer.subject.public_bytes()):
            continue
        if single.this_update_utc > at + FRESHNESS_LEEWAY or (
            single.next_update_utc is not None and single.next_update_utc + FRESHNESS_LEEWAY < at
        ):
            notes.append(f"the OCSP response for '{label}' is not current")
            return None
        if single.certificate_status == ocsp.OCSPCertStatus.REVOKED:
            return "revoked"
        if single.certificate_status == ocsp.OCSPCertStatus.GOOD:
            return "good"
        notes.append(f"the OCSP responder does not know '{label}'")
        return None
    notes.append(f"the OCSP response does not cover '{label}'")
    return None


def _hash(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize()


def _urls(cert: x509.Certificate, kind: str) -> list[str]:
    found: list[str] = []
    try:
        if kind == "ocsp":
            aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
            found = [
                str(d.access_location.value)
                for d in aia
                if d.access_method == AuthorityInformationAccessOID.OCSP
                and isinstance(d.access_location, x509.UniformResourceIdentifier)
            ]
        else:
            cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
            for point in cdp:
                for name in point.full_name or []:
                    if isinstance(name, x509.UniformResourceIdentifier):
                        found.append(str(name.value))
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [u for u in found if u.lower().startswith("http://")][:MAX_URLS_PER_CERTIFICATE]


@dataclass
class _Budget:
    deadline: float

    def spent(self) -> bool:
        return time.monotonic() >= self.deadline


def _status_of(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    options: RevocationOptions,
    *,
    at: dt.datetime,
    online: bool,
    notes: list[str],
    budget: _Budget,
) -> tuple[str | None, str]:
    """('good' / 'revoked' / None, which source answered it)."""
    label = describe(cert)
    answers = [_crl_status(cert, issuer, crl, at, notes) for crl in options.crls]
    if "revoked" in answers:
        return "revoked", "a CRL file given"
    decided, source = ("good", "a CRL file given") if "good" in answers else (None, "")
    fetcher = options.fetcher
    if fetcher is None or not online:
        return decided, source

    def fetch(url: str, body: bytes | None, what: str) -> bytes | None:
        if budget.spent():
            notes.append(
                f"{what} {url} for '{label}' was not asked: the revocation budget of "
                f"{options.budget_seconds:g} s was spent"
            )
            return None
        try:
            return fetcher(url, body)
        except (OSError, ValueError) as exc:
            notes.append(f"{what} {url} for '{label}' failed: {exc}")
            return None

    if options.check_ocsp or decided is None:
        for url in _urls(cert, "ocsp"):
            body = fetch(url, ocsp_request_der(cert, issuer), "the OCSP responder")
            if body is None:
                continue
            status = ocsp_status(body, cert, issuer, at, notes)
            if status == "revoked":
                return "revoked", f"the OCSP responder {url}"
            if status and decided is None:
                decided, source = status, f"the OCSP responder {url}"
            if status:
                break
    if options.fetch_crls or decided is None:
        for url in _urls(cert, "crl"):
            body = fetch(url, None, "the CRL at")
            if body is None:
                continue
            try:
                crls = parse_crls(body)
            except ValueError:
                notes.append(f"the CRL at {url} for '{label}' is not a CRL (DER or PEM)")
                continue
            statuses = [_crl_status(cert, issuer, crl, at, notes) for crl in crls]
            if "revoked" in statuses:
                return "revoked", f"the CRL at {url}"
            if "good" in statuses:
                if decided is None:
                    decided, source = "good", f"the CRL at {url}"
                break
    return decided, source


def check_revocation(
    path: Sequence[x509.Certificate],
    options: RevocationOptions,
    *,
    at: dt.datetime,
    forced: bool,
) -> RevocationOutcome:
    """Revocation verdict for a path (leaf first, trust anchor last). Online sources
    are consulted only when `options` asks for them or `forced` is set, and only
    through `options.fetcher`."""
    if not (options.requested or forced):
        return RevocationOutcome(
            False,
            False,
            False,
            "revocation was not checked (not requested)",
            "revocation was not checked (not requested)",
        )
    online = options.check_ocsp or options.fetch_crls or forced
    notes: list[str] = []
    revoked: list[str] = []
    unknown: list[str] = []
    good: list[str] = []
    budget = _Budget(time.monotonic() + options.budget_seconds)
    for index in range(len(path) - 1):
        cert, issuer = path[index], path[index + 1]
        status, source = _status_of(
            cert, issuer, options, at=at, online=online, notes=notes, budget=budget
        )
        if status == "revoked":
            revoked.append(f"'{describe(cert)}' (by {source})")
        elif status is None:
            unknown.append(describe(cert))
        else:
            good.append(f"'{describe(cert)}' by {source}")
    if online and options.fetcher is None:
        notes.append("no network access was allowed for OCSP or CRL distribution points")
    detail = ("; " + "; ".join(notes)) if notes else ""
    revoked_reason = (
        f"revoked: {', '.join(revoked)}"
        if revoked
        else "no certificate on the path is revoked by the sources consulted"
        + (f" (not revoked: {', '.join(good)})" if good else "")
    )
    if unknown:
        check_reason = f"no usable revocation answer for: {', '.join(unknown)}{detail}"
    else:
        check_reason = "every certificate on the path has a current, signed revocation answer"
        if good:
            check_reason += f" ({', '.join(good)})"
    return RevocationOutcome(True, bool(revoked), bool(unknown), revoked_reason, check_reason)


def with_revocation_warning(result: ValidationResult, *, forced: bool) -> ValidationResult:
    """An undetermined revocation status that does not refuse (the check was asked
    for but not forced) is never silent: it becomes a warning naming each source
    that failed, shown next to the accepted connection."""
    if forced or not result.revocation_check_failed:
        return result
    why = result.reasons.get("revocationCheckFailed", "no usable revocation answer")
    warning = f"revocation could not be determined, connecting anyway (not forced): {why}"
    return result.with_changes(warnings=(*result.warnings, warning))

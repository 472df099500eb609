"""The built-in runtime's system validation (what performSystemValidation asks a
runtime for): `app.security.system_validation` against the trust anchors the options
name (a CA bundle) or the operating system's, loaded once per runtime and reused.
(Named for what it does; `app.security.trust` is where trust anchors come from.)"""

from __future__ import annotations

from app.security.revocation import RevocationOptions
from app.security.revocation_fetch import shared_fetcher
from app.security.system_validation import validate_server_chain
from app.security.trust import (
    TrustAnchors,
    anchors_from_certificates,
    parse_pem_bundle,
    system_anchors,
)
from app.xr.validation_result import ValidationResult


class RuntimeTrust:
    """Trust anchors loaded once; `validate` gives the seven-field system result."""

    def __init__(self, ca_pem: bytes | None, *, force_revocation_check: bool = False) -> None:
        self.anchors: TrustAnchors = (
            anchors_from_certificates(parse_pem_bundle(ca_pem), "CA bundle given to the runtime")
            if ca_pem is not None
            else system_anchors()
        )
        self._force = force_revocation_check
        # Under forceRevocationCheck the runtime asks the CRL distribution points and
        # OCSP responders itself, as Microsoft's runtime does through Windows;
        # without a fetcher every forced check would fail.
        self._revocation = (
            RevocationOptions(check_ocsp=True, fetch_crls=True, fetcher=shared_fetcher())
            if force_revocation_check
            else RevocationOptions()
        )

    def validate(self, chain: tuple[bytes, ...], host: str) -> ValidationResult:
        return validate_server_chain(
            chain,
            host,
            anchors=self.anchors,
            revocation=self._revocation,
            force_revocation_check=self._force,
        ).result

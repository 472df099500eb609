"""Helpers for the end-to-end tests of the OpenXR path: a client certificate policy
that does not depend on the runtime's system validation (a runtime may pass none),
the PKI and token both ends share, and a pair of sessions (one process) connected
through any two runtimes."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509 import verification

from app.endpoint.callbacks import TokenProvider, fixed_server_certificate, fixed_token
from app.endpoint.events import Connected, Disconnected, Listening, records_in
from app.endpoint.runtime_choice import create_runtime
from app.endpoint.session import Session, SessionConfig
from app.remoting.builtin import BuiltinRuntime
from app.remoting.contract import RemotingRuntime
from app.remoting.openxr.runtime import OpenXRRuntime
from app.security.testpki import GeneratedPki, create_test_pki
from app.xr.callback_types import CertificateValidationRequest, ServerCertificateMaterial
from app.xr.records import CallbackRecord
from app.xr.validation_result import ValidationResult
from app.xr.values import CertificateNameValidationResult as NameCheck
from app.xr.values import DisconnectReason
from tests.support.builtin_options import quick_options
from tests.support.openxr_runtime.build import BuiltRuntime

TIMEOUT = 15.0


def ca_validator(ca_pem: bytes):  # type: ignore[no-untyped-def]
    """Validate the chain against one CA with cryptography's verifier: the verdict the
    app's policy would give with --ca-file, whatever the runtime passed as system result."""
    roots = x509.load_pem_x509_certificates(ca_pem)
    store = verification.Store(roots)

    def validate(request: CertificateValidationRequest) -> ValidationResult:
        certs = [x509.load_der_x509_certificate(der) for der in request.chain]
        host = request.host_name or ""
        try:
            subject: verification.Subject = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            subject = x509.DNSName(host)
        verifier = (
            verification.PolicyBuilder()
            .store(store)
            .time(dt.datetime.now(dt.UTC))
            .build_server_verifier(subject)
        )
        try:
            verifier.verify(certs[0], certs[1:])
        except verification.VerificationError:
            return ValidationResult(trusted_root=False, name_mismatch=NameCheck.NOT_CHECKED)
        return ValidationResult(trusted_root=True, name_mismatch=NameCheck.MATCH)

    return validate


@dataclass(frozen=True)
class Secrets:
    pki: GeneratedPki = field(repr=False)
    token: str = field(repr=False)

    @property
    def material(self) -> ServerCertificateMaterial:
        return ServerCertificateMaterial(
            cert_store=self.pki.pfx,
            key_passphrase=self.pki.passphrase,
            subject_name=self.pki.friendly_name,
        )


def make_secrets() -> Secrets:
    pki = create_test_pki(["localhost"], ["127.0.0.1"], intermediate=True)
    return Secrets(pki=pki, token="tok-" + secrets.token_urlsafe(24))


def openxr(built: BuiltRuntime) -> Callable[[], RemotingRuntime]:
    def make() -> RemotingRuntime:
        runtime, why = create_runtime("openxr", str(built.manifest))
        assert why == (
            f"OpenXR runtime 'holoremote test runtime' from {built.manifest} offers "
            "XR_MSFT_holographic_remoting"
        )
        assert isinstance(runtime, OpenXRRuntime)
        return runtime

    return make


def builtin(role: str) -> Callable[[], RemotingRuntime]:
    return lambda: BuiltinRuntime(quick_options(role=role))


def records(session: Session) -> list[CallbackRecord]:
    return records_in(session.history)


async def connect_pair(
    shared: Secrets,
    server_runtime: RemotingRuntime,
    client_runtime: RemotingRuntime,
    *,
    token: str | None = None,
    token_provider: TokenProvider | None = None,
) -> tuple[Session, Session]:
    server = Session.with_callbacks(
        SessionConfig(
            mode="listen",
            port=0,
            transport_port=0,
            listen_interface="127.0.0.1",
            role="player",
            realm="holo-test",
        ),
        server_runtime,
        token_validator=lambda t: t == shared.token,
        server_certificate_provider=fixed_server_certificate(shared.material),
    )
    await server.start()
    listening = await server.wait_for(lambda e: isinstance(e, Listening), TIMEOUT)
    assert isinstance(listening, Listening)
    client = Session.with_callbacks(
        SessionConfig(mode="connect", host="127.0.0.1", port=listening.port, role="remote"),
        client_runtime,
        token_provider=token_provider or fixed_token(token or shared.token),
        certificate_validator=ca_validator(shared.pki.ca_pem),
    )
    await client.start()
    return server, client


async def run_clean_connection(
    shared: Secrets,
    server_runtime: RemotingRuntime,
    client_runtime: RemotingRuntime,
    *,
    token_provider: TokenProvider | None = None,
) -> tuple[Session, Session]:
    server, client = await connect_pair(
        shared, server_runtime, client_runtime, token_provider=token_provider
    )
    try:
        await client.wait_for(lambda e: isinstance(e, Connected), TIMEOUT)
        await server.wait_for(lambda e: isinstance(e, Connected), TIMEOUT)
        mark_c, mark_s = client.event_count, server.event_count
        await client.disconnect()
        ended_c = await client.wait_for(
            lambda e: isinstance(e, Disconnected), TIMEOUT, after=mark_c
        )
        ended_s = await server.wait_for(
            lambda e: isinstance(e, Disconnected), TIMEOUT, after=mark_s
        )
        assert isinstance(ended_c, Disconnected) and isinstance(ended_s, Disconnected)
        assert ended_c.reason == DisconnectReason.DISCONNECT_REQUEST
        assert ended_s.reason == DisconnectReason.PEER_DISCONNECT_REQUEST
    finally:
        await client.aclose()
        await server.aclose()
    return server, client

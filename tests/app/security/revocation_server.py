"""A CRL and OCSP responder on 127.0.0.1 (ephemeral port) for the tests: real HTTP,
real signed responses, one thread, shut down by the fixture that starts it."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from pkibuild import Made

# Requests larger than this are not OCSP requests; the handler refuses them.
MAX_REQUEST_BYTES = 16 * 1024


def crl_der(
    issuer: Made,
    serials: Sequence[int],
    now: dt.datetime,
    *,
    idp: x509.IssuingDistributionPoint | None = None,
) -> bytes:
    """A complete, current CRL of `issuer` (AKI, cRLNumber 1 as RFC 5280 5.2 asks,
    next update in a day) listing `serials` as revoked two hours ago; with `idp`,
    scoped by that critical issuingDistributionPoint. DER."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + dt.timedelta(days=1))
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
        .add_extension(x509.CRLNumber(1), critical=False)
    )
    if idp is not None:
        builder = builder.add_extension(idp, critical=True)
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - dt.timedelta(hours=2))
            .build()
        )
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@dataclass
class Responder:
    issuer: Made
    revoked_serials: set[int] = field(default_factory=set)
    crl_der: bytes = b""
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    port: int = 0
    requests: list[str] = field(default_factory=list)
    # When set, OCSP requests are answered by it (e.g. the real `openssl ocsp`).
    ocsp_backend: Callable[[bytes], bytes] | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ocsp_answer(self, request_der: bytes) -> bytes:
        request = ocsp.load_der_ocsp_request(request_der)
        status = (
            ocsp.OCSPCertStatus.REVOKED
            if request.serial_number in self.revoked_serials
            else ocsp.OCSPCertStatus.GOOD
        )
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                serial_number=request.serial_number,
                algorithm=request.hash_algorithm,
                cert_status=status,
                this_update=self.now - dt.timedelta(hours=1),
                next_update=self.now + dt.timedelta(days=1),
                revocation_time=self.now - dt.timedelta(hours=2)
                if status == ocsp.OCSPCertStatus.REVOKED
                else None,
                revocation_reason=None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self.issuer.cert)
        )
        response = builder.sign(self.issuer.key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)


@contextmanager
def serve(responder: Responder) -> Iterator[Responder]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            responder.requests.append(f"GET {self.path}")
            if self.path == "/crl":
                self._send(responder.crl_der, "application/pkix-crl")
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            responder.requests.append(f"POST {self.path}")
            length = int(self.headers.get("Content-Length", "0"))
            if self.path != "/ocsp" or length > MAX_REQUEST_BYTES:
                self.send_error(400)
                return
            request = self.rfile.read(length)
            answer = (responder.ocsp_backend or responder.ocsp_answer)(request)
            self._send(answer, "application/ocsp-response")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.timeout = 5
    responder.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield responder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

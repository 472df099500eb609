"""TLS settings of the built-in runtime: one server context per listener, one client
context per runtime, and the server's whole chain as the client saw it.

Server and client: TLS 1.2 minimum (1.3 preferred: OpenSSL negotiates the highest
both offer), Mozilla's "intermediate" cipher list for TLS 1.2 (TLS 1.3 suites are
all acceptable and left as OpenSSL orders them), no compression, no renegotiation.
The server also limits the key-exchange groups to Mozilla's intermediate list
(X25519, P-256, P-384) on its own context (`tls_groups.py`); docs/security.md has the
whole profile and the sslyze result.

The client does not verify in TLS (`CERT_NONE`, no host-name check) on purpose: the
specification gives that decision to the application's ValidateServerCertificate
callback, which receives the chain and the system validation result.

Contexts are built once and reused: building one costs milliseconds (loading the
key and chain, and for a context with the system store ~17 ms), a handshake reuses it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import ssl
import sys
import tempfile
from pathlib import Path
from typing import Any

from app.remoting.builtin import tls_groups

# Mozilla Server Side TLS guidelines, "intermediate" configuration (version 5.7):
# the TLS 1.2 suites, in Mozilla's order. DHE suites are only used if DH parameters
# are loaded, which we do not do; they are listed to stay identical to the guideline.
MOZILLA_INTERMEDIATE_TLS12_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-CHACHA20-POLY1305",
    )
)
MINIMUM_TLS_VERSION = ssl.TLSVersion.TLSv1_2
HANDSHAKE_ALPN = "http/1.1"


def _harden(context: ssl.SSLContext) -> ssl.SSLContext:
    context.minimum_version = MINIMUM_TLS_VERSION
    context.set_ciphers(MOZILLA_INTERMEDIATE_TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    return context


def server_context(chain_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """A server context serving `chain_pem` (leaf first, then the issuers) with
    `key_pem`. The key never touches a file system (memfd on Linux); elsewhere a
    0600 file in a private 0700 directory that is removed at once."""
    context = _harden(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    tls_groups.restrict_groups(context, tls_groups.MOZILLA_INTERMEDIATE_GROUPS)
    context.set_alpn_protocols([HANDSHAKE_ALPN])
    # OpenSSL's two TLS 1.3 session tickets stay, although no client of ours resumes:
    # they are the server's first bytes after the handshake and carry the ACK of the
    # client's Finished. Without them (num_tickets = 0) a client that leaves Nagle on
    # held its first request for the listener's delayed ACK: 40 ms per connection,
    # measured with bench/connect.py's blocking client (docs/benchmarks.md).
    _load_chain_and_key(context, chain_pem + b"\n" + key_pem)
    return context


def client_context() -> ssl.SSLContext:
    """The client context: hardened, but leaves the trust decision to the callbacks."""
    context = _harden(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _load_chain_and_key(context: ssl.SSLContext, pem: bytes) -> None:
    if sys.platform.startswith("linux") and hasattr(os, "memfd_create"):
        fd = os.memfd_create("holoremote-tls", os.MFD_CLOEXEC)
        try:
            _write_all(fd, pem)
            context.load_cert_chain(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return
    directory = tempfile.mkdtemp(prefix="holoremote-tls-")  # 0700 by definition
    path = Path(directory) / "server.pem"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _write_all(fd, pem)
        finally:
            os.close(fd)
        context.load_cert_chain(str(path))
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        shutil.rmtree(directory, ignore_errors=True)


def peer_chain(ssl_object: Any) -> tuple[bytes, ...]:
    """The DER chain the server sent (leaf first), not only the leaf.

    Python 3.13 has `get_unverified_chain()` in public; on 3.11/3.12 it exists on
    the underlying `_ssl._SSLSocket` and returns certificates with `public_bytes`.
    Falls back to the leaf alone."""
    if ssl_object is None:
        return ()
    try:
        import _ssl

        getter = getattr(ssl_object, "get_unverified_chain", None)
        if getter is None:
            getter = ssl_object._sslobj.get_unverified_chain
        chain = getter() or []
        der = tuple(c if isinstance(c, bytes) else c.public_bytes(_ssl.ENCODING_DER) for c in chain)
        if der:
            return der
    except (AttributeError, ValueError, ssl.SSLError):
        pass
    leaf = ssl_object.getpeercert(True)
    return (leaf,) if leaf else ()


def describe_tls(ssl_object: Any) -> str:
    """`TLSv1.3 TLS_AES_256_GCM_SHA384` for notes and the doctor."""
    if ssl_object is None:
        return "plain TCP"
    cipher = ssl_object.cipher()
    return f"{ssl_object.version()} {cipher[0] if cipher else ''}".strip()

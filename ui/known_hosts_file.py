"""Settings > Known hosts: list, forget and replace remembered servers in the
known-hosts file (`app.security.known_hosts` owns its format and rules), and read
the certificate a server presents now. Blocking; run with `ui.jobs.run_blocking`."""

from __future__ import annotations

from app.errors import HoloremoteError


def known_host_entries(path: str) -> list[tuple[str, str]]:
    """(host:port, SHA-256 hex) of every remembered server, sorted. Blocking."""
    from app.security.known_hosts import load_known_hosts

    return sorted(load_known_hosts(path).entries.items())


def remove_known_host(path: str, endpoint: str) -> list[tuple[str, str]]:
    """Forget one server (as `ssh-keygen -R`); the file is replaced atomically.
    Returns the entries left. Blocking."""
    from types import MappingProxyType

    from app.security.known_hosts import KnownHosts, load_known_hosts

    hosts = load_known_hosts(path)
    if endpoint not in hosts.entries:
        raise HoloremoteError(
            f"{endpoint} is not in {path}", fix="reload the list: the file changed meanwhile"
        )
    kept = {name: digest for name, digest in hosts.entries.items() if name != endpoint}
    KnownHosts(MappingProxyType(kept)).save(path)
    return sorted(kept.items())


def replace_known_host(path: str, endpoint: str, sha256: str) -> list[tuple[str, str]]:
    """Remember a new certificate for a server the person checked. Blocking."""
    from app.security.known_hosts import load_known_hosts

    digest = normalize_sha256(sha256)
    if not digest:
        raise HoloremoteError(
            "the new fingerprint is not a SHA-256 thumbprint",
            fix="paste the 64 hex digits the server's owner gave you, or fetch them",
        )
    updated = load_known_hosts(path).with_entry(endpoint, digest)
    updated.save(path)
    return sorted(updated.entries.items())


def normalize_sha256(text: str) -> str:
    """Lower-case hex of a SHA-256 thumbprint typed any usual way (`SHA256:` prefix,
    colons, spaces, base64 after the prefix), or "" if it is not one."""
    from app.security.thumbprints import parse_pin

    if not text.strip():
        return ""
    try:
        pin = parse_pin(text)
    except HoloremoteError:
        return ""
    return pin.digest.hex() if pin.algorithm == "sha256" else ""


# How long Fetch from the server waits for the TCP connect and the TLS handshake.
FETCH_TIMEOUT_S = 10.0


def fetch_certificate_sha256(endpoint: str, timeout: float = FETCH_TIMEOUT_S) -> str:
    """The SHA-256 of the certificate `host:port` presents now (as `ssh-keyscan`:
    nothing is trusted or sent, the person compares it with what the owner says).
    Blocking: the network."""
    import socket
    import ssl

    from app.security.thumbprints import der_sha256

    host, _, port_text = endpoint.rpartition(":")
    host = host.strip("[]")
    if not host or not port_text.isdigit():
        raise HoloremoteError(f"{endpoint!r} is not host:port", fix="pick an entry of the list")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # reading the certificate, not trusting it
    try:
        with (
            socket.create_connection((host, int(port_text)), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls_socket,
        ):
            der = tls_socket.getpeercert(binary_form=True)
    except OSError as exc:
        raise HoloremoteError(
            f"could not read the certificate of {endpoint}: {exc.strerror or exc}",
            fix="check that the server is listening there",
        ) from None
    if not der:
        raise HoloremoteError(
            f"{endpoint} presented no certificate", fix="is it a secure listener?"
        )
    return der_sha256(der)

"""The trust-on-first-use memory: `host:port -> SHA-256` of the leaf certificate.

One line per endpoint, `host:port sha256-hex`, `#` comments; a plain text file so
people can read and edit it (as ssh's known_hosts). Immutable value in memory;
`save` replaces the file atomically so a crash never leaves half a file.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from app import defaults
from app.security.errors import CertificateFileError

# The handshake port the Microsoft samples and `holoremote listen` use by default;
# the endpoint a known-hosts line names when no other port is given.
DEFAULT_REMOTING_PORT = defaults.DEFAULT_HANDSHAKE_PORT
# Thousands of endpoints is far beyond a person's remoting setups; 1 MiB bounds it.
MAX_KNOWN_HOSTS_BYTES = 1024 * 1024
_LINE = re.compile(r"^(\S+:\d{1,5})\s+([0-9a-fA-F]{64})\s*$")


@dataclass(frozen=True)
class KnownHosts:
    entries: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, endpoint: str) -> str | None:
        return self.entries.get(endpoint)

    def with_entry(self, endpoint: str, sha256_hex: str) -> KnownHosts:
        updated = dict(self.entries)
        updated[endpoint] = sha256_hex.lower()
        return KnownHosts(MappingProxyType(updated))

    def to_text(self) -> str:
        lines = ["# holoremote known hosts: host:port SHA-256 of the server certificate"]
        lines += [f"{endpoint} {digest}" for endpoint, digest in sorted(self.entries.items())]
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike[str]) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".known_hosts.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(self.to_text())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def endpoint_key(host: str, port: int) -> str:
    """`host:port`, lower case, IPv6 in brackets."""
    name = host.strip().lower()
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    return f"{name}:{port}"


def load_known_hosts(path: str | os.PathLike[str]) -> KnownHosts:
    """Read the file; a missing file is an empty memory (first use)."""
    file = Path(path)
    if not file.exists():
        return KnownHosts()
    if file.stat().st_size > MAX_KNOWN_HOSTS_BYTES:
        raise CertificateFileError(
            str(file),
            f"is over {MAX_KNOWN_HOSTS_BYTES // 1024} KiB; not a known-hosts file",
            fix="point --known-hosts at the right file",
        )
    entries: dict[str, str] = {}
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CertificateFileError(
            str(file),
            f"is not UTF-8 text (byte {exc.start}); not a known-hosts file",
            fix="point --known-hosts at the right file",
        ) from None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise CertificateFileError(
                str(file),
                f"line {number} is not 'host:port sha256-hex'",
                fix="fix or delete that line",
            )
        entries[match.group(1).lower()] = match.group(2).lower()
    return KnownHosts(MappingProxyType(entries))


def line_of(path: str | os.PathLike[str], endpoint: str) -> int | None:
    """The 1-based line of `endpoint` in the known-hosts file (for "remove line N")."""
    file = Path(path)
    if not file.is_file() or file.stat().st_size > MAX_KNOWN_HOSTS_BYTES:
        return None
    for number, raw in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        match = _LINE.match(raw.strip())
        if match and match.group(1).lower() == endpoint:
            return number
    return None

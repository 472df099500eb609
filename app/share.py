"""What a listener hands out so that a client can reach it: the addresses, the port
and the pin, as one `holoremote connect` line.

Why in `app`: the line is the command line's own words (its flags), and the window
and `holoremote listen` give out the same one.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_HANDSHAKE_PORT = 8265
ALL_INTERFACES = ("0.0.0.0", "::", "")  # noqa: S104 - names, not a bind


@dataclass(frozen=True)
class ShareInfo:
    """Everything a client needs except the token (a secret: given separately)."""

    addresses: tuple[str, ...]
    port: int
    pin: str  # "SHA256:<hex>", or "" for a plain (insecure) listener
    listener_role: str = "player"

    def endpoint(self, address: str) -> str:
        host = f"[{address}]" if ":" in address else address
        return host if self.port == DEFAULT_HANDSHAKE_PORT else f"{host}:{self.port}"

    def connect_command(self, address: str | None = None) -> str:
        """`holoremote connect HOST[:PORT] --pin SHA256:...` for the first (or the
        given) address; `--plain` when the listener is not secure, and the role the
        client must play when the listener is not the player."""
        target = address or (self.addresses[0] if self.addresses else "HOST")
        words = ["holoremote", "connect", self.endpoint(target)]
        if self.pin:
            words += ["--pin", self.pin]
        else:
            words.append("--plain")
        if self.listener_role == "remote":
            words += ["--role", "player"]
        return shlex.join(words)


def reachable_addresses(interface: str, machine_addresses: Iterable[str]) -> tuple[str, ...]:
    """The addresses a client may use: the one interface listened on, or (for all
    interfaces) every address of this machine, the ones other machines can reach
    first and loopback last; IPv6 link-local addresses (unusable without a zone)
    are left out."""
    if interface.strip() not in ALL_INTERFACES:
        return (interface.strip(),)
    parsed = []
    for text in machine_addresses:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            continue
        if address.is_link_local or address.is_unspecified:
            continue
        if interface.strip() == "0.0.0.0" and address.version != 4:  # noqa: S104
            continue
        parsed.append(address)
    unique = sorted(set(parsed), key=lambda a: (a.is_loopback, a.version, int(a)))
    return tuple(str(a) for a in unique)

"""What the window's fields hold, as plain frozen values.

The panels read their widgets into these; `ui/session_opening.py` turns them into
the endpoint service's settings. No Qt here and no decision: defaults come from
`app.defaults`, as the command line's do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from app import defaults

Role = Literal["remote", "player"]
Mode = Literal["connect", "listen"]
RuntimeChoice = Literal["auto", "builtin", "openxr"]
TokenMode = Literal["shared", "jwt"]

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - a listener is meant to be reachable
LOOPBACK_INTERFACE = "127.0.0.1"


@dataclass(frozen=True)
class ServerSettings:
    store_path: str = ""
    key_path: str = ""  # the key file of a PEM pair; empty for a .pfx or a PEM with both
    passphrase: str = field(default="", repr=False)
    subject_name: str = ""
    realm: str = defaults.DEFAULT_REALM
    token_mode: TokenMode = "shared"  # noqa: S105 - a mode name
    shared_secrets: tuple[str, ...] = field(default=(), repr=False)
    jwt_key_path: str = ""  # a JWKS file or a PEM public key
    jwt_issuer: str = ""
    jwt_audience: str = ""


@dataclass(frozen=True)
class ClientSettings:
    token: str = field(default="", repr=False)
    system_validation: bool = True
    ca_file: str = ""
    pin: str = ""
    trust_on_first_use: bool = False
    known_hosts: str = ""
    allow_name_mismatch: bool = False
    allow_unverified_chain: bool = False
    check_revocation: bool = False
    force_revocation_check: bool = False
    crl_files: str = ""  # paths separated by ';'


def crl_paths(text: str) -> tuple[str, ...]:
    """The CRL files field: paths separated by ';', blanks ignored."""
    return tuple(p.strip() for p in text.split(";") if p.strip())


@dataclass(frozen=True)
class EndpointSettings:
    role: Role = "remote"
    mode: Mode = "connect"
    host: str = "127.0.0.1"
    port: int = defaults.DEFAULT_HANDSHAKE_PORT
    transport_port: int = defaults.DEFAULT_TRANSPORT_PORT
    secure: bool = True
    # Listening: the interface (all of them by default, as `holoremote listen`), and
    # whether to stop after one session instead of listening again.
    listen_interface: str = ALL_INTERFACES
    listen_once: bool = False
    runtime: RuntimeChoice = "auto"
    runtime_json: str = ""
    server: ServerSettings = field(default_factory=ServerSettings)
    client: ClientSettings = field(default_factory=ClientSettings)

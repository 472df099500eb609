"""Settings of the built-in runtime that the extension's structs do not carry.

One frozen value given to `BuiltinRuntime(options)`, like aioquic's
`QuicConfiguration`: timeouts, the role this end plays, the trust source for system
validation and the first buffer sizes of the two-call callbacks. Contradictory or
out-of-range values are refused when the object is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from app import defaults
from app.remoting.builtin.protocol import PROTOCOL_VERSION, ROLES, Role
from app.xr import limits

DEFAULT_HANDSHAKE_TIMEOUT_S = defaults.HANDSHAKE_TIMEOUT_S


@dataclass(frozen=True)
class BuiltinOptions:
    #: Which end this runtime is; the peer must be the other one.
    role: Role = "remote"
    #: TCP connect to the handshake or transport port (then HANDSHAKE_UNREACHABLE).
    tcp_connect_timeout: float = 10.0
    #: From TCP connected to the 200 answer: TLS, validation, challenge, token
    #: (then REMOTING_HANDSHAKE_TIMEOUT). Generous: a person may be asked to trust.
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT_S
    #: From the 200 answer to the transport session being open, on both ends
    #: (then SESSION_OPEN_TIMEOUT); also how long a one-time session id stays valid.
    session_open_timeout: float = defaults.SESSION_OPEN_TIMEOUT_S
    #: Heartbeat frames keep an idle session visibly alive ...
    heartbeat_interval: float = 2.0
    #: ... and silence longer than this ends it (then CONNECTION_LOST).
    heartbeat_timeout: float = 10.0
    #: After our disconnect request, how long the peer has to close
    #: (then PEER_DISCONNECT_TIMEOUT).
    disconnect_wait: float = defaults.DISCONNECT_WAIT_S
    #: PEM CA certificates for system validation; None means the OS trust store.
    trust_ca_pem: bytes | None = field(default=None, repr=False)
    #: Passed to ValidateServerCertificate as forceRevocationCheck.
    force_revocation_check: bool = False
    #: First buffer sizes of the two-call callbacks (0 is legal: ask first).
    initial_string_capacity: int = limits.INITIAL_STRING_CAPACITY
    initial_cert_store_capacity: int = limits.INITIAL_CERT_STORE_CAPACITY
    #: The protocol version this end announces. Only tests and interop experiments
    #: change it (to see REMOTING_VERSION_MISMATCH).
    protocol_version: int = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be 'remote' or 'player', not {self.role!r}")
        for item in fields(self):
            if item.name.endswith(("_timeout", "_interval", "_wait")):
                value = getattr(self, item.name)
                if not (isinstance(value, int | float) and 0 < value <= 3600):
                    raise ValueError(f"{item.name} must be between 0 and 3600 seconds")
        if self.heartbeat_timeout <= self.heartbeat_interval:
            raise ValueError("heartbeat_timeout must be longer than heartbeat_interval")
        if not 0 <= self.initial_string_capacity <= limits.MAX_STRING_BUFFER:
            raise ValueError(f"initial_string_capacity must be 0..{limits.MAX_STRING_BUFFER}")
        if not 0 <= self.initial_cert_store_capacity <= limits.MAX_CERT_STORE_BYTES:
            raise ValueError(
                f"initial_cert_store_capacity must be 0..{limits.MAX_CERT_STORE_BYTES}"
            )
        if not 0 < self.protocol_version < 65536:
            raise ValueError("protocol_version must be 1..65535")

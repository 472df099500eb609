"""The loopback demo's two ends: one recipe for `holoremote demo` and the window's
Tools > Loopback demo.

Both faces make the same fresh test PKI (CA -> intermediate -> server certificate
for 127.0.0.1 and localhost, valid one day) and random token, write them to a
directory the caller owns, and open both ends through `service.open_endpoint` with
these settings, the way a person's own settings would go: the player listens on
127.0.0.1 on free ports, the remote connects trusting the demo's CA. Nothing here
chooses a shortcut the real path does not take (the client validates the chain
itself, as `connect --ca-file` does). Blocking: key generation and file writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.endpoint.providers import ClientAuthSettings, ServerAuthSettings
from app.endpoint.service import EndpointSettings
from app.security.testpki import create_test_pki
from app.security.tokens import generate_shared_secret

# The certificate's friendly name and the realm: what the demo is called where a
# person sees it (the subject list, the challenge).
DEMO_NAME = "holoremote-demo"
DEMO_HOSTS = ("localhost",)
DEMO_IPS = ("127.0.0.1",)
DEMO_INTERFACE = "127.0.0.1"  # loopback only: the demo is never reachable from outside
DEMO_VALIDITY_DAYS = 1


@dataclass(frozen=True)
class DemoCredentials:
    """What the demo wrote: the server's store and the CA file clients trust, and the
    token both ends share (kept out of repr)."""

    store_path: str
    passphrase: str = field(repr=False)
    friendly_name: str
    ca_path: str
    token: str = field(repr=False)
    pin: str

    def server(self) -> ServerAuthSettings:
        return ServerAuthSettings(
            store_path=self.store_path,
            passphrase=self.passphrase,
            subject_name=self.friendly_name,
            shared_secrets=(self.token,),
        )

    def client(self) -> ClientAuthSettings:
        return ClientAuthSettings(token=self.token, ca_file=self.ca_path)


def write_demo_credentials(out_dir: str | Path) -> DemoCredentials:
    """A fresh test PKI and token, written into `out_dir` (the .pfx mode 0600)."""
    pki = create_test_pki(
        list(DEMO_HOSTS),
        list(DEMO_IPS),
        days=DEMO_VALIDITY_DAYS,
        friendly_name=DEMO_NAME,
        intermediate=True,
    )
    paths = pki.write(out_dir)
    return DemoCredentials(
        store_path=str(paths["pfx"]),
        passphrase=pki.passphrase,
        friendly_name=pki.friendly_name,
        ca_path=str(paths["ca"]),
        token=generate_shared_secret(),
        pin=pki.pin,
    )


def player_settings(*, secure: bool = True) -> EndpointSettings:
    """The listening end: the player, on loopback, free ports."""
    return EndpointSettings(
        mode="listen",
        role="player",
        listen_interface=DEMO_INTERFACE,
        port=0,
        transport_port=0,
        secure=secure,
        realm=DEMO_NAME,
        runtime="builtin",
    )


def remote_settings(port: int, *, secure: bool = True) -> EndpointSettings:
    """The connecting end: the remote, to the player's handshake `port`."""
    return EndpointSettings(
        mode="connect",
        role="remote",
        host=DEMO_INTERFACE,
        port=port,
        secure=secure,
        realm=DEMO_NAME,
        runtime="builtin",
    )

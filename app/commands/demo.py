"""`holoremote demo`: both ends in one process, secure, on 127.0.0.1.

A fresh test PKI (CA -> intermediate -> server certificate for 127.0.0.1 and
localhost) and a random token; the player listens on ephemeral ports, the remote
connects, every callback is printed as it fires, then the remote disconnects.
Exit 0 when both ends connected and closed cleanly, 3 otherwise. With --plain the
same without TLS or callbacks.
"""

from __future__ import annotations

import argparse
import asyncio

from app.commands.common import (
    EXIT_CONNECTION_FAILED,
    EXIT_OK,
    EventPrinter,
    add_common_arguments,
    print_events,
    report_usage_error,
)
from app.endpoint.callbacks import fixed_server_certificate, fixed_token, system_result_validator
from app.endpoint.events import Connected, Disconnected, Listening
from app.endpoint.session import Session, SessionConfig
from app.errors import HoloremoteError
from app.remoting.builtin import BuiltinOptions, BuiltinRuntime
from app.security.testpki import create_test_pki
from app.security.token_validation import SharedSecretValidator
from app.security.tokens import generate_shared_secret
from app.xr.callback_types import ServerCertificateMaterial

# Each wait of the demo; the whole run takes well under a second on loopback.
STEP_TIMEOUT_S = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, side="demo")


async def demo(args: argparse.Namespace) -> int:
    player_out = EventPrinter(as_json=args.json, prefix="player")
    remote_out = EventPrinter(as_json=args.json, prefix="remote")
    providers_server: dict[str, object] = {}
    providers_client: dict[str, object] = {}
    ca_pem = None
    if args.secure:
        pki = create_test_pki(["localhost"], ["127.0.0.1"], intermediate=True)
        token = generate_shared_secret()
        ca_pem = pki.ca_pem
        material = ServerCertificateMaterial(pki.pfx, pki.passphrase, pki.friendly_name)
        providers_server = {
            "server_certificate_provider": fixed_server_certificate(material),
            "token_validator": SharedSecretValidator((token,)).matches,
        }
        providers_client = {
            "token_provider": fixed_token(token),
            "certificate_validator": system_result_validator,
        }
        player_out.info(
            f"test PKI made; server certificate {pki.pin} (friendly name "
            f"'{pki.friendly_name}'); a random token is shared in memory"
        )
    player = Session.with_callbacks(
        SessionConfig(
            mode="listen",
            listen_interface="127.0.0.1",
            port=0,
            transport_port=0,
            secure=args.secure,
            role="player",
        ),
        BuiltinRuntime(BuiltinOptions(role="player")),
        **providers_server,
    )
    printers = [asyncio.ensure_future(print_events(player, player_out))]
    remote: Session | None = None
    try:
        await player.start()
        listening = await player.wait_for(
            lambda e: isinstance(e, Listening | Disconnected), STEP_TIMEOUT_S
        )
        if not isinstance(listening, Listening):
            return EXIT_CONNECTION_FAILED
        remote = Session.with_callbacks(
            SessionConfig(
                mode="connect",
                host="127.0.0.1",
                port=listening.port,
                secure=args.secure,
                role="remote",
            ),
            BuiltinRuntime(BuiltinOptions(role="remote", trust_ca_pem=ca_pem)),
            **providers_client,
        )
        printers.append(asyncio.ensure_future(print_events(remote, remote_out)))
        await remote.start()
        outcomes = []
        for session in (remote, player):
            outcomes.append(
                await session.wait_for(
                    lambda e: isinstance(e, Connected | Disconnected), STEP_TIMEOUT_S
                )
            )
        if not all(isinstance(o, Connected) for o in outcomes):
            return EXIT_CONNECTION_FAILED
        await remote.disconnect()
        ends = [
            await s.wait_for(lambda e: isinstance(e, Disconnected), STEP_TIMEOUT_S)
            for s in (remote, player)
        ]
        clean = all(isinstance(e, Disconnected) and not e.failed for e in ends)
        return EXIT_OK if clean else EXIT_CONNECTION_FAILED
    finally:
        if remote is not None:
            await remote.aclose()
        await player.aclose()
        await asyncio.gather(*printers)


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(demo(args))
    except TimeoutError:
        print("holoremote demo: a step did not finish in time", flush=True)
        return EXIT_CONNECTION_FAILED
    except HoloremoteError as exc:
        return report_usage_error("demo", exc)

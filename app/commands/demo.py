"""`holoremote demo`: both ends in one process, secure, on 127.0.0.1.

A fresh test PKI (CA -> intermediate -> server certificate for 127.0.0.1 and
localhost) and a random token in a temporary directory; the player listens on
ephemeral ports, the remote connects, every callback is printed as it fires, then the
remote disconnects. Both ends open through the endpoint service with the settings of
`app.endpoint.demo`, as `listen` and `connect` (and the window's loopback demo) do.
Exit 0 when both ends connected and closed cleanly, 3 otherwise. With --plain the
same without TLS or callbacks.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile

from app.commands.common import (
    EXIT_CONNECTION_FAILED,
    EXIT_OK,
    EventPrinter,
    add_common_arguments,
    open_session,
    print_events,
    report_usage_error,
)
from app.endpoint import demo as recipe
from app.endpoint.events import Connected, Disconnected, Listening
from app.endpoint.session import Session
from app.errors import HoloremoteError

# Each wait of the demo; the whole run takes well under a second on loopback.
STEP_TIMEOUT_S = 5.0
# demo has no --runtime flag: both ends always run on the built-in runtime in this process.
DEMO_RUNTIME_REASON = "built-in runtime: the demo runs both ends on it, in this process"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, side="demo")


async def demo(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="holoremote-demo-") as scratch:
        return await _demo(args, scratch)


async def _demo(args: argparse.Namespace, scratch: str) -> int:
    player_out = EventPrinter(as_json=args.json, prefix="player")
    remote_out = EventPrinter(as_json=args.json, prefix="remote")
    credentials = None
    if args.secure:
        credentials = recipe.write_demo_credentials(scratch)
        player_out.info(
            f"test PKI made; server certificate {credentials.pin} (friendly name "
            f"'{credentials.friendly_name}'); a random token is shared in memory"
        )
    player = open_session(
        args,
        player_out,
        recipe.player_settings(secure=args.secure),
        server=credentials.server if credentials else None,
        runtime_reason=DEMO_RUNTIME_REASON,
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
        remote = open_session(
            args,
            remote_out,
            recipe.remote_settings(listening.port, secure=args.secure),
            client=credentials.client if credentials else None,
            runtime_reason=DEMO_RUNTIME_REASON,
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

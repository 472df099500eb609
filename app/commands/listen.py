"""`holoremote listen`: serve one secure (or plain) remoting endpoint.

Prints every event (text, or one JSON object per line with --json). A listen ends
with one disconnect: after a session, or when a client of this protocol is refused
(a presented token refused: AUTHENTICATION_FAILED; the same role: HANDSHAKE_FAILED;
no common version: REMOTING_VERSION_MISMATCH), as with Microsoft's runtime. Without
--once it then listens again, as Microsoft's sample does, on the same ports (with
--ephemeral-port too, so the printed ports stay valid), until interrupted (Ctrl+C:
exit 0). With --once it exits with that outcome: 0 if a client connected and closed
cleanly, 3 otherwise (the disconnect reason printed by name). Probes that never
present themselves as a client (doctor, scanners, TLS probes) only leave a note.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from pathlib import Path

from app.commands.common import (
    EXIT_CONNECTION_FAILED,
    EXIT_OK,
    EventPrinter,
    UsageError,
    add_common_arguments,
    exit_status,
    interrupted,
    open_session,
    print_events,
    report_usage_error,
    server_auth_settings,
    timeouts,
)
from app.endpoint.events import Connected, Disconnected, SessionEvent, listens_again
from app.endpoint.link_test import ChannelServices
from app.endpoint.service import EndpointSettings
from app.endpoint.session import Session
from app.errors import HoloremoteError

# A listener waits for clients as long as it runs; bounded only to keep every wait finite.
FOREVER_S = 365 * 24 * 3600.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, side="listen")
    parser.add_argument(
        "--no-echo",
        dest="echo",
        action="store_false",
        help="refuse link tests (by default a listener answers 'holoremote link-test')",
    )
    parser.add_argument(
        "--save-dir",
        metavar="DIR",
        help="keep files sent with 'connect --send' here (each checked by SHA-256; a "
        "transfer cut short leaves nothing)",
    )


def save_dir(args: argparse.Namespace) -> Path | None:
    if args.save_dir is None:
        return None
    folder = Path(args.save_dir)
    if not folder.is_dir():
        raise UsageError("--save-dir", f"{folder} is not a folder", fix="create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError("--save-dir", f"{folder} is not writable by this user")
    return folder


def build_session(args: argparse.Namespace, printer: EventPrinter) -> Session:
    port, transport_port = args.port, args.transport_port
    if args.ephemeral_port:
        port = transport_port = 0
    settings = EndpointSettings(
        mode="listen",
        role=args.role,
        port=port,
        transport_port=transport_port,
        listen_interface=args.listen_interface,
        secure=args.secure,
        realm=args.realm,
        runtime=args.runtime,
        runtime_json=args.runtime_json,
        timeouts=timeouts(args),
    )
    return open_session(args, printer, settings, server=lambda: server_auth_settings(args))


async def serve(args: argparse.Namespace) -> int:
    printer = EventPrinter(as_json=args.json)
    folder = save_dir(args)
    session = build_session(args, printer)
    stop = interrupted()
    printing = asyncio.ensure_future(print_events(session, printer))
    services = ChannelServices(
        session.channels,
        echo=args.echo,
        save_dir=folder,
        on_file=lambda f: printer.info(
            f"saved {f.path} ({f.size} bytes, SHA-256 {f.sha256} checked)",
            path=str(f.path),
            size=f.size,
            sha256=f.sha256,
        ),
        on_refusal=lambda text: printer.info(f"refused {text}"),
    )
    serving = asyncio.ensure_future(services.run())
    status = EXIT_OK
    try:
        mark = session.event_count
        await session.start()
        while True:
            stopped = asyncio.ensure_future(stop.wait())
            end = asyncio.ensure_future(_session_end(session, mark))
            done, _ = await asyncio.wait({stopped, end}, return_when=asyncio.FIRST_COMPLETED)
            if stopped in done:
                end.cancel()
                return EXIT_OK
            stopped.cancel()
            last, connected = end.result()
            if args.once:
                status = exit_status(last, was_connected=connected)
                return status
            if isinstance(last, Disconnected) and not listens_again(last, connected=connected):
                return EXIT_CONNECTION_FAILED  # the listener itself cannot run
            mark = session.event_count
            await session.listen_again()
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        await session.aclose()
        await printing


async def _session_end(session: Session, mark: int) -> tuple[SessionEvent, bool]:
    """The Disconnected that ends this listen, and whether a client had connected."""
    first = await session.wait_for(
        lambda e: isinstance(e, Connected | Disconnected), FOREVER_S, after=mark
    )
    if isinstance(first, Disconnected):
        return first, False
    last = await session.wait_for(lambda e: isinstance(e, Disconnected), FOREVER_S, after=mark)
    return last, True


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(serve(args))
    except HoloremoteError as exc:
        return report_usage_error("listen", exc)

"""`holoremote connect HOST[:PORT]`: connect to a listening endpoint.

Prints every event; on success stays connected for --hold seconds (default: until
interrupted or the peer ends the session), then disconnects cleanly. Exit 0 if it
connected and closed cleanly, 3 if the connection failed (the disconnect reason by
its specification name, with explanation and fix), 2 for bad flags or files.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

from app.commands.common import (
    EXIT_CONNECTION_FAILED,
    EXIT_OK,
    EventPrinter,
    UsageError,
    add_common_arguments,
    client_auth_settings,
    exit_status,
    interrupted,
    open_session,
    parse_endpoint,
    print_events,
    read_token,
    report_usage_error,
    timeouts,
)
from app.endpoint.events import Connected, Disconnected, SessionEvent
from app.endpoint.link_test import LinkTestError, send_file
from app.endpoint.service import EndpointSettings
from app.endpoint.session import Session
from app.errors import HoloremoteError

T = TypeVar("T")

# Beyond the protocol's own timeouts, how long to wait for the runtime's verdict.
OUTCOME_MARGIN_S = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("endpoint", metavar="HOST[:PORT]", help="the listener (port 8265)")
    add_common_arguments(parser, side="connect")
    parser.add_argument(
        "--hold",
        type=float,
        metavar="SECONDS",
        help="stay connected this long, then disconnect (default: until interrupted)",
    )
    parser.add_argument(
        "--trust-on-first-use",
        action="store_true",
        help="accept an unknown server's certificate, remember it in the known-hosts file "
        "(--known-hosts, else the per-user one the window uses too) and print its pin "
        "(the command line cannot ask)",
    )
    parser.add_argument(
        "--send",
        metavar="FILE",
        help="send this file over a data channel once connected (the listener needs "
        "--save-dir), then disconnect",
    )
    if not any(action.dest == "channel" for action in parser._actions):
        parser.add_argument(
            "--channel",
            type=int,
            metavar="N",
            help="the data channel for --send (default: the first id of this role's "
            "range: remote 0..63, player 64..127)",
        )
    parser.add_argument(
        "--no-system-validation",
        dest="system_validation",
        action="store_false",
        help="do not ask the runtime for system validation (performSystemValidation)",
    )


def build_session(args: argparse.Namespace, printer: EventPrinter) -> Session:
    host, port = parse_endpoint(args.endpoint)
    if getattr(args, "send", None) is not None:
        from app.commands.link_test import channel_for

        send_path(args)
        channel_for(args)
    if args.hold is not None and not 0 <= args.hold <= 10**6:
        raise UsageError("--hold", f"{args.hold:g} is not a number of seconds")
    settings = EndpointSettings(
        mode="connect",
        role=args.role,
        host=host,
        port=port,
        secure=args.secure,
        perform_system_validation=args.system_validation,
        runtime=args.runtime,
        runtime_json=args.runtime_json,
        timeouts=timeouts(args),
    )
    return open_session(
        args,
        printer,
        settings,
        client=lambda: client_auth_settings(args, read_token(args, required=True) or ""),
    )


async def connect(args: argparse.Namespace) -> int:
    printer = EventPrinter(as_json=args.json)
    session = build_session(args, printer)
    stop = interrupted()
    printing = asyncio.ensure_future(print_events(session, printer))
    last: SessionEvent | None = None
    connected = False
    try:
        await session.start()
        limit = args.handshake_timeout + args.session_open_timeout + OUTCOME_MARGIN_S
        first = await _until(
            session.wait_for(lambda e: isinstance(e, Connected | Disconnected), limit), stop
        )
        if first is None or isinstance(first, Disconnected):
            last = first
            return exit_status(first, was_connected=False) if first else EXIT_CONNECTION_FAILED
        connected = True
        if args.send is not None:
            return await _send(args, session, printer)
        ended = session.wait_for(lambda e: isinstance(e, Disconnected), 10**7)
        hold = args.hold
        last = await _until(_within(ended, hold) if hold is not None else ended, stop, swallow=True)
        if last is None:
            mark = session.event_count
            await session.disconnect()
            last = await session.wait_for(
                lambda e: isinstance(e, Disconnected),
                args.disconnect_wait + OUTCOME_MARGIN_S,
                after=mark,
            )
        return exit_status(last, was_connected=connected)
    finally:
        await session.aclose()
        await printing


def send_path(args: argparse.Namespace) -> Path | None:
    if args.send is None:
        return None
    path = Path(args.send)
    if not path.is_file():
        raise UsageError("--send", f"{path} is not a file")
    if not os.access(path, os.R_OK):
        raise UsageError("--send", f"{path} is not readable by this user")
    return path


async def _send(args: argparse.Namespace, session: Session, printer: EventPrinter) -> int:
    from app.commands.link_test import channel_for

    path = send_path(args)
    assert path is not None
    try:
        sent = await send_file(session.channels, channel_for(args), path)
    except LinkTestError as exc:
        if args.json:
            printer.json({"event": "sendFailed", "message": str(exc), "fix": exc.fix})
        else:
            printer.text(f"send failed: {exc}")
        status = EXIT_CONNECTION_FAILED
    else:
        printer.info(
            f"sent {sent.name}: {sent.size} bytes in {sent.seconds:.2f} s, SHA-256 "
            f"{sent.sha256} checked and kept by the peer",
            name=sent.name,
            size=sent.size,
            sha256=sent.sha256,
        )
        status = EXIT_OK
    mark = session.event_count
    await session.disconnect()
    await session.wait_for(
        lambda e: isinstance(e, Disconnected),
        args.disconnect_wait + OUTCOME_MARGIN_S,
        after=mark,
    )
    return status


async def _within(awaitable: Awaitable[T], seconds: float) -> T:
    """`awaitable`'s result, TimeoutError after `seconds` (a timeout scope: the project
    bans `asyncio.wait_for`, see pyproject.toml)."""
    async with asyncio.timeout(seconds):
        return await awaitable


async def _until(awaitable, stop: asyncio.Event, *, swallow: bool = False):  # type: ignore[no-untyped-def]
    """The awaitable's result, or None when interrupted (or, with swallow, timed out)."""
    task = asyncio.ensure_future(awaitable)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            try:
                return task.result()
            except TimeoutError:
                if swallow:
                    return None
                raise
        return None
    finally:
        task.cancel()
        stopped.cancel()


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(connect(args))
    except TimeoutError:
        print("holoremote connect: no outcome within the timeouts", flush=True)
        return EXIT_CONNECTION_FAILED
    except HoloremoteError as exc:
        return report_usage_error("connect", exc)

"""`holoremote link-test HOST[:PORT]`: how fast and how quick is the secured link?

Connects exactly as `connect` does (same flags, same validation), opens a data
channel, and measures round-trip time (p50, p99) and throughput both ways against a
`holoremote listen` (which answers link tests unless started with --no-echo). Prints a
table, or one JSON object with --json. Exit 0 with a result, 3 if the connection or the
test failed, 2 for bad flags.
"""

from __future__ import annotations

import argparse
import asyncio

from app.commands import connect as connect_command
from app.commands.common import (
    EXIT_CONNECTION_FAILED,
    EXIT_OK,
    EventPrinter,
    UsageError,
    report_usage_error,
)
from app.endpoint.events import Connected, Disconnected
from app.endpoint.link_test import LinkTestError, LinkTestResult, run_link_test
from app.errors import HoloremoteError
from app.xr.values import own_channel_ids

DEFAULT_SECONDS = 3.0
DEFAULT_MESSAGE_SIZE = 64 * 1024
MAX_MESSAGE_SIZE = (1 << 20) - 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    connect_command.add_arguments(parser)
    parser.add_argument(
        "--seconds",
        type=float,
        default=DEFAULT_SECONDS,
        metavar="S",
        help="total test time, a third each for round trips, upload, download "
        "(default %(default)g)",
    )
    parser.add_argument(
        "--message-size",
        type=int,
        default=DEFAULT_MESSAGE_SIZE,
        metavar="BYTES",
        help="bytes per message (default %(default)d, at most 1 MiB - 8)",
    )
    add_channel_argument(parser, "the channel the test runs on")


def add_channel_argument(parser: argparse.ArgumentParser, purpose: str) -> None:
    if any(action.dest == "channel" for action in parser._actions):
        return
    parser.add_argument(
        "--channel",
        type=int,
        metavar="N",
        help=f"{purpose} (default: the first id of this role's range: remote 0..63, "
        "player 64..127)",
    )


def channel_for(args: argparse.Namespace) -> int:
    ids = own_channel_ids(args.role)
    channel = ids.start if args.channel is None else args.channel
    if channel not in ids:
        raise UsageError(
            "--channel",
            f"{channel} is not a channel the {args.role} may open",
            fix=f"use {ids.start}..{ids.stop - 1} (the specification's range for the {args.role})",
        )
    return channel


def check_arguments(args: argparse.Namespace) -> None:
    if not 0.3 <= args.seconds <= 3600:
        raise UsageError("--seconds", f"{args.seconds:g} is not 0.3..3600 seconds")
    if not 16 <= args.message_size <= MAX_MESSAGE_SIZE:
        raise UsageError(
            "--message-size", f"{args.message_size} is not 16..{MAX_MESSAGE_SIZE} bytes"
        )
    channel_for(args)


def table(result: LinkTestResult) -> list[str]:
    return [
        f"link test, {result.message_size} bytes per message",
        f"  round trip   p50 {result.rtt_p50_ms:8.3f} ms   p99 {result.rtt_p99_ms:8.3f} ms"
        f"   ({len(result.rtt_ms)} pings)",
        f"  upload       {result.upload.mbit_per_s:10.1f} Mbit/s"
        f"   ({result.upload.bytes} bytes in {result.upload.seconds:.2f} s)",
        f"  download     {result.download.mbit_per_s:10.1f} Mbit/s"
        f"   ({result.download.bytes} bytes in {result.download.seconds:.2f} s)",
    ]


async def link_test(args: argparse.Namespace) -> int:
    check_arguments(args)
    printer = EventPrinter(as_json=args.json)
    quiet = EventPrinter(as_json=args.json)
    session = connect_command.build_session(args, quiet)
    try:
        await session.start()
        limit = (
            args.handshake_timeout + args.session_open_timeout + connect_command.OUTCOME_MARGIN_S
        )
        first = await session.wait_for(lambda e: isinstance(e, Connected | Disconnected), limit)
        if isinstance(first, Disconnected):
            printer.event(first)
            return EXIT_CONNECTION_FAILED
        try:
            result = await run_link_test(
                session.channels,
                channel_for(args),
                seconds=args.seconds,
                message_size=args.message_size,
            )
        except LinkTestError as exc:
            if args.json:
                printer.json({"event": "linkTestFailed", "message": str(exc)})
            else:
                printer.text(f"link test failed: {exc}")
            return EXIT_CONNECTION_FAILED
        if args.json:
            printer.json({"event": "linkTest", **result.to_json()})
        else:
            for line in table(result):
                printer.text(line)
        await session.disconnect()
        return EXIT_OK
    finally:
        await session.aclose()


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(link_test(args))
    except TimeoutError:
        print("holoremote link-test: no outcome within the timeouts", flush=True)
        return EXIT_CONNECTION_FAILED
    except HoloremoteError as exc:
        return report_usage_error("link-test", exc)

"""The `holoremote` command line.

This module only parses and dispatches; each subcommand lives in
`app/commands/<name>.py` with two functions, `add_arguments(parser)` and
`run(args) -> int`, imported lazily so `holoremote --version` stays fast and never
imports the network or crypto stack it does not need.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from app import __version__
from app.console import make_streams_printable

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONNECTION_FAILED = 3
# The reader of our output went away (`holoremote inspect F | head -1`): 128 + SIGPIPE,
# the status a shell shows for a C tool that stopped on SIGPIPE.
EXIT_OUTPUT_CLOSED = 141

# name -> (module, one-line help). The order is the order of `holoremote --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "listen": ("app.commands.listen", "serve one secure (or plain) remoting endpoint"),
    "connect": ("app.commands.connect", "connect to a listening endpoint (HOST[:PORT])"),
    "link-test": (
        "app.commands.link_test",
        "measure round-trip time and throughput over a secured data channel (HOST[:PORT])",
    ),
    "demo": ("app.commands.demo", "both ends in one process, secure; prints the callbacks"),
    "inspect": ("app.commands.inspect", "list the certificates in a .pfx/.p12, PEM or DER file"),
    "verify": ("app.commands.verify", "validate a chain for a host exactly as the client would"),
    "certs": ("app.commands.certs", "make a test PKI (CA, server .pfx, thumbprints)"),
    "doctor": ("app.commands.doctor", "probe a listener step by step and explain what fails"),
}


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on usage errors already; keep that, but say what to run next."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\nRun '{self.prog} --help'.\n")


def _chosen_command(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """Only the chosen subcommand's module is imported (and adds its options)."""
    # No abbreviations: `--passphrase X` must not silently mean `--passphrase-file X`.
    parser = _Parser(
        prog="holoremote",
        allow_abbrev=False,
        description="Secure Holographic Remoting connections through OpenXR. "
        "Without a command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"holoremote {__version__}")
    entry = parser.add_mutually_exclusive_group()
    entry.add_argument(
        "--install-desktop-entry",
        action="store_const",
        const="install",
        dest="desktop_entry",
        help="add holoremote to the desktop's menus for this user (for pip/pipx installs)",
    )
    entry.add_argument(
        "--remove-desktop-entry",
        action="store_const",
        const="remove",
        dest="desktop_entry",
        help="take the entry --install-desktop-entry made away again",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    chosen = _chosen_command(argv)
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(
            name, help=help_text, description=help_text, allow_abbrev=False
        )
        if name != chosen:
            continue
        module = importlib.import_module(module_name)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    make_streams_printable()
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(arguments).parse_args(arguments)
    if args.desktop_entry and args.command is not None:
        flag = f"--{args.desktop_entry}-desktop-entry"
        parser = build_parser(arguments)
        parser.error(f"{flag} stands alone; run it without '{args.command}'")
    if args.desktop_entry:
        from app import desktop_entry

        return desktop_entry.run(args.desktop_entry)
    if args.command is None:
        from app.gui_launch import launch_window

        return launch_window()
    try:
        result: int = args._run(args)
    except BrokenPipeError:
        return _output_closed()
    return result


def _output_closed() -> int:
    """Stop quietly when the reader of standard output has gone, as `cat` or `grep`
    do: Python ignores SIGPIPE, so the write raises instead. Standard output is pointed
    at the null device so that the interpreter's final flush does not raise again."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):  # no file descriptor behind sys.stdout: nothing to flush
        pass
    return EXIT_OUTPUT_CLOSED


if __name__ == "__main__":
    sys.exit(main())

"""`holoremote certs create`: a test PKI in one command (CA, server .pfx with a
friendly name and passphrase, CA PEM for clients, thumbprints and their QR code).

The passphrase never comes from argv (it would show in `ps` and shell history):
it is read from --passphrase-file or $HOLOREMOTE_KEY_PASSPHRASE, or generated and
written to DIR/passphrase.txt with mode 0600.
"""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path

from app.commands._certificate_cli import EXIT_OK, EXIT_USAGE, read_passphrase, report_error
from app.console import can_print
from app.errors import HoloremoteError, InputError
from app.security.hostnames import parse_host
from app.security.testpki import (
    DEFAULT_FRIENDLY_NAME,
    DEFAULT_VALIDITY_DAYS,
    MAX_VALIDITY_DAYS,
    create_test_pki,
    generate_passphrase,
    write_private_file,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="certs_command", metavar="ACTION", required=True)
    create = sub.add_parser(
        "create", help="create a CA and a server certificate (.pfx)", allow_abbrev=False
    )
    create.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    create.add_argument(
        "--host", required=True, action="append", metavar="NAME", help="DNS name (repeatable)"
    )
    create.add_argument(
        "--ip", action="append", default=[], metavar="ADDR", help="IP address (repeatable)"
    )
    create.add_argument("--passphrase-file", metavar="F", help="passphrase for the .pfx")
    create.add_argument("--days", type=int, default=DEFAULT_VALIDITY_DAYS, help="validity in days")
    create.add_argument("--key-type", choices=("ecdsa", "rsa"), default="ecdsa")
    create.add_argument("--friendly-name", default=DEFAULT_FRIENDLY_NAME, metavar="NAME")
    create.add_argument(
        "--intermediate", action="store_true", help="issue through an intermediate CA"
    )


def _check(args: argparse.Namespace) -> None:
    if not 1 <= args.days <= MAX_VALIDITY_DAYS:
        raise InputError(
            f"--days {args.days}",
            f"must be 1..{MAX_VALIDITY_DAYS}",
            fix="choose a shorter validity",
        )
    for host in args.host:
        try:
            if not isinstance(parse_host(host), str):
                raise ValueError("an IP address")
        except ValueError:
            raise InputError(
                f"--host {host}", "is not a DNS name", fix="give IP addresses with --ip"
            ) from None
    for address in args.ip:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise InputError(
                f"--ip {address}", "is not an IP address", fix="write e.g. 192.168.1.20"
            ) from None
    if not args.friendly_name.strip():
        raise InputError("--friendly-name", "is empty", fix="give the name the server will ask for")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        _check(args)
        passphrase = read_passphrase(args.passphrase_file)
        if out.exists() and not out.is_dir():
            raise InputError(
                f"--out {out}", "exists and is not a directory", fix="choose a directory"
            )
    except HoloremoteError as exc:
        report_error("certs create", exc)
        return EXIT_USAGE
    generated = passphrase is None
    secret = generate_passphrase() if passphrase is None else passphrase
    pki = create_test_pki(
        args.host,
        args.ip,
        days=args.days,
        key_type=args.key_type,
        friendly_name=args.friendly_name,
        passphrase=secret,
        intermediate=args.intermediate,
    )
    try:
        paths = pki.write(out)
        if generated:
            write_private_file(out / "passphrase.txt", (secret + "\n").encode())
    except OSError as exc:
        report_error(
            "certs create", InputError(f"--out {out}", f"cannot be written ({exc.strerror})")
        )
        return EXIT_USAGE
    print(f"server store: {paths['pfx']} (friendly name '{pki.friendly_name}')")
    print(f"CA for clients: {paths['ca']}")
    if generated:
        print(f"passphrase: generated and written to {out / 'passphrase.txt'} (mode 0600)")
    print(pki.thumbprint_text(), end="")
    qr = pki.qr_text()
    if can_print(qr):
        print("pin as QR code:")
        print(qr, end="")
    else:
        print(
            "pin as QR code (in ASCII: this console cannot show block characters; "
            f"{paths['qr_svg']} has it as an image):"
        )
        print(pki.qr_ascii(), end="")
    return EXIT_OK

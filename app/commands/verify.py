"""`holoremote verify CHAIN_FILE --host NAME`: validate a chain exactly as the client
would (system validation, then the client policy), print the seven fields with
their reasons, and exit 0 only where the connection would be accepted.

Exit status: 0 accepted, 1 refused, 2 usage or unreadable input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from app.commands._certificate_cli import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    read_passphrase,
    report_error,
)
from app.errors import HoloremoteError, InputError
from app.security.chain_file import revocation_options, verify_chain_file
from app.security.client_policy import ClientPolicy
from app.security.known_hosts import (
    DEFAULT_REMOTING_PORT,
    KnownHosts,
    endpoint_key,
    line_of,
    load_known_hosts,
)
from app.security.thumbprints import der_sha256, parse_pin
from app.xr.validation_result import FIELD_NAMES, ValidationResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # No abbreviations: "--passphrase" must not silently mean "--passphrase-file".
    parser.allow_abbrev = False
    parser.add_argument(
        "chain_file", metavar="CHAIN_FILE", help="the chain, leaf first (PEM, DER or .pfx)"
    )
    parser.add_argument(
        "--host", required=True, help="the host name or IP address the client connects to"
    )
    parser.add_argument(
        "--ca-file", metavar="F", help="trust these CAs instead of the system store"
    )
    parser.add_argument("--at", metavar="ISO-8601", help="validate at this time (default: now)")
    parser.add_argument(
        "--crl", metavar="F", action="append", default=[], help="a CRL file (repeatable)"
    )
    parser.add_argument(
        "--ocsp", action="store_true", help="ask the OCSP responder named in the certificates"
    )
    parser.add_argument(
        "--fetch-crls", action="store_true", help="download the CRL distribution points"
    )
    parser.add_argument(
        "--force-revocation-check",
        action="store_true",
        help="as forceRevocationCheck: refuse when revocation cannot be determined",
    )
    parser.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="SHA256:...",
        help="accept exactly this certificate",
    )
    parser.add_argument(
        "--known-hosts",
        metavar="FILE",
        help="trust on first use: accept the certificate remembered for this host in FILE",
    )
    parser.add_argument(
        "--host-port",
        type=int,
        metavar="PORT",
        help=f"the port of the known-hosts entry (default {DEFAULT_REMOTING_PORT})",
    )
    parser.add_argument(
        "--trust-on-first-use",
        action="store_true",
        help="with --known-hosts: learn an unknown host's certificate and save FILE",
    )
    parser.add_argument("--allow-name-mismatch", action="store_true")
    parser.add_argument("--allow-unverified-chain", action="store_true")
    parser.add_argument("--passphrase-file", metavar="F", help="passphrase of a .pfx CHAIN_FILE")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _parse_time(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"--at {text}", "is not an ISO-8601 time", fix="write e.g. 2025-06-01T12:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _fields_text(result: ValidationResult) -> list[str]:
    values = result.to_json()
    lines = []
    for name in FIELD_NAMES:
        value = values[name]
        shown = value if isinstance(value, str) else ("yes" if value else "no")
        if name == "nameMismatch":
            shown = result.name_mismatch.name
        lines.append(f"  {name:<22} {shown:<12} {result.reasons.get(name, '')}")
    return lines


def _check_tofu_arguments(args: argparse.Namespace) -> None:
    if args.known_hosts is None and (args.trust_on_first_use or args.host_port is not None):
        flag = "--trust-on-first-use" if args.trust_on_first_use else "--host-port"
        raise InputError(
            flag, "only means something with --known-hosts", fix="add --known-hosts FILE"
        )
    if args.host_port is None:
        args.host_port = DEFAULT_REMOTING_PORT
    if not 0 < args.host_port < 65536:
        raise InputError(
            f"--host-port {args.host_port}", "is not a TCP port", fix="give a port from 1 to 65535"
        )


def _tofu_notes(
    args: argparse.Namespace, memory: KnownHosts, learned: KnownHosts | None, sha256: str
) -> tuple[list[str], KnownHosts | None]:
    """What to tell about the known-hosts file, and the memory to save (if any)."""
    endpoint = endpoint_key(args.host, args.host_port)
    remembered = memory.get(endpoint)
    if remembered is not None and remembered != sha256:
        line = line_of(args.known_hosts, endpoint)
        where = f"line {line} of {args.known_hosts}" if line else f"the line in {args.known_hosts}"
        return [
            f"the certificate of {endpoint} CHANGED (remembered SHA-256 {remembered}, "
            f"presented {sha256}); if it was replaced on purpose, remove {where} "
            f"('{endpoint} {remembered}') and verify again"
        ], None
    if remembered is None and learned is None:
        return [
            f"{endpoint} is not in {args.known_hosts}; refused. Check the SHA-256 {sha256} "
            "out of band, then add --trust-on-first-use to remember it"
        ], None
    return [], learned


def run(args: argparse.Namespace) -> int:
    try:
        at = _parse_time(args.at)
        _check_tofu_arguments(args)
        policy = ClientPolicy(
            pins=tuple(parse_pin(p) for p in args.pin),
            known_hosts=Path(args.known_hosts) if args.known_hosts else None,
            allow_name_mismatch=args.allow_name_mismatch,
            allow_unverified_chain=args.allow_unverified_chain,
        )
        memory = load_known_hosts(args.known_hosts) if args.known_hosts else KnownHosts()
        passphrase = read_passphrase(args.passphrase_file)
        revocation = revocation_options(
            args.crl,
            check_ocsp=args.ocsp,
            fetch_crls=args.fetch_crls,
            online=args.force_revocation_check,
        )
        check = verify_chain_file(
            args.chain_file,
            args.host,
            ca_file=args.ca_file,
            passphrase=passphrase,
            at=at,
            revocation=revocation,
            force_revocation_check=args.force_revocation_check,
            policy=policy,
            port=args.host_port,
            known_hosts=memory,
            user_accepts=args.trust_on_first_use if args.known_hosts else None,
        )
    except HoloremoteError as exc:
        report_error("verify", exc)
        return EXIT_USAGE
    validation, effective = check.validation, check.result
    leaf_sha256 = der_sha256(check.chain_der[0])
    tofu: list[str] = []
    if args.known_hosts:
        tofu, learned = _tofu_notes(args, memory, check.decision.known_hosts, leaf_sha256)
        if learned is not None and check.accepted:
            try:
                learned.save(args.known_hosts)
            except OSError as exc:
                report_error(
                    "verify",
                    InputError(
                        f"--known-hosts {args.known_hosts}",
                        f"could not be written ({exc.strerror or exc})",
                        fix="choose a writable file",
                    ),
                )
                return EXIT_USAGE
            endpoint = endpoint_key(args.host, args.host_port)
            tofu.append(
                f"trusted on first use: saved {endpoint} SHA-256 {leaf_sha256} "
                f"to {args.known_hosts}"
            )
        elif learned is not None:
            tofu.append(
                f"not saved to {args.known_hosts}: the certificate is refused for other reasons"
            )
    accepted, failed = check.accepted, check.failed
    if args.json:
        report: dict[str, Any] = {
            "file": args.chain_file,
            "host": args.host,
            "trustSource": validation.trust_source,
            "policy": policy.mode,
            "accepted": accepted,
            "failed": failed,
            "result": effective.to_json(),
            "systemResult": validation.result.to_json(),
            "path": [c.subject.rfc4514_string() for c in validation.path],
            "notes": list(validation.notes),
            "knownHosts": tofu,
        }
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.chain_file} for {args.host} (trust: {validation.trust_source})")
        print("\n".join(_fields_text(effective)))
        for warning in effective.warnings:
            print(f"warning: {warning}")
        for note in validation.notes:
            print(f"note: {note}")
        for line in tofu:
            print(f"known hosts: {line}")
        print("ACCEPTED: a client would connect" if accepted else f"REFUSED: {', '.join(failed)}")
    return EXIT_OK if accepted else EXIT_FAILURE

"""`holoremote verify CHAIN_FILE --host NAME`: validate a chain exactly as the client
would (system validation, then the client policy), print the seven fields with
their reasons, and exit 0 only where the connection would be accepted.

Exit status: 0 accepted, 1 refused, 2 usage or unreadable input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from cryptography.hazmat.primitives import serialization

from app.commands._certificate_cli import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    read_passphrase,
    report_error,
)
from app.errors import HoloremoteError, InputError
from app.security.certstore import load_certificate_store, read_bounded_file
from app.security.client_policy import ClientPolicy, apply_policy
from app.security.revocation import RevocationOptions, parse_crls
from app.security.revocation_fetch import http_fetcher
from app.security.system_validation import validate_server_chain
from app.security.thumbprints import parse_pin
from app.security.trust import TrustAnchors, anchors_from_file, system_anchors
from app.security.verdict import FIELD_NAMES, ValidationResult, is_acceptable


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


def _revocation(args: argparse.Namespace) -> RevocationOptions:
    crls = []
    for path in args.crl:
        data = read_bounded_file(path, what="CRL file")
        try:
            crls += parse_crls(data)
        except ValueError:
            raise InputError(
                f"--crl {path}",
                "is not a CRL (DER or PEM 'X509 CRL')",
                fix="give the CA's CRL file",
            ) from None
    online = args.ocsp or args.fetch_crls or args.force_revocation_check
    return RevocationOptions(
        crls=tuple(crls),
        check_ocsp=args.ocsp,
        fetch_crls=args.fetch_crls,
        fetcher=http_fetcher() if online else None,
    )


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


def run(args: argparse.Namespace) -> int:
    try:
        at = _parse_time(args.at)
        policy = ClientPolicy(
            pins=tuple(parse_pin(p) for p in args.pin),
            allow_name_mismatch=args.allow_name_mismatch,
            allow_unverified_chain=args.allow_unverified_chain,
        )
        data = read_bounded_file(args.chain_file, what="chain file")
        passphrase = read_passphrase(args.passphrase_file)
        store = load_certificate_store(data, passphrase, source=args.chain_file, now=at)
        anchors: TrustAnchors = (
            anchors_from_file(args.ca_file) if args.ca_file else system_anchors()
        )
        revocation = _revocation(args)
    except HoloremoteError as exc:
        report_error("verify", exc)
        return EXIT_USAGE
    chain_der = [c.public_bytes(serialization.Encoding.DER) for c in store.certificates]
    validation = validate_server_chain(
        chain_der,
        args.host,
        anchors=anchors,
        at=at,
        revocation=revocation,
        force_revocation_check=args.force_revocation_check,
    )
    decision = apply_policy(validation.result, chain_der, args.host, 0, policy)
    effective = decision.result
    accepted = is_acceptable(effective, revocation_forced=args.force_revocation_check)
    failed = effective.failed_fields(revocation_forced=args.force_revocation_check)
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
        }
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.chain_file} for {args.host} (trust: {validation.trust_source})")
        print("\n".join(_fields_text(effective)))
        for warning in effective.warnings:
            print(f"warning: {warning}")
        for note in validation.notes:
            print(f"note: {note}")
        print("ACCEPTED: a client would connect" if accepted else f"REFUSED: {', '.join(failed)}")
    return EXIT_OK if accepted else EXIT_FAILURE

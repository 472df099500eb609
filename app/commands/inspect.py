"""`holoremote inspect FILE`: list every certificate in a .pfx/.p12, PEM or DER file
with the fields a deployer checks (names, usage, validity, key, thumbprints)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.commands._certificate_cli import EXIT_OK, EXIT_USAGE, read_passphrase, report_error
from app.errors import HoloremoteError
from app.security.certinfo import describe_store
from app.security.certstore import load_certificate_store, read_bounded_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # No abbreviations: "--passphrase" must not silently mean "--passphrase-file".
    parser.allow_abbrev = False
    parser.add_argument("file", metavar="FILE", help="a .pfx/.p12 store, or PEM/DER certificates")
    parser.add_argument(
        "--passphrase-file",
        metavar="F",
        help="file holding the store's passphrase (else $HOLOREMOTE_KEY_PASSPHRASE)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _text(report: dict[str, Any]) -> str:
    lines = [
        f"{report['source']}: {report['format']}, {len(report['certificates'])} certificate(s)"
    ]
    for index, cert in enumerate(report["certificates"]):
        lines.append(f"\n[{index}] {cert['friendlyName'] or cert['subject']}")
        for label, key in (
            ("friendly name", "friendlyName"),
            ("subject", "subject"),
            ("issuer", "issuer"),
            ("serial", "serial"),
            ("version", "version"),
            ("not before", "notBefore"),
            ("not after", "notAfter"),
            ("DNS names", "dnsNames"),
            ("IP addresses", "ipAddresses"),
            ("key usage", "keyUsage"),
            ("extended key usage", "extendedKeyUsage"),
            ("basic constraints", "basicConstraints"),
            ("key type", "keyType"),
            ("key size", "keySize"),
            ("signature", "signatureAlgorithm"),
            ("private key", "hasPrivateKey"),
            ("SHA-256", "sha256"),
            ("SHA-1 thumbprint", "sha1"),
        ):
            value = cert[key]
            if isinstance(value, list):
                value = ", ".join(value) or "(none)"
            elif isinstance(value, dict):
                value = ", ".join(f"{k}={v}" for k, v in value.items())
            elif isinstance(value, bool):
                value = "yes" if value else "no"
            lines.append(f"  {label:<20} {value if value is not None else '(none)'}")
    lines += [f"\nwarning: {w}" for w in report["warnings"]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        passphrase = read_passphrase(args.passphrase_file)
        data = read_bounded_file(args.file)
        store = load_certificate_store(data, passphrase, source=args.file)
    except HoloremoteError as exc:
        report_error("inspect", exc)
        return EXIT_USAGE
    report = describe_store(store)
    print(json.dumps(report, indent=2) if args.json else _text(report))
    return EXIT_OK

"""Agreement of `holoremote verify` with the x509-limbo server-validation cases.

    python scripts/limbo_agreement.py /path/to/limbo.json [--show-all]

The suite (https://github.com/C2SP/x509-limbo) is generated locally and never
stored in this repository; this harness only reads the `limbo.json` it is given.
Each SERVER case that `verify` can express (a peer name, serverAuth or no extra
EKU, no caller-chosen chain depth) is written to a temporary directory and run
through the `verify` command in this process, with the case's validation time, its
trusted certificates as `--ca-file`, its CRLs as `--crl` under
`--force-revocation-check` (the CRLs are the case's whole revocation answer).

Agreement: SUCCESS cases exit 0, FAILURE cases exit 1 (a refusal with a reason;
exit 2, "bad input", is a disagreement). A false accept is a FAILURE case that
exits 0. The script prints the figures and every disagreement, and exits 1 when
there is a false accept.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.cli import main as cli_main


def expressible(case: dict[str, Any]) -> str | None:
    """None when `verify` can express the case, else why not."""
    if case["validation_kind"] != "SERVER":
        return "client validation"
    if not case.get("expected_peer_name"):
        return "no peer name (verify needs --host)"
    if case.get("max_chain_depth") not in (None, 255):
        return "a caller-chosen max_chain_depth"
    if case.get("expected_peer_names"):
        return "several peer names"
    if case.get("signature_algorithms"):
        return "a caller-chosen signature algorithm set"
    if set(case.get("extended_key_usage") or []) - {"serverAuth"}:
        return "an EKU other than serverAuth"
    return None


def run_case(case: dict[str, Any], work: Path) -> tuple[int, str]:
    chain = work / "chain.pem"
    chain.write_text(case["peer_certificate"] + "".join(case["untrusted_intermediates"]))
    anchors = work / "ca.pem"
    anchors.write_text("".join(case["trusted_certs"]))
    argv = [
        "verify",
        str(chain),
        "--host",
        case["expected_peer_name"]["value"],
        "--ca-file",
        str(anchors),
    ]
    if case.get("validation_time"):
        argv += ["--at", case["validation_time"]]
    for index, crl in enumerate(case.get("crls") or []):
        path = work / f"crl{index}.pem"
        path.write_text(crl)
        argv += ["--crl", str(path)]
    if case.get("crls"):
        argv.append("--force-revocation-check")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
        except Exception as exc:  # noqa: BLE001 (a traceback is a disagreement to report)
            return 99, f"CRASH {type(exc).__name__}: {exc}"
    text = (out.getvalue() + err.getvalue()).strip().splitlines()
    return code, (text[-1] if text else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("limbo_json", type=Path)
    parser.add_argument("--show-all", action="store_true", help="print every case")
    args = parser.parse_args(argv)
    cases = json.loads(args.limbo_json.read_text())["testcases"]
    skipped: dict[str, int] = {}
    agree = 0
    false_accepts: list[str] = []
    differences: list[str] = []
    slowest = (0.0, "")
    total = 0
    for case in cases:
        why = expressible(case)
        if why:
            skipped[why] = skipped.get(why, 0) + 1
            continue
        total += 1
        with tempfile.TemporaryDirectory() as tmp:
            started = time.monotonic()
            code, last = run_case(case, Path(tmp))
            took = time.monotonic() - started
        slowest = max(slowest, (took, case["id"]))
        want = 0 if case["expected_result"] == "SUCCESS" else 1
        line = f"{case['id']}: expected {case['expected_result']}, exit {code}: {last}"
        if code == want:
            agree += 1
            if args.show_all:
                print("ok   " + line)
        else:
            differences.append(line)
            if want == 1 and code == 0:
                false_accepts.append(case["id"])
    print(f"expressible server cases: {total}")
    for why, count in sorted(skipped.items()):
        print(f"  not expressible ({why}): {count}")
    print(f"agreement: {agree}/{total} ({100.0 * agree / max(total, 1):.1f}%)")
    print(f"false accepts: {len(false_accepts)}")
    print(f"slowest case: {slowest[1]} ({slowest[0]:.2f} s)")
    for line in differences:
        print("DIFF " + line)
    return 1 if false_accepts else 0


if __name__ == "__main__":
    sys.exit(main())

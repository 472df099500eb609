"""Chain validations per second: the seven-field system validation
(`app.security.system_validation.validate_server_chain`, all seven fields of
XrRemotingCertificateValidationResultMSFT filled separately) against
`cryptography`'s bare verifier, on the same 3-certificate ECDSA P-256 chain (leaf,
intermediate, root; the TLS layer's DER, leaf first), host 127.0.0.1, interleaved
within each round, per second of the thread's CPU time (not a test; `make bench`
runs it).

The bare verifier is built once (store of the root, server verifier for the IP) and
each call parses the presented DER and verifies: the least that checks a chain.

    python bench/chain.py [--rounds 3] [--seconds 1]
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import Figure, add_arguments, emit, make_pki  # noqa: E402


def rate(work: Callable[[], object], seconds: float) -> float:
    """Calls per CPU second of `work` over about `seconds` of this thread's CPU time
    (on a shared machine, wall time would also count the time others ran)."""
    count = 0
    started = time.thread_time()
    deadline = started + seconds
    while True:
        for _ in range(20):
            work()
        count += 20
        now = time.thread_time()
        if now >= deadline:
            return count / (now - started)


def _pair(
    roots: list[object], chain: list[bytes], rounds: int, seconds: float
) -> tuple[list[float], list[float]]:
    """(ours, bare) validations per CPU second against trust anchors `roots`."""
    from cryptography import x509
    from cryptography.x509 import verification

    from app.security.system_validation import validate_server_chain
    from app.security.trust import TrustAnchors

    anchors = TrustAnchors(tuple(roots), "the bench anchors")  # type: ignore[arg-type]
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store(list(roots)))  # type: ignore[arg-type]
        .build_server_verifier(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    )

    def bare() -> object:
        leaf, *rest = (x509.load_der_x509_certificate(d) for d in chain)
        return verifier.verify(leaf, rest)

    def ours() -> object:
        checked = validate_server_chain(chain, "127.0.0.1", anchors=anchors)
        assert checked.result.trusted_root, checked.result
        return checked

    bare()
    ours()
    mine: list[float] = []
    theirs: list[float] = []
    for index in range(rounds):
        if index % 2:
            mine.append(rate(ours, seconds))
            theirs.append(rate(bare, seconds))
        else:
            theirs.append(rate(bare, seconds))
            mine.append(rate(ours, seconds))
    return mine, theirs


def figures(rounds: int, seconds: float) -> list[Figure]:
    from cryptography import x509

    from app.errors import HoloremoteError
    from app.security.trust import system_anchors

    with tempfile.TemporaryDirectory(prefix="holoremote-bench-") as tmp:
        pki = make_pki(Path(tmp), 3)
    root = x509.load_der_x509_certificate(pki.root_der)
    chain = list(pki.chain_der)
    mine, theirs = _pair([root], chain, rounds, seconds)
    result = [
        Figure(
            name="3-cert chain validations/s (seven fields)",
            unit="/s",
            ours=mine,
            baseline_name="cryptography bare verifier",
            baseline=theirs,
            target="ratio>=",
            bound=0.5,
        )
    ]
    # The same chain with the operating system's roots trusted as well, as a client
    # without --ca-file validates (no target: how the anchor set's size weighs).
    try:
        system = list(system_anchors().certificates)
    except HoloremoteError:  # a machine without a system store: no such row
        return result
    mine, theirs = _pair([*system, root], chain, rounds, seconds)
    result.append(
        Figure(
            name=f"same, with the system store ({len(system) + 1} roots) trusted",
            unit="/s",
            ours=mine,
            baseline_name="cryptography bare verifier",
            baseline=theirs,
        )
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    args = parser.parse_args()
    rounds, seconds = (1, 0.05) if args.smoke else (args.rounds, args.seconds)
    emit(figures(rounds, seconds), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

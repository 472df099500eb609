"""What every benchmark script shares: one figure per row (ours against a baseline
measured in the same run, round by round), the table `make bench` prints, and the
few facts read from /proc (CPU time, resident memory) and from the PKI they use.

A module for the benchmark scripts, not one of them (it runs nothing by itself).

Each script measures in rounds; in every round the baseline and ours are measured
back to back, so both see the same machine. A figure is the median over the rounds
with the min-max range; the ratio is the median of the per-round ratios (the machine
is shared, so a ratio taken inside one round moves less than either figure).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[1]

# How a target reads: the ratio (ours / baseline) at most or at least a bound, or
# ours alone (absolute, in the figure's unit) below or at most a bound.
TargetKind = Literal["ratio<=", "ratio>=", "abs<", "abs<=", "none"]


@dataclass
class Figure:
    """One row of the table: a figure measured in rounds against a baseline."""

    name: str
    unit: str
    ours: list[float]
    baseline_name: str = ""
    baseline: list[float] = field(default_factory=list)
    target: TargetKind = "none"
    bound: float = 0.0
    note: str = ""  # e.g. "0 dropped"
    ok_extra: bool = True  # a condition besides the number (e.g. nothing dropped)

    def ratios(self) -> list[float]:
        return [o / b for o, b in zip(self.ours, self.baseline, strict=False) if b > 0]

    def ratio(self) -> float | None:
        ratios = self.ratios()
        return statistics.median(ratios) if ratios else None

    def met(self) -> bool | None:
        if self.target == "none":
            return None
        if self.target.startswith("abs"):
            value = statistics.median(self.ours)
            held = value < self.bound if self.target == "abs<" else value <= self.bound
        else:
            ratio = self.ratio()
            if ratio is None:
                return False
            held = ratio <= self.bound if self.target == "ratio<=" else ratio >= self.bound
        return held and self.ok_extra

    def target_text(self) -> str:
        if self.target == "none":
            return "-"
        op = {"ratio<=": "<=", "ratio>=": ">=", "abs<": "<", "abs<=": "<="}[self.target]
        if self.target.startswith("ratio"):
            return f"{op} {self.bound:g}x"
        return f"{op} {self.bound:g} {self.unit}"


def spread(values: Sequence[float]) -> str:
    """Median and min-max of a figure's rounds, with a precision that suits it."""
    if not values:
        return "-"
    med, low, high = statistics.median(values), min(values), max(values)
    digits = 2 if abs(med) < 10 else 1 if abs(med) < 1000 else 0
    return f"{med:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def table(figures: Sequence[Figure]) -> str:
    """The one table: figure, ours, baseline, ratio, target, met."""
    header = ("figure", "holoremote", "baseline", "ratio", "target", "met")
    rows = [header]
    for f in figures:
        ratio = f.ratio()
        met = f.met()
        base = f"{f.baseline_name} {spread(f.baseline)}" if f.baseline else f.baseline_name or "-"
        ours = f"{spread(f.ours)} {f.unit}" + (f", {f.note}" if f.note else "")
        rows.append(
            (
                f.name,
                ours,
                base,
                "-" if ratio is None else f"{ratio:#.3g}x",
                f.target_text(),
                "-" if met is None else ("yes" if met else "NO"),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser, rounds: int = 3) -> None:
    parser.add_argument("--rounds", type=int, default=rounds, help="rounds (>= 3 for a record)")
    parser.add_argument(
        "--smoke", action="store_true", help="a tiny iteration count: proves the script runs"
    )
    parser.add_argument("--json", action="store_true", help="one JSON list of figures on stdout")


def emit(figures: Sequence[Figure], as_json: bool) -> None:
    if as_json:
        print(json.dumps([asdict(f) for f in figures]))
    else:
        print(table(figures))


def load_figures(text: str) -> list[Figure]:
    return [Figure(**item) for item in json.loads(text)]


def bench_env() -> dict[str, str]:
    """The environment for the processes a benchmark starts: the built-in runtime's
    listener and clients, never an OpenXR runtime a test or the machine selected."""
    env = {k: v for k, v in os.environ.items() if k != "XR_RUNTIME_JSON"}
    env["PYTHONPATH"] = str(ROOT)
    return env


# --- /proc --------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS), MB (10^6 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"no VmRSS for {pid}")


# --- the PKI every benchmark serves -------------------------------------------------


@dataclass(frozen=True)
class BenchPki:
    """ECDSA P-256 throughout; files written under `directory`."""

    directory: Path
    pfx: Path
    passphrase_file: Path
    chain_pem: Path  # the presented chain, leaf first (for openssl s_server)
    key_pem: Path
    ca_pem: Path  # the root, for the clients' trust
    chain_der: tuple[bytes, ...]  # presented chain, leaf first
    root_der: bytes


def make_pki(directory: Path, chain_length: int = 3) -> BenchPki:
    """A PKI whose server presents `chain_length` certificates: the leaf alone (1),
    leaf + root (2), or leaf + (n - 2) intermediates + root."""
    sys.path.insert(0, str(ROOT))
    from cryptography.hazmat.primitives import serialization

    from app.security.testpki import (
        CLOCK_SKEW_ALLOWANCE,
        export_pkcs12,
        make_ca,
        make_server_certificate,
    )

    start = dt.datetime.now(dt.UTC) - CLOCK_SKEW_ALLOWANCE
    end = start + dt.timedelta(days=30)
    root = make_ca("holoremote bench root CA", not_before=start, not_after=end)
    issuer = root
    cas = [root]
    for level in range(max(0, chain_length - 2)):
        issuer = make_ca(
            f"holoremote bench intermediate CA {level + 1}",
            not_before=start,
            not_after=end,
            issuer=issuer,
        )
        cas.append(issuer)
    leaf = make_server_certificate(
        issuer, hosts=["localhost"], ips=["127.0.0.1"], not_before=start, not_after=end
    )
    presented = [c.certificate for c in reversed(cas)][: chain_length - 1]
    passphrase = "bench-passphrase-0123456789"
    pfx = export_pkcs12(leaf, presented, friendly_name="holoremote-server", passphrase=passphrase)
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "pfx": directory / "server.pfx",
        "pass": directory / "pass.txt",
        "chain": directory / "chain.pem",
        "key": directory / "key.pem",
        "ca": directory / "ca.pem",
    }
    files["pfx"].write_bytes(pfx)
    files["pass"].write_text(passphrase)
    pem = serialization.Encoding.PEM
    files["chain"].write_bytes(
        b"".join(c.public_bytes(pem) for c in [leaf.certificate, *presented])
    )
    files["key"].touch(mode=0o600)
    files["key"].write_bytes(
        leaf.private_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    files["ca"].write_bytes(root.pem)
    der = serialization.Encoding.DER
    return BenchPki(
        directory,
        files["pfx"],
        files["pass"],
        files["chain"],
        files["key"],
        files["ca"],
        tuple(c.public_bytes(der) for c in [leaf.certificate, *presented]),
        root.der,
    )

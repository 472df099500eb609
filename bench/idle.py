"""Resident memory of a listener holding 200 idle TLS connections: `holoremote
listen` against a bare asyncio-streams TLS listener (the simplest correct code: one
SSLContext, `asyncio.start_server`, a handler that waits for bytes), each in its own
process, same ECDSA P-256 certificate (not a test; `make bench` runs it).

Each connection completes its TLS handshake and then sends nothing (the listener
waits for the handshake request); each comes from its own loopback address
(127.0.2.1, 127.0.2.2, ...), as the listener admits only a few unauthenticated
connections per peer address. Measured: VmRSS of the listener process before the
first connection and with all connections open.

    python bench/idle.py [--rounds 3] [--connections 200]
"""

from __future__ import annotations

import argparse
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.handshake import start_holoremote, start_script_listener  # noqa: E402
from bench.harness import BenchPki, Figure, add_arguments, emit, make_pki, rss_mb  # noqa: E402

TOKEN = "bench-token-0123456789abcdefghijkl"
BARE_LISTENER = """
import asyncio, ssl, sys
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
async def handle(reader, writer):
    try:
        await reader.read(65536)
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), ssl=context)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


def start_bare(pki: BenchPki) -> tuple[subprocess.Popen[bytes], int]:
    return start_script_listener(BARE_LISTENER, pki)


def hold(process: subprocess.Popen[bytes], port: int, ca: Path, count: int) -> tuple[float, float]:
    """(RSS MB before, RSS MB with `count` idle TLS connections open)."""
    time.sleep(0.3)  # the probe connection of wait_port is gone
    before = rss_mb(process.pid)
    context = ssl.create_default_context(cafile=str(ca))
    held: list[ssl.SSLSocket] = []
    try:
        for index in range(count):
            # Each from its own loopback address: the listener admits only a few
            # unauthenticated connections per peer address (docs/security.md).
            source = (f"127.0.{2 + index // 250}.{1 + index % 250}", 0)
            raw = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=source)
            held.append(context.wrap_socket(raw, server_hostname="127.0.0.1"))
        time.sleep(0.5)  # the listener has run its handlers for the last ones
        with_connections = rss_mb(process.pid)
    finally:
        for sock in held:
            sock.close()
    return before, with_connections


def figures(rounds: int, count: int) -> list[Figure]:
    ours: list[float] = []
    bare: list[float] = []
    ours_before: list[float] = []
    with tempfile.TemporaryDirectory(prefix="holoremote-bench-") as tmp:
        pki = make_pki(Path(tmp), 3)
        token_file = Path(tmp) / "token.txt"
        token_file.write_text(TOKEN)
        for _ in range(rounds):
            for who in ("bare", "ours"):
                if who == "ours":
                    process, port = start_holoremote(pki, token_file)
                else:
                    process, port = start_bare(pki)
                try:
                    before, held = hold(process, port, pki.ca_pem, count)
                finally:
                    process.terminate()
                    process.wait(timeout=10)
                if who == "ours":
                    ours.append(held)
                    ours_before.append(before)
                else:
                    bare.append(held)
    import statistics

    return [
        Figure(
            name=f"listener RSS holding {count} idle TLS connections",
            unit="MB",
            ours=ours,
            baseline_name="bare asyncio TLS listener",
            baseline=bare,
            target="abs<=",
            bound=80.0,
            note=f"{statistics.median(ours_before):.0f} MB before the first",
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--connections", type=int, default=200)
    args = parser.parse_args()
    rounds, count = (1, 5) if args.smoke else (args.rounds, args.connections)
    emit(figures(rounds, count), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Handshake rate and listener CPU per handshake: `openssl s_time -new -tls1_3 -www`
against `holoremote listen` and against `openssl s_server -www`, both serving the
same ECDSA P-256 certificate and chain, each in its own process (not a test; `make
bench` runs it).

Every connection is a full TLS 1.3 handshake followed by one HTTP request and its
answer (s_time sends `GET <page> HTTP/1.0`): s_server answers with its status page,
the listener with its HTTP refusal of anything but the handshake POST (405, through
h11, as it answers a probe or a stray browser), so both do a handshake plus one
request/response per connection. The CPU per handshake is the listener process's own
user + system time (/proc/PID/stat) over the s_time run divided by the connections
s_time completed. The servers alternate within each round.

A third server, for scale and not a target: the simplest correct asyncio listener
doing the same work (asyncio streams over `ssl`, one context, read the request, answer
405, close), so each run shows how much of the gap to s_server is asyncio's own TLS
server and how much is ours.

    python bench/handshake.py [--rounds 3] [--seconds 4]
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    BenchPki,
    Figure,
    add_arguments,
    bench_env,
    cpu_seconds,
    emit,
    make_pki,
)

TOKEN = "bench-token-0123456789abcdefghijkl"
WAIT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


def s_time(port: int, page: str, seconds: float) -> int:
    """Connections that `openssl s_time -new` completed in `seconds`."""
    result = subprocess.run(
        [
            "openssl",
            "s_time",
            "-connect",
            f"127.0.0.1:{port}",
            "-new",
            "-tls1_3",
            "-www",
            page,
            "-time",
            str(max(1, round(seconds))),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    match = re.search(r"(\d+) connections in ([\d.]+) real seconds", result.stdout)
    if not match:
        raise RuntimeError(f"openssl s_time gave no rate:\n{result.stdout}\n{result.stderr}")
    return int(match.group(1))


def start_holoremote(
    pki: BenchPki, token_file: Path, workers: int = 1
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "app",
        "listen",
        "--runtime",
        "builtin",
        "--listen-interface",
        "127.0.0.1",
        "--port",
        str(port),
        "--transport-port",
        str(free_port()),
        "--cert-store",
        str(pki.pfx),
        "--key-passphrase-file",
        str(pki.passphrase_file),
        "--token-file",
        str(token_file),
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=bench_env(),
    )
    wait_port(port, process)
    return process, port


BARE_HTTP_LISTENER = """
import asyncio, ssl, sys
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
ANSWER = (b"HTTP/1.1 405 Method Not Allowed\\r\\nContent-Length: 0\\r\\n"
          b"Connection: close\\r\\n\\r\\n")
async def handle(reader, writer):
    try:
        await reader.readuntil(b"\\r\\n\\r\\n")
        writer.write(ANSWER)
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), ssl=context)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


def start_script_listener(script: str, pki: BenchPki) -> tuple[subprocess.Popen[bytes], int]:
    """A bare listener written as a Python script (argv: port, chain PEM, key PEM) in
    its own process, once it listens."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(port), str(pki.chain_pem), str(pki.key_pem)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port, process)
    return process, port


def start_bare_asyncio(pki: BenchPki) -> tuple[subprocess.Popen[bytes], int]:
    """The simplest correct asyncio TLS listener answering the request (for scale)."""
    return start_script_listener(BARE_HTTP_LISTENER, pki)


def start_s_server(pki: BenchPki) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [
            "openssl",
            "s_server",
            "-accept",
            str(port),
            "-cert",
            str(pki.chain_pem),
            "-key",
            str(pki.key_pem),
            "-tls1_3",
            "-www",
            "-naccept",
            "100000000",
            "-quiet",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port, process)
    return process, port


def run_one(
    process: subprocess.Popen[bytes], port: int, page: str, seconds: float
) -> tuple[float, float]:
    """(handshakes per second, CPU ms per handshake) of one s_time run."""
    cpu_before = cpu_seconds(process.pid)
    started = time.perf_counter()
    connections = s_time(port, page, seconds)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(process.pid) - cpu_before
    return connections / elapsed, cpu * 1000 / max(1, connections)


def figures(rounds: int, seconds: float) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="holoremote-bench-") as tmp:
        pki = make_pki(Path(tmp), 3)
        token_file = Path(tmp) / "token.txt"
        token_file.write_text(TOKEN)
        servers = {
            "ours": (*start_holoremote(pki, token_file), "/remoting/v1/handshake"),
            "theirs": (*start_s_server(pki), "/"),
            "asyncio": (*start_bare_asyncio(pki), "/"),
        }
        rate: dict[str, list[float]] = {who: [] for who in servers}
        cpu: dict[str, list[float]] = {who: [] for who in servers}
        try:
            if rounds > 1:  # warm-up: first context use, page cache
                for process, port, page in servers.values():
                    run_one(process, port, page, 1)
            for index in range(rounds):
                order = ("theirs", "ours", "asyncio")
                if index % 2:
                    order = order[::-1]
                for who in order:
                    process, port, page = servers[who]
                    r, c = run_one(process, port, page, seconds)
                    rate[who].append(r)
                    cpu[who].append(c)
        finally:
            for process, _port, _page in servers.values():
                process.terminate()
                process.wait(timeout=10)
    return [
        Figure(
            name="TLS 1.3 handshakes + request /s (s_time -new)",
            unit="/s",
            ours=rate["ours"],
            baseline_name="openssl s_server -www",
            baseline=rate["theirs"],
            target="ratio>=",
            bound=0.85,
        ),
        Figure(
            name="listener CPU per handshake",
            unit="ms",
            ours=cpu["ours"],
            baseline_name="openssl s_server -www",
            baseline=cpu["theirs"],
            target="ratio<=",
            bound=2.0,
        ),
        Figure(
            name="same handshakes /s, against bare asyncio",
            unit="/s",
            ours=rate["ours"],
            baseline_name="bare asyncio TLS listener",
            baseline=rate["asyncio"],
        ),
        Figure(
            name="same CPU per handshake, against bare asyncio",
            unit="ms",
            ours=cpu["ours"],
            baseline_name="bare asyncio TLS listener",
            baseline=cpu["asyncio"],
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument(
        "--seconds", type=float, default=4.0, help="s_time run per server and round"
    )
    args = parser.parse_args()
    if not shutil.which("openssl"):
        print("openssl is needed for the handshake-rate comparison", file=sys.stderr)
        return 2
    rounds, seconds = (1, 1.0) if args.smoke else (args.rounds, args.seconds)
    emit(figures(rounds, seconds), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

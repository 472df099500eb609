"""Secure connect latency: the built-in runtime's client against a bare blocking
CPython `ssl` client doing the same wire work, each in its own process, against one
`holoremote listen` in a third process (not a test; `make bench` runs it).

The wire work, both clients: TLS to the handshake port (chain checked against the
test root, name 127.0.0.1), POST -> 401 challenge, POST with the token -> 200, then
TLS to the transport port, HELLO -> WELCOME. Ours times xrRemotingConnectMSFT to the
Connected event (system validation, the four callbacks through their function
pointers, the leaf check on the transport port); the bare client builds its
SSLContext once and validates with OpenSSL alone. The orchestrator tells a client to
connect only when the listener has reported that it listens, and waits for the
listener's disconnect before the next one, so no attempt meets a closed port.

    python bench/connect.py [--rounds 3] [--connects 15] [--chain-length 3]
    python bench/connect.py --scaling          # latency against chain length 1-5
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import Figure, add_arguments, bench_env, emit, make_pki, spread  # noqa: E402

TOKEN = "bench-token-0123456789abcdefghijkl"
WAIT_S = 30.0
HANDSHAKE_PATH = "/remoting/v1/handshake"


# --- the two clients (each runs in its own process: `--client bare|ours`) -----------


# The handshake POST both bare clients send: the challenge (no auth), then the token.
REQUEST = (
    "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHoloremote-Protocol-Version: 1\r\n"
    "Holoremote-Role: remote\r\nContent-Length: 0\r\n{auth}\r\n"
)


def request(port: int, auth: str = "") -> bytes:
    return REQUEST.format(path=HANDSHAKE_PATH, port=port, auth=auth).encode()


def _status_and_length(head: bytes) -> tuple[int, int]:
    """A response head's status code and Content-Length (0 when absent)."""
    match = re.search(rb"(?i)content-length: *(\d+)", head)
    return int(head.split()[1]), int(match.group(1)) if match else 0


def _read_response(sock: ssl.SSLSocket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the response")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, length = _status_and_length(head)
    while len(body) < length:
        body += sock.recv(4096)
    return status, body


class BareClient:
    """The standard library only: one context, blocking sockets."""

    def __init__(self, ca_file: str) -> None:
        self.context = ssl.create_default_context(cafile=ca_file)

    def connect(self, port: int) -> float:
        started = time.perf_counter()
        raw = socket.create_connection(("127.0.0.1", port))
        with self.context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            sock.sendall(request(port))
            status, _ = _read_response(sock)
            if status != 401:
                raise RuntimeError(f"challenge: {status}")
            auth = f"Authorization: Bearer {TOKEN}\r\n"
            sock.sendall(request(port, auth))
            status, body = _read_response(sock)
            if status != 200:
                raise RuntimeError(f"token: {status}")
        answer = json.loads(body)
        raw = socket.create_connection(("127.0.0.1", answer["transportPort"]))
        with self.context.wrap_socket(raw, server_hostname="127.0.0.1") as transport:
            hello = struct.pack(">H", 1) + answer["sessionId"].encode()
            transport.sendall(struct.pack(">BI", 0x01, len(hello)) + hello)
            header = b""
            while len(header) < 5:
                chunk = transport.recv(5 - len(header))
                if not chunk:
                    raise ConnectionError("closed before WELCOME")
                header += chunk
            if header[0] != 0x02:
                raise RuntimeError(f"no WELCOME: frame {header[0]}")
            elapsed = time.perf_counter() - started
            transport.sendall(struct.pack(">BI", 0x11, 0))  # disconnect request
            while transport.recv(4096):
                pass
        return elapsed


class AsyncioClient:
    """For scale, not a target: the same wire work with asyncio streams over `ssl`
    (one context, one loop for the process), the simplest correct asyncio client;
    shows how much of the gap to the blocking client asyncio's TLS is by itself."""

    def __init__(self, ca_file: str) -> None:
        import asyncio

        self.context = ssl.create_default_context(cafile=ca_file)
        self.loop = asyncio.new_event_loop()

    def connect(self, port: int) -> float:
        return self.loop.run_until_complete(self._connect(port))

    async def _connect(self, port: int) -> float:
        import asyncio

        async def response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
            status, length = _status_and_length(await reader.readuntil(b"\r\n\r\n"))
            return status, await reader.readexactly(length)

        started = time.perf_counter()
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=self.context, server_hostname="127.0.0.1"
        )
        writer.write(request(port))
        status, _ = await response(reader)
        if status != 401:
            raise RuntimeError(f"challenge: {status}")
        auth = f"Authorization: Bearer {TOKEN}\r\n"
        writer.write(request(port, auth))
        status, body = await response(reader)
        if status != 200:
            raise RuntimeError(f"token: {status}")
        writer.transport.abort()  # as the blocking client: no close_notify
        answer = json.loads(body)
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", answer["transportPort"], ssl=self.context, server_hostname="127.0.0.1"
        )
        hello = struct.pack(">H", 1) + answer["sessionId"].encode()
        writer.write(struct.pack(">BI", 0x01, len(hello)) + hello)
        header = await reader.readexactly(5)
        if header[0] != 0x02:
            raise RuntimeError(f"no WELCOME: frame {header[0]}")
        elapsed = time.perf_counter() - started
        writer.write(struct.pack(">BI", 0x11, 0))  # disconnect request
        while await reader.read(4096):
            pass
        writer.close()
        return elapsed


class OursClient:
    """The built-in runtime's client, as `holoremote connect --ca-file` sets it up."""

    def __init__(self, ca_file: str) -> None:
        from app.endpoint.callbacks import (
            SecureConnectionCallbacks,
            fixed_token,
            system_result_validator,
        )
        from app.remoting.builtin import BuiltinOptions, BuiltinRuntime

        self.callbacks = SecureConnectionCallbacks(
            token_provider=fixed_token(TOKEN), certificate_validator=system_result_validator
        )
        ca_pem = Path(ca_file).read_bytes()
        self.runtime = BuiltinRuntime(BuiltinOptions(role="remote", trust_ca_pem=ca_pem))
        self.runtime.set_secure_connection_client_callbacks(self.callbacks.client_callbacks())

    def _drain(self) -> None:
        """Take what the runtime keeps for the session besides events (handshake
        stages, notes), as the session's pump does: `wait_event` returns at once
        while any is pending."""
        for name in ("drain_stages", "drain_notes"):
            drain = getattr(self.runtime, name, None)
            if drain is not None:
                drain()

    def _wait(self, kind: type) -> object:
        from app.remoting.contract import DisconnectedEvent

        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            event = self.runtime.wait_event(0.5)
            self._drain()
            if isinstance(event, kind):
                return event
            if isinstance(event, DisconnectedEvent):
                raise RuntimeError(f"disconnected: {event.disconnect_reason.spec_name}")
        raise TimeoutError(kind.__name__)

    def connect(self, port: int) -> float:
        from app.remoting.contract import ConnectedEvent, DisconnectedEvent
        from app.xr.structs import XrRemotingConnectInfoMSFT, XrRemotingDisconnectInfoMSFT

        info = XrRemotingConnectInfoMSFT(
            remoteHostName=b"127.0.0.1", remotePort=port, secureConnection=1
        )
        started = time.perf_counter()
        self.runtime.connect(info)
        self._wait(ConnectedEvent)
        elapsed = time.perf_counter() - started
        self.runtime.disconnect(XrRemotingDisconnectInfoMSFT())
        deadline = time.monotonic() + WAIT_S
        while not isinstance(self.runtime.wait_event(0.5), DisconnectedEvent):
            self._drain()
            if time.monotonic() > deadline:
                raise TimeoutError("no disconnect")
        return elapsed


def client_main(kind: str, ca_file: str) -> int:
    """Connect once per line on stdin ("PORT"), print the seconds it took."""
    kinds = {"bare": BareClient, "asyncio": AsyncioClient, "ours": OursClient}
    client: Any = kinds[kind](ca_file)
    print("ready", flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        print(f"{client.connect(int(line)):.9f}", flush=True)
    return 0


# --- the orchestrator -----------------------------------------------------------------


class ListenerProcess:
    """`holoremote listen --json` in its own process; we follow its events."""

    def __init__(self, pki: Any, token_file: Path) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app",
                "listen",
                "--runtime",
                "builtin",
                "--json",
                "--listen-interface",
                "127.0.0.1",
                "--ephemeral-port",
                "--cert-store",
                str(pki.pfx),
                "--key-passphrase-file",
                str(pki.passphrase_file),
                "--token-file",
                str(token_file),
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=bench_env(),
        )
        self.port = 0

    def wait_for(self, event: str) -> dict[str, Any]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if item.get("event") == event:
                return item  # type: ignore[no-any-return]
            if item.get("event") == "disconnected" and event != "disconnected":
                raise RuntimeError(f"listener: {item}")
        raise RuntimeError(f"the listener exited ({self.process.wait()}) before {event}")

    def close(self) -> None:
        self.process.terminate()
        try:  # read what it still prints: a listener blocked on a full pipe cannot exit
            self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()


def _spawn_client(kind: str, pki: Any) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--client", kind, "--ca", str(pki.ca_pem)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the {kind} client did not start")
    return process


def _one(client: subprocess.Popen[str], listener: ListenerProcess) -> float:
    listening = listener.wait_for("listening")
    stdin: IO[str] = client.stdin  # type: ignore[assignment]
    stdout: IO[str] = client.stdout  # type: ignore[assignment]
    stdin.write(f"{listening['port']}\n")
    stdin.flush()
    answer = stdout.readline()
    if not answer:
        raise RuntimeError("a client died mid-connect")
    listener.wait_for("disconnected")
    return float(answer)


KINDS = ("bare", "ours", "asyncio")


def measure(rounds: int, connects: int, chain_length: int) -> dict[str, list[float]]:
    """Per round and client kind: the median connect (s)."""
    import statistics

    with tempfile.TemporaryDirectory(prefix="holoremote-bench-") as tmp:
        pki = make_pki(Path(tmp), chain_length)
        token_file = Path(tmp) / "token.txt"
        token_file.write_text(TOKEN)
        listener = ListenerProcess(pki, token_file)
        clients = {kind: _spawn_client(kind, pki) for kind in KINDS}
        medians: dict[str, list[float]] = {kind: [] for kind in KINDS}
        try:
            for kind in KINDS:  # warm-up, not counted
                for _ in range(2):
                    _one(clients[kind], listener)
            for index in range(rounds):
                order = KINDS if index % 2 == 0 else KINDS[::-1]
                samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
                for _ in range(connects):
                    for kind in order:
                        samples[kind].append(_one(clients[kind], listener))
                for kind in KINDS:
                    medians[kind].append(statistics.median(samples[kind]))
        finally:
            for process in clients.values():
                if process.stdin:
                    process.stdin.close()
                process.wait(timeout=10)
            listener.close()
    return medians


def figures(rounds: int, connects: int, chain_length: int) -> list[Figure]:
    medians = measure(rounds, connects, chain_length)
    ours, bare, bare_asyncio = (
        [s * 1000 for s in medians[kind]] for kind in ("ours", "bare", "asyncio")
    )
    return [
        Figure(
            name=f"secure connect ({chain_length}-cert chain, separate processes)",
            unit="ms",
            ours=ours,
            baseline_name="bare blocking ssl client",
            baseline=bare,
            target="ratio<=",
            bound=1.3,
        ),
        Figure(
            name="same connect, against bare asyncio",
            unit="ms",
            ours=ours,
            baseline_name="bare asyncio-streams ssl client",
            baseline=bare_asyncio,
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--connects", type=int, default=15, help="connects per round and client")
    parser.add_argument("--chain-length", type=int, default=3, choices=range(1, 6))
    parser.add_argument("--scaling", action="store_true", help="chain lengths 1 to 5")
    parser.add_argument("--client", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--ca", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        return client_main(args.client, args.ca)
    rounds, connects = (1, 2) if args.smoke else (args.rounds, args.connects)
    if args.scaling:
        print("chain length | holoremote ms | bare ssl ms | ratio")
        for length in range(1, 6):
            figure = figures(rounds, connects, length)[0]
            print(
                f"{length} | {spread(figure.ours)} | {spread(figure.baseline)} "
                f"| {figure.ratio():.2f}x"
            )
        return 0
    emit(figures(rounds, connects, args.chain_length), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

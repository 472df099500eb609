"""Handshake benchmarks of the built-in runtime, each against a standard baseline in
the same run (not a test; `make bench` runs it).

1. Secure connect latency (median over N): the built-in runtime's client, from
   xrRemotingConnectMSFT to the Connected event, against a bare CPython `ssl` client
   doing the same wire work against the same listener: TLS connect, challenge (401),
   authorized request (200), then a second TLS connection to the transport port with
   one round trip (HELLO -> WELCOME). Both clients run in this process against an
   in-process built-in listener, which listens again after each session (not timed).
2. Handshake rate: `openssl s_time -new -tls1_3` against `holoremote listen` and
   against `openssl s_server`, both serving the same certificate and key.

Usage: python bench/handshake.py [--rounds N] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.endpoint.callbacks import (  # noqa: E402
    SecureConnectionCallbacks,
    fixed_server_certificate,
    fixed_token,
    system_result_validator,
)
from app.remoting.builtin import BuiltinOptions, BuiltinRuntime  # noqa: E402
from app.remoting.builtin.protocol import HANDSHAKE_PATH  # noqa: E402
from app.remoting.contract import ConnectedEvent, DisconnectedEvent, ListeningEvent  # noqa: E402
from app.security.certstore import server_tls_material  # noqa: E402
from app.security.testpki import create_test_pki  # noqa: E402
from app.xr.callback_types import ServerCertificateMaterial  # noqa: E402
from app.xr.structs import (  # noqa: E402
    XrRemotingConnectInfoMSFT,
    XrRemotingDisconnectInfoMSFT,
    XrRemotingListenInfoMSFT,
)

TOKEN = "bench-token-0123456789abcdefghijkl"
WAIT_S = 10.0


def wait_for(runtime: BuiltinRuntime, kind: type) -> object:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        event = runtime.wait_event(0.5)
        if isinstance(event, kind):
            return event
        if isinstance(event, DisconnectedEvent) and kind is not DisconnectedEvent:
            raise RuntimeError(f"disconnected: {event.disconnect_reason.spec_name}")
    raise TimeoutError(kind.__name__)


class Listener:
    def __init__(self, pki) -> None:  # type: ignore[no-untyped-def]
        material = ServerCertificateMaterial(pki.pfx, pki.passphrase, pki.friendly_name)
        self.callbacks = SecureConnectionCallbacks(
            server_certificate_provider=fixed_server_certificate(material),
            token_validator=lambda t: t == TOKEN,
        )
        self.runtime = BuiltinRuntime(BuiltinOptions(role="player"))
        self.runtime.set_secure_connection_server_callbacks(
            self.callbacks.server_callbacks(realm="bench")
        )
        self.interface = b"127.0.0.1"

    def listen(self) -> int:
        self.runtime.listen(
            XrRemotingListenInfoMSFT(
                listenInterface=self.interface,
                handshakeListenPort=0,
                transportListenPort=0,
                secureConnection=1,
            )
        )
        event = wait_for(self.runtime, ListeningEvent)
        return event.listening_port  # type: ignore[attr-defined]

    def wait_end(self) -> None:
        wait_for(self.runtime, DisconnectedEvent)


def builtin_connect(client: BuiltinRuntime, port: int) -> float:
    host = b"127.0.0.1"
    info = XrRemotingConnectInfoMSFT(remoteHostName=host, remotePort=port, secureConnection=1)
    started = time.perf_counter()
    client.connect(info)
    wait_for(client, ConnectedEvent)
    elapsed = time.perf_counter() - started
    client.disconnect(XrRemotingDisconnectInfoMSFT())
    wait_for(client, DisconnectedEvent)
    return elapsed


def _read_response(sock: ssl.SSLSocket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += sock.recv(4096)
    return int(head.split()[1]), body


def bare_connect(context: ssl.SSLContext, port: int) -> float:
    """The same wire work with the standard library only."""
    request = (
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHoloremote-Protocol-Version: 1\r\n"
        "Holoremote-Role: remote\r\nContent-Length: 0\r\n{auth}\r\n"
    )
    started = time.perf_counter()
    with context.wrap_socket(socket.create_connection(("127.0.0.1", port))) as sock:
        sock.sendall(request.format(path=HANDSHAKE_PATH, port=port, auth="").encode())
        status, _ = _read_response(sock)
        assert status == 401
        auth = f"Authorization: Bearer {TOKEN}\r\n"
        sock.sendall(request.format(path=HANDSHAKE_PATH, port=port, auth=auth).encode())
        status, body = _read_response(sock)
        assert status == 200
    answer = json.loads(body)
    transport = context.wrap_socket(
        socket.create_connection(("127.0.0.1", answer["transportPort"]))
    )
    with transport:
        hello = struct.pack(">H", 1) + answer["sessionId"].encode()
        transport.sendall(struct.pack(">BI", 0x01, len(hello)) + hello)
        header = b""
        while len(header) < 7:
            header += transport.recv(7 - len(header))
        assert header[0] == 0x02
        elapsed = time.perf_counter() - started
        transport.sendall(struct.pack(">BI", 0x11, 0))  # disconnect request
        while transport.recv(4096):
            pass
    return elapsed


def latency(rounds: int, pki) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    listener = Listener(pki)
    callbacks = SecureConnectionCallbacks(
        token_provider=fixed_token(TOKEN), certificate_validator=system_result_validator
    )
    client = BuiltinRuntime(BuiltinOptions(role="remote", trust_ca_pem=pki.ca_pem))
    client.set_secure_connection_client_callbacks(callbacks.client_callbacks())
    bare_context = ssl.create_default_context(cadata=pki.ca_pem.decode())
    bare_context.check_hostname = False  # the listener's cert names localhost/127.0.0.1
    ours, bare = [], []
    try:
        for index in range(rounds + 2):  # two warm-up rounds each
            port = listener.listen()
            sample = builtin_connect(client, port)
            listener.wait_end()
            port = listener.listen()
            bare_sample = bare_connect(bare_context, port)
            listener.wait_end()
            if index >= 2:
                ours.append(sample)
                bare.append(bare_sample)
    finally:
        client.close()
        listener.runtime.close()
    return statistics.median(ours), statistics.median(bare)


def s_time(port: int, seconds: int) -> float:
    result = subprocess.run(
        [
            "openssl",
            "s_time",
            "-connect",
            f"127.0.0.1:{port}",
            "-new",
            "-tls1_3",
            "-time",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=False,
    )
    match = re.search(r"(\d+) connections in ([\d.]+) real seconds", result.stdout)
    if not match:
        raise RuntimeError(f"openssl s_time gave no rate:\n{result.stdout}\n{result.stderr}")
    return int(match.group(1)) / float(match.group(2))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


def handshake_rates(pki, seconds: int, directory: Path) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    files = pki.write(directory)
    (directory / "pass.txt").write_text(pki.passphrase)
    (directory / "token.txt").write_text(TOKEN)
    chain_pem, key_pem = server_tls_material(pki.pfx, pki.passphrase, pki.friendly_name)
    (directory / "chain.pem").write_bytes(chain_pem)
    key = directory / "key.pem"
    key.touch(mode=0o600)
    key.write_bytes(key_pem)
    ours_port, theirs_port = free_port(), free_port()
    holo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            "listen",
            "--listen-interface",
            "127.0.0.1",
            "--port",
            str(ours_port),
            "--transport-port",
            str(free_port()),
            "--cert-store",
            str(files["pfx"]),
            "--key-passphrase-file",
            str(directory / "pass.txt"),
            "--token-file",
            str(directory / "token.txt"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    server = subprocess.Popen(
        [
            "openssl",
            "s_server",
            "-accept",
            str(theirs_port),
            "-cert",
            str(directory / "chain.pem"),
            "-key",
            str(key),
            "-tls1_3",
            "-naccept",
            "1000000",
            "-quiet",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(ours_port)
        wait_port(theirs_port)
        return s_time(ours_port, seconds), s_time(theirs_port, seconds)
    finally:
        for process in (holo, server):
            process.terminate()
            process.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("openssl"):
        print("openssl is needed for the handshake-rate comparison", file=sys.stderr)
        return 2
    pki = create_test_pki(["localhost"], ["127.0.0.1"], intermediate=True)
    ours, bare = latency(args.rounds, pki)
    print(f"secure connect latency, median of {args.rounds}:")
    print(f"  built-in runtime client      {ours * 1000:8.2f} ms")
    print(f"  bare CPython ssl client      {bare * 1000:8.2f} ms")
    print(f"  ratio (built-in / bare)      {ours / bare:8.2f}")
    with tempfile.TemporaryDirectory(prefix="holoremote-bench-") as tmp:
        holo_rate, openssl_rate = handshake_rates(pki, args.seconds, Path(tmp))
    print(f"TLS 1.3 full handshakes per second (openssl s_time -new -tls1_3, {args.seconds} s):")
    print(f"  holoremote listen            {holo_rate:8.1f} /s")
    print(f"  openssl s_server             {openssl_rate:8.1f} /s")
    print(f"  ratio (holoremote / openssl) {holo_rate / openssl_rate:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

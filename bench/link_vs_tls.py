"""`holoremote link-test` against `holoremote listen` on loopback, and a bare TLS socket
moving the same bytes in the same run (docs/benchmarks.md, "Link test").

Both sides of each measurement are separate processes: the listener and the link
test are `python -m app` subprocesses; the bare baseline is a TLS sink/source in a
child process (same certificate, CPython's ssl, blocking sockets, `sendall` of the
same message size) and this process as its client. The ratio is link-test
throughput / bare TLS throughput, per direction.

    .venv/bin/python bench/link_vs_tls.py [--seconds 6] [--message-size 65536]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    pkcs12,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.security.testpki import create_test_pki  # noqa: E402

TOKEN = "bench-token-" + os.urandom(8).hex()
WAIT_S = 30.0


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("XR_RUNTIME_JSON", "HOLOREMOTE_TOKEN")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _start_listener(folder: Path) -> tuple[subprocess.Popen[str], int]:
    """`holoremote listen --json` on an ephemeral port, and that port."""
    listen = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            "listen",
            "--json",
            "--ephemeral-port",
            "--listen-interface",
            "127.0.0.1",
            "--runtime",
            "builtin",
            "--cert-store",
            str(folder / "server.pfx"),
            "--key-passphrase-file",
            str(folder / "passphrase.txt"),
            "--token-file",
            str(folder / "token.txt"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=ROOT,
    )
    assert listen.stdout is not None
    for line in listen.stdout:
        event = json.loads(line)
        if event.get("event") == "listening":
            return listen, int(event["port"])
    listen.wait(10)
    raise SystemExit(f"the listener exited ({listen.returncode}) before it listened")


def link_test(folder: Path, seconds: float, size: int) -> dict[str, float]:
    listen, port = _start_listener(folder)
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "app",
                "link-test",
                f"127.0.0.1:{port}",
                "--runtime",
                "builtin",
                "--ca-file",
                str(folder / "ca.pem"),
                "--token-file",
                str(folder / "token.txt"),
                "--json",
                "--seconds",
                str(seconds),
                "--message-size",
                str(size),
            ],
            capture_output=True,
            text=True,
            env=_env(),
            cwd=ROOT,
            timeout=seconds * 4 + 60,
            check=False,
        )
        if result.returncode != 0:  # say why: the smoke test shows this text
            raise SystemExit(
                f"link-test exited {result.returncode}:\n{result.stdout[-2000:]}"
                f"{result.stderr[-2000:]}"
            )
        for line in result.stdout.splitlines():
            event = json.loads(line)
            if event.get("event") == "linkTest":
                return event  # type: ignore[no-any-return]
        raise SystemExit(f"no link-test result: {result.stdout}{result.stderr}")
    finally:
        listen.terminate()
        listen.wait(10)


def runtime_download(folder: Path, seconds: float, size: int) -> float:
    """Bytes per second into a receiver with no session layer: the built-in runtime
    driven the way a bare OpenXR application would (one thread: wait for an event,
    retrieve the packet), downloading from `holoremote listen` as `link-test` does.
    For scale, not a target: it shows how much of the gap to the bare socket is the
    session's pump, channel hub and asyncio consumer, and how much the runtime."""
    from app.endpoint.callbacks import (
        SecureConnectionCallbacks,
        fixed_token,
        system_result_validator,
    )
    from app.endpoint.link_test import LINK_TEST_MAGIC
    from app.remoting import channel_calls
    from app.remoting.builtin import BuiltinOptions, BuiltinRuntime
    from app.remoting.contract import (
        ConnectedEvent,
        DataChannelDataReceivedEvent,
        DataChannelOpenedEvent,
        DisconnectedEvent,
    )
    from app.xr.structs import XrRemotingConnectInfoMSFT
    from app.xr.values import DataChannelPriority

    listen, port = _start_listener(folder)
    callbacks = SecureConnectionCallbacks(
        token_provider=fixed_token(TOKEN), certificate_validator=system_result_validator
    )
    runtime = BuiltinRuntime(
        BuiltinOptions(role="remote", trust_ca_pem=(folder / "ca.pem").read_bytes())
    )
    try:
        runtime.set_secure_connection_client_callbacks(callbacks.client_callbacks())

        def next_event() -> object:
            event = runtime.wait_event(WAIT_S)
            runtime.drain_stages()
            runtime.drain_notes()
            if event is None or isinstance(event, DisconnectedEvent):
                raise SystemExit(f"runtime-level receiver: {event or 'no event'}")
            return event

        runtime.connect(
            XrRemotingConnectInfoMSFT(
                remoteHostName=b"127.0.0.1", remotePort=port, secureConnection=1
            )
        )
        while not isinstance(next_event(), ConnectedEvent):
            pass
        channel = channel_calls.create(runtime, 1, DataChannelPriority.MEDIUM)
        while not isinstance(next_event(), DataChannelOpenedEvent):
            pass
        runtime.send_packet(channel, LINK_TEST_MAGIC, True)
        start = time.perf_counter()
        request = json.dumps({"seconds": seconds, "size": size}).encode()
        runtime.send_packet(channel, b"D" + request, True)
        received = 0
        while True:
            event = next_event()
            if not isinstance(event, DataChannelDataReceivedEvent):
                continue
            message = runtime.retrieve_packet(event.channel, event.packet_id)
            if message[:1] == b"d":
                received += len(message)
            elif message[:1] == b"F":
                if int(json.loads(message[1:])["bytes"]) != received:
                    raise SystemExit("runtime-level receiver: bytes lost")
                return received / (time.perf_counter() - start)
    finally:
        runtime.close()
        listen.terminate()
        listen.wait(10)


def _tls_peer(cert: str, key: str, port_queue: multiprocessing.Queue, size: int) -> None:
    """Child: accept one TLS client; 'U n' = read n bytes then answer; 'D n' = send n bytes."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port_queue.put(server.getsockname()[1])
        raw, _ = server.accept()
        with context.wrap_socket(raw, server_side=True) as conn:
            reader = conn.makefile("rb")
            while line := reader.readline():
                kind, count = line.split()
                total = int(count)
                if kind == b"U":
                    left = total
                    sink = memoryview(bytearray(1 << 18))
                    while left:
                        left -= reader.readinto(sink[: min(left, len(sink))])
                    conn.sendall(b"ok\n")
                else:
                    message = os.urandom(size)
                    sent = 0
                    while sent < total:
                        conn.sendall(message[: min(size, total - sent)])
                        sent += min(size, total - sent)


def bare_tls(folder: Path, ca: str, up: int, down: int, size: int) -> tuple[float, float]:
    ports: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.Process(
        target=_tls_peer, args=(str(folder / "cert.pem"), str(folder / "key.pem"), ports, size)
    )
    child.start()
    port = ports.get(timeout=30)
    context = ssl.create_default_context(cafile=ca)
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as conn,
    ):
        message = os.urandom(size)
        start = time.perf_counter()
        conn.sendall(f"U {up}\n".encode())
        sent = 0
        while sent < up:
            conn.sendall(message[: min(size, up - sent)])
            sent += min(size, up - sent)
        assert conn.recv(3) == b"ok\n"
        up_s = time.perf_counter() - start
        start = time.perf_counter()
        conn.sendall(f"D {down}\n".encode())
        got = 0
        sink = memoryview(bytearray(1 << 18))
        while got < down:
            got += conn.recv_into(sink)
        down_s = time.perf_counter() - start
    child.join(10)
    return up / up_s, down / down_s


def prepare(folder: Path) -> None:
    """A test PKI, passphrase and token for `holoremote listen` / `link-test`, and the
    same leaf as PEM key + chain for the bare TLS peer, written into `folder`."""
    pki = create_test_pki(["localhost"], ["127.0.0.1"])
    pki.write(folder)
    (folder / "passphrase.txt").write_text(pki.passphrase + "\n")
    (folder / "token.txt").write_text(TOKEN + "\n")
    key, cert, extra = pkcs12.load_key_and_certificates(pki.pfx, pki.passphrase.encode())
    assert key is not None and cert is not None
    (folder / "key.pem").write_bytes(
        key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    (folder / "cert.pem").write_bytes(
        b"".join(c.public_bytes(Encoding.PEM) for c in [cert, *(extra or [])])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--message-size", type=int, default=64 * 1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        prepare(folder)
        link = link_test(folder, args.seconds, args.message_size)
        up_bytes, down_bytes = int(link["uploadBytes"]), int(link["downloadBytes"])
        bare_up, bare_down = bare_tls(
            folder, str(folder / "ca.pem"), up_bytes, down_bytes, args.message_size
        )
    link_up = up_bytes / float(link["uploadSeconds"])
    link_down = down_bytes / float(link["downloadSeconds"])
    mb = 1e6 / 8
    print(f"link test ({args.message_size}-byte messages, {args.seconds:g} s):")
    print(
        f"  round trip p50 {link['rttP50Ms']:.3f} ms, p99 {link['rttP99Ms']:.3f} ms "
        f"({link['pings']} pings)"
    )
    print(f"  {'':10} {'link-test':>14} {'bare TLS':>14} {'ratio':>7}")
    for name, ours, bare, count in (
        ("upload", link_up, bare_up, up_bytes),
        ("download", link_down, bare_down, down_bytes),
    ):
        print(
            f"  {name:10} {ours / mb:9.1f} Mbit/s {bare / mb:9.1f} Mbit/s {ours / bare:7.2f}"
            f"   ({count} bytes)"
        )


if __name__ == "__main__":
    main()

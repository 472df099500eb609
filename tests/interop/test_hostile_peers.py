"""Hostile peers on loopback against the real `holoremote listen` process
(docs/security.md): while 200 connections sit idle, peers send garbage, plain HTTP to
the TLS port, oversized heads and tokens, and one address floods refused tokens, a
legitimate `holoremote connect` completes a secure session within its normal timeout,
and the listener's peak resident memory stays under a ceiling.

Attackers use their own loopback source addresses (127.0.1.x, 127.0.2.x), as peers on
a network would; the legitimate client is 127.0.0.1. Every loop is bounded; nothing
here is timed (the client's own timeout is the protocol's, and the test reports how
long it took, without asserting it)."""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time
from pathlib import Path

from app.remoting.builtin.protocol import (
    AUTH_BASE_BLOCK_SECONDS,
    HANDSHAKE_PATH,
    MAX_HEAD_BYTES,
    MAX_TOKEN_BYTES,
    MAX_UNAUTHENTICATED_PER_ADDRESS,
    ROLE_HEADER,
    VERSION_HEADER,
)
from app.security.testpki import GeneratedPki
from tests.app.remoting.cli_support import Listener, run_cli, secure_listen_args, write_pki
from tests.app.remoting.remoting_support import TOKEN

IDLE_CONNECTIONS = 200
IDLE_ADDRESSES = 25  # 8 each, under the per-address budget
# Peak resident memory of the listener process, measured with 200 idle connections
# and the attacks below (docs/security.md has the figure): the ceiling leaves room
# for allocator and import differences between machines.
MEMORY_CEILING_KIB = 80 * 1024
WAIT_S = 15.0
FLOOD_LIMIT = 40  # refused tokens one address sends, at most


def request(token: str | None = None, extra: str = "") -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token is not None else ""
    return (
        f"POST {HANDSHAKE_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n{VERSION_HEADER}: 1\r\n"
        f"{ROLE_HEADER}: remote\r\n{auth}{extra}Content-Length: 0\r\n\r\n"
    ).encode()


def tls_client() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def exchange(port: int, source: str, data: bytes, *, use_tls: bool = True) -> bytes:
    """Send `data` from `source`, return everything until the server closes."""
    with socket.create_connection(
        ("127.0.0.1", port), timeout=WAIT_S, source_address=(source, 0)
    ) as raw:
        conn: socket.socket = tls_client().wrap_socket(raw) if use_tls else raw
        conn.sendall(data)
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except (ConnectionResetError, ssl.SSLError):
            pass
        return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def connections_held(pid: int, peer_prefix: str) -> int:
    """TCP connections process `pid` holds open (accepted: it has a descriptor for
    them) with peers whose IPv4 address starts with `peer_prefix`: the socket inodes
    of /proc/net/tcp matched against the process's descriptors."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_ip = socket.inet_ntoa(bytes.fromhex(fields[2].split(":")[0])[::-1])
        if remote_ip.startswith(peer_prefix):
            inodes.add(f"socket:[{fields[9]}]")
    held = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            held += os.readlink(f"/proc/{pid}/fd/{fd}") in inodes
        except OSError:
            continue  # closed meanwhile
    return held


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def attempt(port: int, source: str, data: bytes, *, use_tls: bool = True) -> bytes | None:
    """`exchange`, or None when nothing listens (between two listens, or while the
    session is open and the listener does not accept)."""
    try:
        answer = exchange(port, source, data, use_tls=use_tls)
    except (ConnectionRefusedError, ConnectionResetError, ssl.SSLEOFError):
        return None  # SSLEOFError: accepted by a listen that was ending
    # Closed without a word: also a listen that was ending (it drops its connections).
    return answer or None


def until_listening(port: int, source: str, data: bytes) -> bytes:
    for _ in range(FLOOD_LIMIT):
        answer = attempt(port, source, data)
        if answer is not None:
            return answer
        time.sleep(0.1)  # bounded: the listener listens again at once
    raise AssertionError("the listener did not listen again")


GARBAGE = b"\x00garbage" + bytes(range(256)) * 8


def test_a_legitimate_client_connects_while_the_listener_is_attacked(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    files = write_pki(pki, tmp_path, TOKEN)
    with Listener(*secure_listen_args(files)) as listener:
        port, transport_port = listener.ports()
        pid = listener.process.pid

        # 1. Attacks that end a listen (a refused token does, by design; the listener
        # listens again on the same ports): a token over the size limit, then one
        # address's refused tokens until it is blocked (the 5th on), answered 429
        # without a check, which ends nothing.
        big_token = until_listening(port, "127.0.2.7", request("t" * (MAX_TOKEN_BYTES + 1)))
        flood_start = []
        for _ in range(FLOOD_LIMIT):
            flood_start.append(
                status_of(until_listening(port, "127.0.2.1", request("wrong-token")))
            )
            if flood_start[-1] == 429:
                blocked_seen = time.monotonic()
                break
        assert flood_start[-1] == 429, flood_start
        assert set(flood_start) <= {401, 429}, flood_start

        # 2. 200 idle connections from 25 addresses: they send nothing.
        idle = [
            socket.create_connection(
                ("127.0.0.1", port),
                timeout=WAIT_S,
                source_address=(f"127.0.1.{1 + n % IDLE_ADDRESSES}", 0),
            )
            for n in range(IDLE_CONNECTIONS)
        ]
        # Until the listener has accepted them all (bounded; they are closed 10 s
        # after they were accepted, so this waits far less than that).
        deadline = time.monotonic() + WAIT_S
        while (held := connections_held(pid, "127.0.1.")) < IDLE_CONNECTIONS:
            assert time.monotonic() < deadline, f"the listener holds only {held} connections"
            time.sleep(0.05)

        # 3. While they sit there: attacks that must each close only their own peer.
        outcomes = {
            "garbage": exchange(port, "127.0.2.2", GARBAGE, use_tls=False),
            "garbage-transport": exchange(transport_port, "127.0.2.2", GARBAGE, use_tls=False),
            "tls-garbage": exchange(port, "127.0.2.3", GARBAGE),
            "plain-http": exchange(port, "127.0.2.4", request(), use_tls=False),
            "big-head": exchange(
                port, "127.0.2.5", request(extra=f"X-Pad: {'a' * MAX_HEAD_BYTES}\r\n")
            ),
            "many-headers": exchange(port, "127.0.2.5", request(extra="X-A: b\r\n" * 100)),
            "big-token-blocked": exchange(port, "127.0.2.1", request("t" * (MAX_TOKEN_BYTES + 1))),
        }
        over_budget = [
            socket.create_connection(
                ("127.0.0.1", port), timeout=WAIT_S, source_address=("127.0.2.6", 0)
            )
            for _ in range(MAX_UNAUTHENTICATED_PER_ADDRESS + 1)
        ]
        try:
            closed_at_once = over_budget[-1].recv(1)
        except ConnectionResetError:
            closed_at_once = b""

        # 4. The blocked address keeps flooding while the legitimate client connects.
        stop = threading.Event()
        flood: list[int | None] = []

        # The block lasts AUTH_BASE_BLOCK_SECONDS from the 5th refusal; a token after
        # it would be checked, refused and end the listen (by design), which is the next
        # doubling's business, not this test's. So the flood stops well before.
        flood_until = blocked_seen + AUTH_BASE_BLOCK_SECONDS - 5

        def keep_flooding() -> None:
            while not stop.is_set() and len(flood) < FLOOD_LIMIT and time.monotonic() < flood_until:
                answer = attempt(port, "127.0.2.1", request("wrong-token"))
                flood.append(None if answer is None else status_of(answer))

        flooder = threading.Thread(target=keep_flooding, daemon=True)
        flooder.start()
        started = time.monotonic()
        connect = run_cli(
            "connect",
            f"127.0.0.1:{port}",
            "--json",
            "--hold",
            "0.2",
            "--token-file",
            str(files["token"]),
            "--ca-file",
            str(files["ca"]),
            timeout=120,
        )
        took = time.monotonic() - started
        stop.set()
        flooder.join(WAIT_S * 4)
        assert not flooder.is_alive()
        peak = peak_rss_kib(pid)
        for sock in idle + over_budget:
            sock.close()
        assert listener.process.poll() is None, "the listener must still be running"

    events = [json.loads(line) for line in connect.stdout.splitlines() if line.startswith("{")]
    assert connect.returncode == 0, (connect.stdout[-2000:], connect.stderr[-2000:])
    assert any(e.get("event") == "connected" for e in events), events
    print(
        f"legitimate connect under attack took {took:.2f} s; listener peak RSS {peak / 1024:.1f} MiB"
    )
    assert status_of(big_token) == 401
    # Plain bytes on a TLS port are told so in plain HTTP; TLS garbage is not HTTP.
    assert outcomes["garbage"].startswith(b"HTTP/1.1 400 ")
    assert outcomes["garbage-transport"].startswith(b"HTTP/1.1 400 ")
    assert outcomes["plain-http"].startswith(b"HTTP/1.1 400 ")
    assert status_of(outcomes["tls-garbage"]) == 400
    assert status_of(outcomes["big-head"]) == 431
    assert status_of(outcomes["many-headers"]) == 431
    assert status_of(outcomes["big-token-blocked"]) == 429
    assert closed_at_once == b""
    # Every flooded token was refused unchecked (or found no listen while the session
    # was open); on a machine so slow that the block was nearly over, there is none.
    assert set(flood) <= {429, None}, flood
    assert 429 in flood or time.monotonic() > flood_until, flood
    assert peak < MEMORY_CEILING_KIB, f"peak RSS {peak} KiB"


def test_tls_to_a_plain_port_and_garbage_are_refused_and_the_listen_goes_on() -> None:
    with Listener("--plain") as listener:
        port, transport_port = listener.ports()
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as raw:
            try:
                tls_client().wrap_socket(raw)
                failed = ""
            except (ssl.SSLError, ConnectionResetError) as exc:
                failed = type(exc).__name__
        garbage = exchange(port, "127.0.2.2", GARBAGE, use_tls=False)
        transport_garbage = exchange(transport_port, "127.0.2.2", GARBAGE, use_tls=False)
        still = exchange(port, "127.0.0.1", request(), use_tls=False)
        assert listener.process.poll() is None
    assert failed, "a TLS client on a plain port must fail at once"
    assert status_of(garbage) == 400
    assert transport_garbage == b""  # frames: an unknown frame type ends that connection
    # The listen still serves a well-formed request after all of it.
    assert status_of(still) == 200

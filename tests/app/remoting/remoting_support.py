"""Helpers shared by the built-in runtime, session, command and interop tests.

Real sockets on 127.0.0.1, ephemeral ports, short timeouts (`tests.support.builtin_options.quick_options`)
and bounded waits on events: nothing sleeps to poll.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from app.endpoint.callbacks import (
    fixed_server_certificate,
    fixed_token,
    system_result_validator,
)
from app.endpoint.events import (
    Connected,
    Disconnected,
    Listening,
    SessionEvent,
    records_in,
)
from app.endpoint.session import Session, SessionConfig
from app.remoting.builtin import BuiltinOptions, BuiltinRuntime
from app.security.testpki import GeneratedPki
from app.xr.callback_types import ServerCertificateMaterial
from app.xr.values import DisconnectReason
from tests.support.builtin_options import quick_options

TOKEN = "correct-horse-battery-staple"
WAIT_S = 10.0


def run(coroutine: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
    """Run one test coroutine on a fresh loop, bounded."""

    async def bounded() -> Any:
        return await asyncio.wait_for(coroutine, timeout)

    return asyncio.run(bounded())


def material(pki: GeneratedPki, *, passphrase: str | None = None, subject: str | None = None):
    return ServerCertificateMaterial(
        pki.pfx,
        pki.passphrase if passphrase is None else passphrase,
        pki.friendly_name if subject is None else subject,
    )


def server_session(
    pki: GeneratedPki | None,
    *,
    secure: bool = True,
    role: str = "player",
    tokens: tuple[str, ...] = (TOKEN,),
    options: BuiltinOptions | None = None,
    port: int = 0,
    transport_port: int = 0,
    realm: str = "holoremote-test",
    certificate: ServerCertificateMaterial | None = None,
) -> Session:
    providers: dict[str, Any] = {}
    if secure:
        assert pki is not None
        providers["server_certificate_provider"] = fixed_server_certificate(
            certificate or material(pki)
        )
        providers["token_validator"] = lambda token: token in tokens
    return Session.with_callbacks(
        SessionConfig(
            mode="listen",
            listen_interface="127.0.0.1",
            port=port,
            transport_port=transport_port,
            secure=secure,
            role=role,  # type: ignore[arg-type]
            realm=realm,
        ),
        BuiltinRuntime(options or quick_options(role=role)),
        **providers,
    )


def client_session(
    port: int,
    pki: GeneratedPki | None,
    *,
    secure: bool = True,
    role: str = "remote",
    token: str = TOKEN,
    options: BuiltinOptions | None = None,
    host: str = "127.0.0.1",
    validator: Callable[..., Any] = system_result_validator,
    trust_ca_pem: bytes | None = None,
) -> Session:
    providers: dict[str, Any] = {}
    if secure:
        providers["token_provider"] = fixed_token(token)
        providers["certificate_validator"] = validator
    if options is None:
        ca = trust_ca_pem if trust_ca_pem is not None else (pki.ca_pem if pki else None)
        options = quick_options(role=role, trust_ca_pem=ca)
    return Session.with_callbacks(
        SessionConfig(mode="connect", host=host, port=port, secure=secure, role=role),  # type: ignore[arg-type]
        BuiltinRuntime(options),
        **providers,
    )


def is_end(event: SessionEvent) -> bool:
    return isinstance(event, Connected | Disconnected)


async def start_listening(session: Session) -> Listening:
    await session.start()
    event = await session.wait_for(lambda e: isinstance(e, Listening | Disconnected), WAIT_S)
    assert isinstance(event, Listening), event
    return event


async def outcome(session: Session, after: int = 0) -> SessionEvent:
    """The first Connected or Disconnected event."""
    return await session.wait_for(is_end, WAIT_S, after=after)


async def disconnected(session: Session, after: int = 0) -> Disconnected:
    event = await session.wait_for(lambda e: isinstance(e, Disconnected), WAIT_S, after=after)
    assert isinstance(event, Disconnected)
    return event


def callbacks_of(session: Session) -> list[tuple[str, str]]:
    """(callback, result name) of every callback call, in order."""
    return [(record.callback, record.result_name) for record in records_in(session.history)]


def assert_reason(event: SessionEvent, reason: DisconnectReason) -> None:
    from app.remoting.reasons import explain

    assert isinstance(event, Disconnected), event
    assert event.reason == reason, (event.reason.spec_name, reason.spec_name)
    assert event.explanation == explain(reason).explanation
    assert event.fix == explain(reason).fix


def bound_port() -> socket.socket:
    """A socket bound to an ephemeral port on 127.0.0.1 and NOT listening: a TCP
    connect to it is refused. Keep it open for as long as the port must stay taken."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def silent_listener() -> socket.socket:
    """A listening socket that never accepts: TCP connects succeed (the kernel queues
    them) and then nothing is ever said."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


def chain_der(pki: GeneratedPki) -> tuple[bytes, ...]:
    from cryptography.hazmat.primitives.serialization import Encoding

    return tuple(c.public_bytes(Encoding.DER) for c in pki.chain)

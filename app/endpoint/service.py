"""The endpoint service: from one end's settings to a running session.

Both faces go through here and only here: the command line turns its flags, the
window its fields, into `EndpointSettings` and the auth settings of
`app.endpoint.providers`; `open_endpoint` then decides, in this order, so that the
first bad input is the one reported:

1. the session configuration (ports, host, realm...),
2. the callback providers for the side this end plays (secure mode only),
3. the built-in runtime's options (role, CA file, timeouts),
4. the runtime (`app.endpoint.runtime_choice`, one selection at a time),

and returns the session with the sentence saying which runtime is in use. Every
refusal is an `InputError` naming the setting as the face calls it (`Face`), with
the fix. What happens after (listening again, explaining a failure) is decided by
the session's events (`app.endpoint.events.listens_again`, `Disconnected.refusal`).
Blocking (files, keyring-free crypto, the OpenXR loader): the window runs it off
its UI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from app import defaults
from app.endpoint import providers
from app.endpoint.failure import Face
from app.endpoint.providers import ClientAuthSettings, ServerAuthSettings, SettingsError
from app.endpoint.runtime_choice import RuntimeChoice, create_runtime
from app.endpoint.session import ConfigError, Mode, Role, Session, SessionConfig
from app.errors import HoloremoteError, InputError
from app.remoting.builtin import BuiltinOptions
from app.remoting.contract import RemotingRuntime
from app.security.client_policy import AskUser


@dataclass(frozen=True)
class Timeouts:
    """The built-in runtime's timeouts a person may change (seconds)."""

    handshake_s: float = defaults.HANDSHAKE_TIMEOUT_S
    session_open_s: float = defaults.SESSION_OPEN_TIMEOUT_S
    disconnect_wait_s: float = defaults.DISCONNECT_WAIT_S


@dataclass(frozen=True)
class EndpointSettings:
    """One end as plain values: what flags and fields both become."""

    mode: Mode
    role: Role = "remote"
    host: str = ""  # connect: the listener's host name or address
    port: int = defaults.DEFAULT_HANDSHAKE_PORT
    transport_port: int = defaults.DEFAULT_TRANSPORT_PORT
    listen_interface: str = "0.0.0.0"  # noqa: S104 - a listener is meant to be reachable
    secure: bool = True
    realm: str = defaults.DEFAULT_REALM
    perform_system_validation: bool = True
    runtime: RuntimeChoice = "auto"
    runtime_json: str | None = None
    timeouts: Timeouts = Timeouts()


@dataclass(frozen=True)
class OpenedEndpoint:
    session: Session
    runtime_description: str  # which runtime is in use, and why


# One runtime selection at a time: a check of the window's runtime choice and a
# session's start may run on two worker threads at once, and the OpenXR loader
# (XR_RUNTIME_JSON is process-wide) and runtimes are not made for concurrent
# instance creation.
_RUNTIME_SELECTION = threading.Lock()


def session_config(settings: EndpointSettings) -> SessionConfig:
    """The session's configuration; raises `ConfigError` for a bad value."""
    listen = settings.mode == "listen"
    return SessionConfig(
        mode=settings.mode,
        host="" if listen else settings.host,
        port=settings.port,
        transport_port=settings.transport_port,
        listen_interface=settings.listen_interface if listen else "",
        secure=settings.secure,
        role=settings.role,
        realm=settings.realm,
        perform_system_validation=settings.perform_system_validation,
    )


def builtin_options(
    role: Role | str,
    *,
    ca_file: str | None = None,
    timeouts: Timeouts = Timeouts(),
    force_revocation_check: bool = False,
) -> BuiltinOptions:
    """The built-in runtime's options (it trusts the CA file for its own system
    validation and passes forceRevocationCheck as the client asked); raises
    `SettingsError`."""
    return providers.builtin_options(
        role,
        ca_file=ca_file,
        handshake_timeout=timeouts.handshake_s,
        session_open_timeout=timeouts.session_open_s,
        disconnect_wait=timeouts.disconnect_wait_s,
        force_revocation_check=force_revocation_check,
    )


def open_runtime(
    choice: RuntimeChoice, runtime_json: str | None, options: BuiltinOptions
) -> tuple[RemotingRuntime, str]:
    """`create_runtime`, one at a time. Blocking (the OpenXR loader)."""
    with _RUNTIME_SELECTION:
        return create_runtime(choice, runtime_json or None, options)


def check_runtime(choice: RuntimeChoice, runtime_json: str | None, role: str = "remote") -> str:
    """The sentence `open_runtime` gives for this choice, without keeping the runtime
    (the window shows it when the choice changes, before any session). Blocking.

    The runtime is closed before the selection is let go: the Khronos loader allows
    one XrInstance per process, so a second check (the window starts one per edit)
    or a session's start must not create its instance before this one is destroyed."""
    options = builtin_options(role)
    with _RUNTIME_SELECTION:
        runtime, description = create_runtime(choice, runtime_json or None, options)
        runtime.close()
    return description


def open_endpoint(
    settings: EndpointSettings,
    *,
    face: Face,
    server: Callable[[], ServerAuthSettings] | None = None,
    client: Callable[[], ClientAuthSettings] | None = None,
    ask: AskUser | None = None,
    kind: type[InputError] = InputError,
) -> OpenedEndpoint:
    """The session for these settings (see the module docstring for the order).

    `server` / `client` give the auth settings of the side this end plays (called
    after the configuration is checked, so a bad port is reported before a missing
    file); `ask` is the trust-on-first-use question (the window's dialog; None on the
    command line, where the setting is the answer given in advance). Errors are
    `kind`, naming settings as `face` does."""
    try:
        config = session_config(settings)
        callbacks = {}
        ca_file = None
        forced = False
        if settings.secure and settings.mode == "listen":
            if server is None:
                raise ValueError("a secure listener needs its server settings")
            callbacks = providers.server_providers(server())
        elif settings.secure:
            if client is None:
                raise ValueError("a secure client needs its client settings")
            client_settings = client()
            ca_file = client_settings.ca_file
            forced = client_settings.force_revocation_check
            callbacks = providers.client_providers(client_settings, settings.port, ask=ask)
        options = builtin_options(
            settings.role,
            ca_file=ca_file,
            timeouts=settings.timeouts,
            force_revocation_check=forced,
        )
    except (SettingsError, ConfigError) as exc:
        raise face.input_error(exc, kind) from None
    try:
        runtime, description = open_runtime(settings.runtime, settings.runtime_json, options)
    except HoloremoteError as exc:
        raise kind(face.name("runtime"), exc.message, fix=exc.fix) from None
    try:
        session = Session.with_callbacks(config, runtime, **callbacks)
    except BaseException:
        runtime.close()
        raise
    return OpenedEndpoint(session, description)

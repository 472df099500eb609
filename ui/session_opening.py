"""From the window's fields to an open session: `app.endpoint.service` with the
window's words.

The fields (`ui.field_values`) become the endpoint service's settings and the
callback providers' settings, exactly as the command line's flags do, so both faces
accept and refuse the same settings; refusals name the window's fields
(`failure.WINDOW`). Functions here block (files, the runtime); callers run them with
`ui.jobs.run_blocking`. Heavy `app` modules are imported inside the functions, so
opening the window stays fast.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from app import defaults
from ui.field_values import (
    ALL_INTERFACES,
    ClientSettings,
    EndpointSettings,
    RuntimeChoice,
    ServerSettings,
    crl_paths,
)

if TYPE_CHECKING:
    from app.endpoint import service as service_types
    from app.endpoint.providers import ClientAuthSettings, ServerAuthSettings
    from app.endpoint.session import Session, SessionConfig
    from app.security.client_policy import TofuQuestion
    from app.share import ShareInfo

# app.security.client_policy.AskUser: called off the UI thread with a TofuQuestion.
TofuAsk = Callable[["TofuQuestion"], bool]


def server_auth_settings(server: ServerSettings) -> ServerAuthSettings:
    """The server panel's fields; the token check is one kind or the other."""
    from app.endpoint.providers import ServerAuthSettings

    jwt = server.token_mode == "jwt"  # noqa: S105 - a mode name
    return ServerAuthSettings(
        store_path=server.store_path,
        passphrase=server.passphrase or None,
        subject_name=server.subject_name or None,
        key_path=server.key_path or None,
        shared_secrets=() if jwt else server.shared_secrets,
        jwt_key_path=(server.jwt_key_path or None) if jwt else None,
        jwt_issuer=(server.jwt_issuer or None) if jwt else None,
        jwt_audience=(server.jwt_audience or None) if jwt else None,
    )


def client_auth_settings(client: ClientSettings) -> ClientAuthSettings:
    """The client panel's fields; the known-hosts file is used only with trust on
    first use (the window asks the person); left empty, the providers use the per-user
    file, as the command line does."""
    from app.endpoint.providers import ClientAuthSettings

    tofu = client.trust_on_first_use
    return ClientAuthSettings(
        token=client.token,
        ca_file=client.ca_file or None,
        pins=(client.pin,) if client.pin else (),
        known_hosts=(client.known_hosts or None) if tofu else None,
        trust_on_first_use=tofu,
        allow_name_mismatch=client.allow_name_mismatch,
        allow_unverified_chain=client.allow_unverified_chain,
        check_revocation=client.check_revocation,
        force_revocation_check=client.force_revocation_check,
        crl_files=crl_paths(client.crl_files),
    )


@contextlib.contextmanager
def in_field_terms() -> Iterator[None]:
    """Settings errors name the window's fields."""
    from app.endpoint.failure import WINDOW
    from app.endpoint.providers import SettingsError
    from app.endpoint.session import ConfigError

    try:
        yield
    except (SettingsError, ConfigError) as exc:
        raise WINDOW.input_error(exc) from None


def describe_runtime(choice: RuntimeChoice, runtime_json: str) -> str:
    """What "In use" says before the choice was checked (at start-up)."""
    if choice == "builtin":
        return "built-in runtime"
    if choice == "openxr":
        path = runtime_json or "XR_RUNTIME_JSON / the active OpenXR runtime"
        return f"OpenXR: {path}"
    if runtime_json:
        return f"automatic: OpenXR {runtime_json} if it offers the extension, else built-in"
    return "automatic: built-in unless an OpenXR runtime with the extension is found"


def check_runtime(choice: RuntimeChoice, runtime_json: str, role: str = "remote") -> str:
    """`app.endpoint.service.check_runtime`: the sentence a session with this choice
    would show, without keeping the runtime. Blocking."""
    from app.endpoint import service
    from app.endpoint.failure import WINDOW, in_words_of

    with in_field_terms():
        return in_words_of(WINDOW, service.check_runtime(choice, runtime_json or None, role))


def endpoint_settings(settings: EndpointSettings) -> service_types.EndpointSettings:
    """The endpoint service's settings from the window's fields."""
    from app.endpoint.service import EndpointSettings as ServiceSettings

    listen = settings.mode == "listen"
    return ServiceSettings(
        mode=settings.mode,
        role=settings.role,
        host="" if listen else settings.host,
        port=settings.port,
        transport_port=settings.transport_port,
        listen_interface=(settings.listen_interface or ALL_INTERFACES) if listen else "",
        secure=settings.secure,
        realm=settings.server.realm,
        perform_system_validation=settings.client.system_validation,
        runtime=settings.runtime,
        runtime_json=settings.runtime_json or None,
    )


def session_config_for(settings: EndpointSettings) -> SessionConfig:
    """`app.endpoint.session.SessionConfig` from the window's fields (errors name
    the fields)."""
    from app.endpoint import service

    with in_field_terms():
        return service.session_config(endpoint_settings(settings))


def open_session(
    settings: EndpointSettings,
    *,
    ask_trust_on_first_use: TofuAsk,
) -> tuple[Session, str]:
    """`app.endpoint.service.open_endpoint` on the window's fields: the session and
    the sentence saying which runtime is in use. Blocking (reads files, opens the
    runtime); refusals name the window's fields and the fix."""
    from app.endpoint import service
    from app.endpoint.failure import WINDOW, in_words_of

    opened = service.open_endpoint(
        endpoint_settings(settings),
        face=WINDOW,
        server=lambda: server_auth_settings(settings.server),
        client=lambda: client_auth_settings(settings.client),
        ask=ask_trust_on_first_use,
    )
    return opened.session, in_words_of(WINDOW, opened.runtime_description)


def is_clean_disconnect(reason: int) -> bool:
    """Ended on a request (ours or the peer's): information, not an error."""
    from app.endpoint.events import CLEAN_REASONS

    return reason in {int(r) for r in CLEAN_REASONS}


def share_info(
    interface: str, port: int, pin: str, listener_role: str, machine_addresses: Sequence[str]
) -> ShareInfo:
    """`app.share.ShareInfo`: what the Share panel shows for this listener."""
    from app.share import ShareInfo, reachable_addresses

    return ShareInfo(
        addresses=reachable_addresses(interface, machine_addresses),
        port=port,
        pin=pin,
        listener_role=listener_role,
    )


def default_known_hosts() -> str:
    return str(defaults.known_hosts_file())

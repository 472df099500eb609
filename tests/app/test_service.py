"""The endpoint service: both faces open sessions through it, and its refusals name
the setting as the face the person uses calls it."""

from __future__ import annotations

import pytest

from app.endpoint import service
from app.endpoint.failure import COMMAND_LINE, WINDOW
from app.endpoint.providers import ServerAuthSettings
from app.endpoint.service import EndpointSettings
from app.errors import InputError


def _discard(opened: service.OpenedEndpoint) -> None:
    """A session that never started holds only its runtime and callbacks context."""
    opened.session.runtime.close()
    opened.session.callbacks.close()


def _no_store() -> ServerAuthSettings:
    return ServerAuthSettings(store_path="")


@pytest.mark.parametrize(
    ("face", "subject"), [(COMMAND_LINE, "--transport-port"), (WINDOW, "Transport port")]
)
def test_the_configuration_is_checked_first_and_named_per_face(face, subject) -> None:
    settings = EndpointSettings(mode="listen", port=9000, transport_port=9000)
    with pytest.raises(InputError) as caught:
        # A missing store too: the port is the first bad input, so it is the one said.
        service.open_endpoint(settings, face=face, server=_no_store)
    assert caught.value.subject == subject
    assert "both 9000" in caught.value.message


@pytest.mark.parametrize(
    ("face", "subject"), [(COMMAND_LINE, "--cert-store"), (WINDOW, "Certificate store")]
)
def test_a_settings_error_names_the_flag_or_the_field(face, subject) -> None:
    with pytest.raises(InputError) as caught:
        service.open_endpoint(EndpointSettings(mode="listen"), face=face, server=_no_store)
    assert caught.value.subject.startswith(subject)


def test_a_plain_listener_gets_the_runtime_it_asked_for() -> None:
    settings = EndpointSettings(
        mode="listen",
        port=0,
        transport_port=0,
        listen_interface="127.0.0.1",
        secure=False,
        runtime="builtin",
    )
    opened = service.open_endpoint(settings, face=WINDOW)
    try:
        assert "built-in" in opened.runtime_description
        assert opened.session.config.listen_interface == "127.0.0.1"
    finally:
        _discard(opened)


def test_the_clients_forced_revocation_check_reaches_the_runtime() -> None:
    """forceRevocationCheck is a client setting the built-in runtime passes on (as
    Microsoft's runtime does): the service carries it from the client's settings."""
    from app.endpoint.providers import ClientAuthSettings
    from app.remoting.builtin import BuiltinRuntime

    settings = EndpointSettings(mode="connect", host="127.0.0.1", runtime="builtin")
    opened = service.open_endpoint(
        settings,
        face=COMMAND_LINE,
        client=lambda: ClientAuthSettings(token="t" * 20, force_revocation_check=True),
    )
    try:
        assert isinstance(opened.session.runtime, BuiltinRuntime)
        assert opened.session.runtime.options.force_revocation_check is True
    finally:
        _discard(opened)

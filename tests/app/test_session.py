"""Session configuration and the event API (the loopback tests with the built-in
runtime are in tests/app/remoting/)."""

from __future__ import annotations

import pytest

from app.remoting.reasons import explain
from app.security.records import CallbackRecord
from app.session import ConfigError, SessionConfig
from app.session_events import (
    CallbackCalled,
    Connected,
    Disconnected,
    Listening,
    Note,
    StateChanged,
)
from app.xr.values import ConnectionState, DisconnectReason


def test_config_defaults_are_secure_remote_on_the_standard_ports() -> None:
    config = SessionConfig(mode="listen")
    assert (config.port, config.transport_port, config.secure, config.role) == (
        8265,
        8266,
        True,
        "remote",
    )


@pytest.mark.parametrize(
    ("kwargs", "subject"),
    [
        ({"mode": "dial"}, "mode"),
        ({"mode": "connect"}, "host"),
        ({"mode": "connect", "host": "a b"}, "host"),
        ({"mode": "connect", "host": "h", "port": 0}, "port"),
        ({"mode": "listen", "port": 70000}, "port"),
        ({"mode": "listen", "transport_port": -1}, "transport_port"),
        ({"mode": "listen", "port": 9000, "transport_port": 9000}, "transport_port"),
        ({"mode": "listen", "role": "viewer"}, "role"),
        ({"mode": "listen", "realm": 'a"b'}, "realm"),
        ({"mode": "listen", "realm": ""}, "realm"),
    ],
)
def test_config_refuses_bad_and_contradictory_settings(kwargs: dict, subject: str) -> None:
    with pytest.raises(ConfigError) as info:
        SessionConfig(**kwargs)
    assert info.value.subject == subject


def test_plain_mode_does_not_care_about_the_realm() -> None:
    SessionConfig(mode="listen", secure=False, realm="")


def test_events_serialise_with_spec_names() -> None:
    assert StateChanged(ConnectionState.CONNECTED).to_json() == {
        "event": "state",
        "state": "XR_REMOTING_CONNECTION_STATE_CONNECTED_MSFT",
    }
    assert Listening(1234, 1235).to_json() == {
        "event": "listening",
        "port": 1234,
        "transportPort": 1235,
    }
    assert Connected().to_json() == {"event": "connected"}
    event = Disconnected.of(DisconnectReason.AUTHENTICATION_FAILED)
    assert event.to_json()["reason"] == "XR_REMOTING_DISCONNECT_REASON_AUTHENTICATION_FAILED_MSFT"
    assert event.explanation == explain(DisconnectReason.AUTHENTICATION_FAILED).explanation
    assert event.failed
    assert not Disconnected.of(DisconnectReason.PEER_DISCONNECT_REQUEST).failed
    record = CallbackRecord("RequestAuthenticationToken", 1.0, 0.001, {}, {}, 0)
    assert CallbackCalled(record).to_json()["callback"] == "RequestAuthenticationToken"
    assert CallbackCalled(record).to_json()["result"] == "XR_SUCCESS"
    assert Note("info", "x").to_json() == {"event": "note", "level": "info", "message": "x"}

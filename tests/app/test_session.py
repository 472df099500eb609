"""Session configuration and the event API (the loopback tests with the built-in
runtime are in tests/app/remoting/)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from app.endpoint.events import (
    CallbacksCalled,
    Connected,
    Disconnected,
    Listening,
    Note,
    StateChanged,
    record_json,
    records_in,
)
from app.endpoint.record_relay import RecordRelay
from app.endpoint.session import ConfigError, Session, SessionConfig
from app.remoting.reasons import explain
from app.xr.records import CallbackRecord
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
    assert record_json(record)["event"] == "callback"
    assert record_json(record)["callback"] == "RequestAuthenticationToken"
    assert record_json(record)["result"] == "XR_SUCCESS"
    assert CallbacksCalled((record,)).to_json()["records"] == [record_json(record)]
    assert records_in([Connected(), CallbacksCalled((record, record))]) == [record, record]
    assert Note("info", "x").to_json() == {"event": "note", "level": "info", "message": "x"}


# --- RecordRelay: records from runtime threads reach the loop in batches -------------


class _CountingLoop(asyncio.SelectorEventLoop):
    """A real event loop that counts thread-safe wake-ups."""

    wakeups = 0

    def call_soon_threadsafe(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.wakeups += 1
        return super().call_soon_threadsafe(*args, **kwargs)


def _records(n: int) -> list[CallbackRecord]:
    return [
        CallbackRecord("ValidateAuthenticationToken", float(i), 0.0, {}, {}, 0) for i in range(n)
    ]


def test_a_burst_of_records_costs_one_wakeup_and_keeps_its_order() -> None:
    loop = _CountingLoop()
    relay = RecordRelay()
    got: list[Sequence[CallbackRecord]] = []
    records = _records(10_000)

    async def burst() -> None:
        relay.attach(got.append, asyncio.get_running_loop())
        for record in records:  # no yield in between: the drain cannot run yet
            relay(record)
        assert got == []
        await asyncio.sleep(0)
        assert [list(batch) for batch in got] == [records]  # one batch, in order

    try:
        loop.run_until_complete(burst())
    finally:
        loop.close()
    assert loop.wakeups == 1


def test_records_from_threads_arrive_in_order_with_far_fewer_wakeups() -> None:
    loop = _CountingLoop()
    relay = RecordRelay()
    got: list[CallbackRecord] = []
    records = _records(5_000)  # fewer than the relay's bound (MAX_HISTORY)
    early = _records(3)

    async def from_a_thread() -> None:
        for record in early:  # before attach: kept, then delivered first
            relay(record)
        done = asyncio.Event()
        relay.attach(
            lambda batch: (got.extend(batch), len(got) == 5_003 and done.set()),
            asyncio.get_running_loop(),
        )

        def produce() -> None:
            for record in records:
                relay(record)

        await asyncio.to_thread(produce)
        await asyncio.wait_for(done.wait(), 10)

    try:
        loop.run_until_complete(from_a_thread())
    finally:
        loop.close()
    assert got == early + records
    assert loop.wakeups < len(records) / 2, loop.wakeups


def test_without_a_loop_records_are_forwarded_at_once_and_detach_stops_them() -> None:
    relay = RecordRelay()
    got: list[CallbackRecord] = []
    first, second, third = _records(3)
    relay(first)
    relay.attach(got.extend)
    assert got == [first]
    relay(second)
    assert got == [first, second]
    relay.detach()
    relay(third)  # kept for the next attach
    assert got == [first, second]


def test_a_loop_that_never_drains_keeps_only_the_newest_records() -> None:
    from app.endpoint.record_relay import MAX_QUEUED_RECORDS as MAX_HISTORY

    loop = _CountingLoop()
    relay = RecordRelay()
    got: list[CallbackRecord] = []
    records = _records(MAX_HISTORY + 5)

    async def stalled() -> None:
        relay.attach(got.extend, asyncio.get_running_loop())
        for record in records:
            relay(record)
        await asyncio.sleep(0)

    try:
        loop.run_until_complete(stalled())
    finally:
        loop.close()
    assert got == records[5:]


def _verdict_record(*, trusted_root: bool) -> CallbackRecord:
    from app.xr.validation_result import ValidationResult
    from app.xr.values import CertificateNameValidationResult

    verdict = ValidationResult(
        trusted_root=trusted_root, name_mismatch=CertificateNameValidationResult.MATCH
    )
    return CallbackRecord(
        "ValidateServerCertificate",
        0.0,
        0.001,
        {"hostName": "127.0.0.1", "forceRevocationCheck": False},
        {"validationResultOut": verdict.to_json()},
        0,
    )


def test_the_latest_refusal_in_the_records_is_the_one_a_disconnect_names() -> None:
    """The session reads a burst from its end up to its last refusal: the refusal it
    keeps is still the latest one, and a burst without one keeps the earlier."""
    from app.remoting.builtin import BuiltinOptions, BuiltinRuntime

    config = SessionConfig(mode="connect", host="127.0.0.1", secure=False)
    session = Session.with_callbacks(config, BuiltinRuntime(BuiltinOptions()))
    refused, accepted, later = (
        _verdict_record(trusted_root=False),
        _verdict_record(trusted_root=True),
        _verdict_record(trusted_root=False),
    )
    session._records_on_loop([refused, accepted, later, *_records(3)])
    assert session._refusal is not None and session._refusal.record is later
    assert session._refusal.checks == ("trustedRoot",)
    session._records_on_loop([accepted, *_records(2)])
    assert session._refusal.record is later
    session._records_on_loop([refused, accepted])
    assert session._refusal.record is refused
    assert [e for e in session.history if isinstance(e, CallbacksCalled)][-1].records == (
        refused,
        accepted,
    )

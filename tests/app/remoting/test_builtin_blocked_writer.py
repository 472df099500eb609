"""A session whose peer stops reading while this end has data to write.

The transport driver waits for the socket to take its writes (`StreamWriter.drain`).
While it waited, it saw neither its timers nor a disconnect request: a peer frozen
in a debugger (its kernel still acknowledging, its application reading and sending
nothing) or one that simply stops reading held the session, and
xrRemotingDisconnectMSFT, for as long as the peer stayed so. The heartbeat timeout
and the disconnect wait must hold while writing is blocked too."""

from __future__ import annotations

import asyncio

import pytest

from app.endpoint.events import Disconnected
from app.endpoint.session import Session
from app.remoting.builtin import shell
from app.remoting.builtin.channels import MAX_MESSAGE_BYTES, MAX_UNRETRIEVED_BYTES
from app.security.testpki import GeneratedPki
from app.xr.values import DataChannelPriority, DisconnectReason
from tests.app.remoting.remoting_support import WAIT_S, assert_reason, run
from tests.app.remoting.test_builtin_channels import (
    builtin,
    connected_pair,
    opened_by_peer,
    parked_loop,
    until_input_held,
)

R = DisconnectReason
LOW = DataChannelPriority.LOW


async def _until_blocked(remote: Session, handle: int) -> None:
    """Until the remote has bytes its transport cannot hand to the socket."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while (await remote.channels.state(handle)).send_queue_size == 0:
        assert loop.time() < deadline, "the remote wrote everything"
        await asyncio.sleep(0.01)


async def _send_more_than_the_peer_takes(remote: Session, handle: int) -> None:
    for index in range(MAX_UNRETRIEVED_BYTES // MAX_MESSAGE_BYTES + 8):
        await remote.channels.send(handle, bytes([index]) * MAX_MESSAGE_BYTES)


def test_a_disconnect_while_the_peer_reads_nothing_ends_after_the_disconnect_wait(
    pki: GeneratedPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The player retrieves nothing, so its transport stops reading and the remote's
    writes back up; the remote's disconnect request cannot reach the player (it is
    queued behind the data), and the session ends when the disconnect wait is over."""
    monkeypatch.setattr(shell, "HOLD_LIMIT_S", 3600.0)  # the player holds for good

    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            player.channels.manual_retrieve = True
            handle = await remote.channels.open(40, LOW)
            await opened_by_peer(player, 40)
            await _send_more_than_the_peer_takes(remote, handle)
            await until_input_held(player)
            await _until_blocked(remote, handle)
            mark = remote.event_count
            await remote.disconnect()
            end = await remote.wait_for(lambda e: isinstance(e, Disconnected), WAIT_S, after=mark)
            assert_reason(end, R.PEER_DISCONNECT_TIMEOUT)

    run(scenario())


def test_a_peer_frozen_while_this_end_writes_is_lost_after_the_heartbeat_timeout(
    pki: GeneratedPki,
) -> None:
    """The player's loop stops (no reading, no heartbeats; its kernel still takes
    what fits): the remote, blocked writing, reports the connection lost once it has
    heard nothing for the heartbeat timeout, not only when the player wakes."""

    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            handle = await remote.channels.open(41, LOW)
            await opened_by_peer(player, 41)
            timeout = builtin(remote).options.heartbeat_timeout
            mark = remote.event_count
            with parked_loop(builtin(player)):
                await _send_more_than_the_peer_takes(remote, handle)
                await _until_blocked(remote, handle)
                # Well before the player's loop is released (WAIT_S).
                end = await remote.wait_for(
                    lambda e: isinstance(e, Disconnected), timeout + 3.0, after=mark
                )
            assert_reason(end, R.CONNECTION_LOST)

    run(scenario())


def test_both_ends_holding_their_input_while_blocked_writing_stay_connected(
    pki: GeneratedPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither application retrieves, both send more than the other takes: each end
    holds its input and waits to write. Each one's unread input is its own pause,
    not the peer's silence, so neither reports the connection lost."""
    monkeypatch.setattr(shell, "HOLD_LIMIT_S", 3600.0)  # both hold for good

    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            remote.channels.manual_retrieve = player.channels.manual_retrieve = True
            remote_handle = await remote.channels.open(42, LOW)
            player_handle = await opened_by_peer(player, 42)
            marks = remote.event_count, player.event_count
            await asyncio.gather(
                _send_more_than_the_peer_takes(remote, remote_handle),
                _send_more_than_the_peer_takes(player, player_handle),
            )
            await until_input_held(remote)
            await until_input_held(player)
            await _until_blocked(remote, remote_handle)
            await _until_blocked(player, player_handle)
            # Several heartbeat timeouts with nothing read on either side.
            await asyncio.sleep(3 * builtin(remote).options.heartbeat_timeout)
            for session, mark in zip((remote, player), marks, strict=True):
                ends = [e for e in session.history[mark:] if isinstance(e, Disconnected)]
                assert not ends, ends

    run(scenario())

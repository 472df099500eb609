"""The file transfer's faults over real TLS: a file is kept only whole and checked."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

from app.endpoint.link_test import FILE_MAGIC, ChannelServices, send_file
from app.security.testpki import GeneratedPki
from tests.app.remoting.remoting_support import WAIT_S, run
from tests.app.remoting.test_builtin_channels import connected_pair


def test_a_disconnect_mid_transfer_leaves_nothing_in_the_save_dir(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            started, ended = asyncio.Event(), asyncio.Event()
            refusals: list[str] = []
            services = ChannelServices(
                player.channels,
                save_dir=tmp_path,
                on_progress=lambda name, size: started.set(),
                on_refusal=lambda text: (refusals.append(text), ended.set()),
            )
            serving = asyncio.ensure_future(services.run())
            handle = await remote.channels.open(1)
            header = {"name": "big.bin", "size": 10 << 20, "sha256": "0" * 64}
            await remote.channels.send(handle, FILE_MAGIC + json.dumps(header).encode())
            await remote.channels.send(handle, b"C" + b"x" * 100_000)
            await asyncio.wait_for(started.wait(), WAIT_S)
            assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")]
            await remote.disconnect()
            await asyncio.wait_for(ended.wait(), WAIT_S)
            assert "closed" in refusals[0]
            assert list(tmp_path.iterdir()) == []
            serving.cancel()

    run(scenario())


def test_a_file_whose_sha256_differs_is_not_kept(pki: GeneratedPki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            serving = asyncio.ensure_future(
                ChannelServices(player.channels, save_dir=tmp_path).run()
            )
            handle = await remote.channels.open(2)
            header = {"name": "a.txt", "size": 5, "sha256": hashlib.sha256(b"other").hexdigest()}
            await remote.channels.send(handle, FILE_MAGIC + json.dumps(header).encode())
            await remote.channels.send(handle, b"Chello")
            await remote.channels.send(handle, b"Z")
            answer = await remote.channels.receive(handle, WAIT_S)
            assert answer.startswith(b"X") and b"not kept" in answer
            assert list(tmp_path.iterdir()) == []
            serving.cancel()

    run(scenario())


def test_a_file_name_with_a_path_is_refused(pki: GeneratedPki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with connected_pair(pki) as (remote, player):
            save = tmp_path / "save"
            save.mkdir()
            serving = asyncio.ensure_future(ChannelServices(player.channels, save_dir=save).run())
            handle = await remote.channels.open(3)
            header = {"name": "../escape.txt", "size": 1, "sha256": "0" * 64}
            await remote.channels.send(handle, FILE_MAGIC + json.dumps(header).encode())
            answer = await remote.channels.receive(handle, WAIT_S)
            assert answer.startswith(b"X") and b"refusing the file name" in answer
            assert list(save.iterdir()) == [] and not (tmp_path / "escape.txt").exists()
            # and a proper one goes through on the same session
            source = tmp_path / "ok.bin"
            source.write_bytes(b"\x00\x01" * 1000)
            sent = await send_file(remote.channels, 4, source)
            assert (save / "ok.bin").read_bytes() == source.read_bytes()
            assert sent.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
            serving.cancel()

    run(scenario())

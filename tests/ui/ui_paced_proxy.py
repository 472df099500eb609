"""A TCP proxy on 127.0.0.1 whose every chunk, both ways, waits for the UI thread.

Why: to prove that a connect never blocks the UI thread without timing anything.
Each chunk read from either side is held until the UI thread has called `tick()` a
few more times (from a QTimer in the test). If the window waited for the network on
its own thread, no tick would come, no chunk would pass and the connect could never
finish: the test fails on the event it waits for, not on a clock.

The proxy runs its own asyncio loop on its own thread. Bytes keep their order.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

CHUNK = 64 * 1024
START_TIMEOUT_S = 5.0


class UiPacedProxy:
    """`with UiPacedProxy(target_port, ticks_per_chunk) as proxy:` connect to
    `proxy.port`, and call `proxy.tick()` from the UI thread's timer."""

    def __init__(self, target_port: int, ticks_per_chunk: int, host: str = "127.0.0.1") -> None:
        self.target = (host, target_port)
        self.ticks_per_chunk = ticks_per_chunk
        self.host = host
        self.port = 0
        self.connections = 0
        self.chunks_released = 0
        self._ticks = 0  # only read and written on the proxy's loop
        self._loop = asyncio.new_event_loop()
        self._ticked = asyncio.Condition()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ui-paced-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> UiPacedProxy:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S) or not self.port:
            raise RuntimeError("the UI-paced proxy did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(START_TIMEOUT_S)

    def tick(self) -> None:
        """One beat of the UI thread (thread-safe)."""
        self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._on_tick()))

    async def _on_tick(self) -> None:
        async with self._ticked:
            self._ticks += 1
            self._ticked.notify_all()

    async def _until_tick(self, tick: int) -> None:
        async with self._ticked:
            await self._ticked.wait_for(lambda: self._ticks >= tick)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, self.host, 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                release_at, data = await queue.get()
                await self._until_tick(release_at)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
                self.chunks_released += 1

        sender = asyncio.create_task(deliver())
        try:
            while True:
                data = await reader.read(CHUNK)
                queue.put_nowait((self._ticks + self.ticks_per_chunk, data))
                if not data:
                    break
            await sender
        except (ConnectionError, OSError):
            sender.cancel()
        finally:
            with contextlib.suppress(ConnectionError, OSError):
                writer.close()

"""A TCP proxy on 127.0.0.1 that holds every chunk back for a fixed delay, both ways.

Why: a loopback connect finishes in ~0.1 s, too fast for a timer to tell whether the
UI thread waited for it. Behind this proxy the handshake's round trips (TLS, the 401
challenge, the token) take several times the delay, as over a slow Wi-Fi link to a
headset, so a connect that blocked the UI thread would stall the timer for that long.

The proxy runs its own asyncio loop on its own thread: it keeps forwarding whatever
the UI thread does. Bytes keep their order; the delay is counted from when a chunk
was read.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

CHUNK = 64 * 1024
START_TIMEOUT_S = 5.0


class LatencyProxy:
    """`with LatencyProxy(target_port, delay_s) as proxy:` connect to `proxy.port`."""

    def __init__(self, target_port: int, delay_s: float, host: str = "127.0.0.1") -> None:
        self.target = (host, target_port)
        self.delay_s = delay_s
        self.host = host
        self.port = 0
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="latency-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> LatencyProxy:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S) or not self.port:
            raise RuntimeError("the latency proxy did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(START_TIMEOUT_S)

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
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    break
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while True:
                data = await reader.read(CHUNK)
                queue.put_nowait((loop.time() + self.delay_s, data))
                if not data:
                    break
            await sender
        except (ConnectionError, OSError):
            sender.cancel()
        finally:
            with contextlib.suppress(ConnectionError, OSError):
                writer.close()

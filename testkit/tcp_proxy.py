"""A small asyncio TCP proxy on loopback that can delay, blackhole or reset connections.

Put it between the service and PostgreSQL to make the network misbehave on purpose:

- ``mode = "pass"``: forward bytes both ways (optionally after ``delay`` seconds per chunk);
- ``mode = "blackhole"``: accept connections, read and drop everything, never answer;
- ``mode = "reset"``: accept and immediately reset (RST) new connections.

``blackhole_all()`` / ``reset_all()`` also act on connections that are already open.
The proxy runs in a background thread with its own event loop, so synchronous test code and
an application running on another loop can both use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["pass", "blackhole", "reset"]
CHUNK = 65536


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close ``writer``'s socket with RST instead of FIN (SO_LINGER 0)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass(eq=False)
class _Link:
    """One client connection and its upstream connection."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    blackholed: bool = False


@dataclass
class TcpProxy:
    """Forward 127.0.0.1:``port`` to ``target_host``:``target_port`` with injectable faults."""

    target_host: str
    target_port: int
    mode: Mode = "pass"
    delay: float = 0.0
    port: int = 0
    accepted: int = 0
    _links: set[_Link] = field(default_factory=set)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.Server | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> TcpProxy:
        """Start listening on a free loopback port (``self.port``) in a background thread."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", self.port)
            )
            self.port = int(self._server.sockets[0].getsockname()[1])
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="tcp-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError("the TCP proxy did not start")
        return self

    def stop(self) -> None:
        """Close every connection and stop the proxy."""
        if self._loop is None or self._thread is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for link in list(self._links):
                _abort(link.client)
                if link.upstream is not None:
                    _abort(link.upstream)
            self._links.clear()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop = None

    # --- fault injection -----------------------------------------------------------------------
    def set_mode(self, mode: Mode, delay: float = 0.0) -> None:
        """Apply ``mode`` (and per-chunk ``delay``) to connections accepted from now on."""
        self.mode = mode
        self.delay = delay

    def blackhole_all(self) -> None:
        """Stop forwarding on every open connection and on new ones (nothing answers)."""
        self.mode = "blackhole"
        for link in list(self._links):
            link.blackholed = True

    def reset_all(self) -> None:
        """Reset every open connection and new ones."""
        self.mode = "reset"
        if self._loop is None:
            return

        def abort_all() -> None:
            for link in list(self._links):
                _abort(link.client)
                if link.upstream is not None:
                    _abort(link.upstream)
            self._links.clear()

        self._loop.call_soon_threadsafe(abort_all)

    def heal(self) -> None:
        """Go back to plain forwarding for new connections (blackholed ones stay dead)."""
        self.set_mode("pass")

    @property
    def open_connections(self) -> int:
        """Return the number of client connections currently open."""
        return len(self._links)

    # --- forwarding ---------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode == "reset":
            _abort(writer)
            return
        link = _Link(client=writer, blackholed=self.mode == "blackhole")
        self._links.add(link)
        try:
            if link.blackholed:
                await self._drain_forever(reader, link)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
            except OSError:
                _abort(writer)
                return
            link.upstream = up_writer
            await asyncio.gather(
                self._pipe(reader, up_writer, link),
                self._pipe(up_reader, writer, link),
                return_exceptions=True,
            )
        finally:
            self._links.discard(link)
            for side in (writer, link.upstream):
                if side is not None and not side.is_closing():
                    side.close()

    async def _drain_forever(self, reader: asyncio.StreamReader, link: _Link) -> None:
        while await reader.read(CHUNK):
            pass

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, link: _Link
    ) -> None:
        while True:
            data = await source.read(CHUNK)
            if not data:
                break
            if link.blackholed:
                continue  # swallow: the other side waits forever
            if self.delay > 0:
                await asyncio.sleep(self.delay)
            sink.write(data)
            await sink.drain()
        if not sink.is_closing() and not link.blackholed:
            with contextlib.suppress(OSError, RuntimeError):
                sink.write_eof()


@contextlib.contextmanager
def running_proxy(target_host: str, target_port: int) -> Iterator[TcpProxy]:
    """Run a proxy to ``target_host:target_port`` for the duration of the block."""
    proxy = TcpProxy(target_host, target_port).start()
    try:
        yield proxy
    finally:
        proxy.stop()

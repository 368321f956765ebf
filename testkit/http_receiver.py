"""A loopback HTTP server that records JSON posts: a stand-in webhook or Telegram Bot API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from testkit.loopback import server_thread


@dataclass
class ReceivedPost:
    """One request the receiver got."""

    path: str
    body: dict[str, Any]


@dataclass
class Receiver:
    """The running receiver: its URL and what it got so far."""

    url: str
    posts: list[ReceivedPost] = field(default_factory=list)
    refused: list[ReceivedPost] = field(default_factory=list)
    refuse_next: int = 0  # answer this many coming posts with HTTP 500 (and not record them)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[dict[str, Any]]:
        """Return the JSON bodies received, in order."""
        with self.lock:
            return [post.body for post in self.posts]


@contextmanager
def http_receiver() -> Iterator[Receiver]:
    """Run a receiver on 127.0.0.1 (a free port) for the duration of the block."""
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with receiver.lock:
                refuse = receiver.refuse_next > 0
                if refuse:
                    receiver.refuse_next -= 1
                    receiver.refused.append(ReceivedPost(self.path, body))
                else:
                    receiver.posts.append(ReceivedPost(self.path, body))
            payload = b'{"ok": false}' if refuse else b'{"ok": true, "result": {}}'
            self.send_response(500 if refuse else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = server_thread(server)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()

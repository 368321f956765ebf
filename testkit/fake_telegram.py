"""A fake Telegram Bot API server on loopback: the bot's real HTTP session talks to it.

Point ``TELEGRAM_API_URL`` at ``server.url``. It answers getMe, setWebhook, deleteWebhook,
long-polling getUpdates (from a queue the test fills) and every sending method, and keeps
each call for assertions. ``down`` makes it answer 502 (Telegram unreachable behind a
proxy) while still recording the attempt. Tests wait on its calls with ``wait_for``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from testkit.loopback import server_thread

BOT_USER = {"id": 123456, "is_bot": True, "first_name": "bandwise", "username": "bandwise_bot"}


@dataclass(frozen=True)
class Call:
    """One Bot API request: its method and parameters (JSON fields decoded)."""

    method: str
    params: dict[str, Any]


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    if content_type.startswith("multipart/form-data"):
        message = BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        params: dict[str, Any] = {}
        for part in message.walk():
            if part.is_multipart():
                continue
            name = part.get_param("name", header="content-disposition")
            if part.get_filename() is None and isinstance(name, str):
                payload = part.get_payload(decode=True)
                params[name] = _decode(payload.decode() if isinstance(payload, bytes) else "")
        return params
    if content_type.startswith("application/json"):
        loaded = json.loads(body or b"{}")
        return loaded if isinstance(loaded, dict) else {}
    return {key: _decode(values[-1]) for key, values in parse_qs(body.decode()).items()}


class FakeTelegram:
    """The fake Bot API; ``url`` is its base (what ``TELEGRAM_API_URL`` takes)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.calls: list[Call] = []
        self.down = False
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(5000)
        self._changed = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                method = self.path.rstrip("/").rsplit("/", 1)[-1]
                length = int(self.headers.get("content-length", 0))
                params = _parse_body(self.headers.get("content-type", ""), self.rfile.read(length))
                status, answer = fake._answer(method, params)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the bot gave up on a long poll (it is stopping)

        # ``host``: loopback, or the gateway of a container network for bots in containers.
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = server_thread(self._server)

    @property
    def url(self) -> str:
        """Return the base URL of this Bot API server."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._changed:
            self.calls.append(Call(method, params))
            self._changed.notify_all()
            down = self.down
        if down:
            return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._take_updates(params)}
        if method == "getMe":
            return 200, {"ok": True, "result": BOT_USER}
        if method.startswith("send") and method != "sendChatAction":
            message = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": int(params.get("chat_id", 0)), "type": "private"},
                "text": params.get("text"),
            }
            return 200, {"ok": True, "result": message}
        return 200, {"ok": True, "result": True}

    def _take_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
        with self._changed:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and time.monotonic() < deadline:
                self._changed.wait(max(0.0, deadline - time.monotonic()))
            return list(self._updates)

    def queue_update(self, update: dict[str, Any]) -> None:
        """Queue one update (its ``update_id`` is assigned here) for getUpdates."""
        with self._changed:
            self._updates.append({**update, "update_id": next(self._update_ids)})
            self._changed.notify_all()

    def set_down(self, down: bool) -> None:
        """Answer every request with 502 (True) or normally again (False)."""
        with self._changed:
            self.down = down

    def calls_of(self, method: str) -> list[Call]:
        """Return the calls of ``method`` so far."""
        with self._changed:
            return [call for call in self.calls if call.method == method]

    def wait_for(self, condition: Callable[[list[Call]], bool], timeout: float = 30.0) -> None:
        """Block until ``condition(calls)`` holds (each new call wakes it), or fail."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(list(self.calls)):
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [call.method for call in self.calls][-20:]
                    raise TimeoutError(f"the fake Bot API did not see it; last calls: {seen}")
                self._changed.wait(left)

    def sent_texts(self) -> list[str]:
        """Return the texts of every sendMessage so far."""
        return [str(call.params.get("text")) for call in self.calls_of("sendMessage")]

    def start(self) -> FakeTelegram:
        """Start serving in a thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wake any long poll."""
        with self._changed:
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def fake_telegram(port: int = 0, host: str = "127.0.0.1") -> Iterator[FakeTelegram]:
    """Run a fake Bot API server for the duration of the block."""
    server = FakeTelegram(port, host).start()
    try:
        yield server
    finally:
        server.stop()

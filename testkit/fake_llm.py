"""A local OpenAI-compatible chat-completions server on loopback, answering from a script.

Each request takes the next scripted reply (status, body, delay); when the script runs out
the last reply repeats. Every request body is kept for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from testkit.loopback import server_thread


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    content: str | None = None  # the assistant message content (status 200)
    delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()


def completion(content: str) -> dict[str, Any]:
    """Return a chat-completions response body carrying ``content``."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def good_answer(
    bands: tuple[float, float, float, float] = (6.5, 6.0, 7.0, 6.5), suggestions: int = 3
) -> str:
    """Return a valid assessment JSON answer."""
    names = ("task_achievement", "coherence_cohesion", "lexical_resource", "grammatical_accuracy")
    return json.dumps(
        {
            "criteria": {
                name: {"band": band, "justification": f"“quoted evidence” for {name}"}
                for name, band in zip(names, bands, strict=True)
            },
            "feedback": "A clear answer with some range.",
            "suggestions": [f"Suggestion {n}" for n in range(1, suggestions + 1)],
        }
    )


class FakeLLMServer:
    """The scripted server; ``url`` is its OpenAI-style base URL."""

    def __init__(self) -> None:
        self.script: list[Reply] = [Reply(content=good_answer())]
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers.items()))
                    server._arrived.notify_all()
                    reply = server.script.pop(0) if len(server.script) > 1 else server.script[0]
                if reply.delay:
                    time.sleep(reply.delay)
                payload = (
                    json.dumps(completion(reply.content or ""))
                    if reply.status == 200
                    else json.dumps({"error": {"message": f"status {reply.status}"}})
                )
                data = payload.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for name, value in reply.headers:
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = server_thread(self._server)

    @property
    def url(self) -> str:
        """Return the base URL (``…/v1``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def answer(self, *replies: Reply) -> None:
        """Replace the script."""
        with self._lock:
            self.script = list(replies)

    def wait_for_requests(self, count: int = 1, timeout: float = 30.0) -> None:
        """Block until ``count`` requests have arrived (each arrival wakes it), or fail."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the fake LLM got {len(self.requests)} of {count} requests")
                self._arrived.wait(left)

    def start(self) -> None:
        """Start serving in a thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def fake_llm_server() -> Iterator[FakeLLMServer]:
    """Run a fake server for the duration of the block."""
    server = FakeLLMServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()

"""Drive a bot runner child process (``testkit.bot_runner``) from tests.

``BotProcess`` starts the runner with settings as environment variables, waits until its
Dispatcher is ready, sends it batches of Telegram updates and collects the replies, each call
bounded in time. Several of them against one database are several bot instances.
"""

from __future__ import annotations

import json
import queue
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aiogram.types import Update

from testkit.service import clean_environment, module_command

END = None  # what the reader thread queues when the child closes its stdout


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


@dataclass
class BotProcess:
    """One bot runner child process: start, wait until ready, feed updates, stop."""

    settings: dict[str, str]
    log_path: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="bandwise-bot-")) / "bot.log"
    )
    process: subprocess.Popen[str] | None = None
    _lines: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def start(self) -> BotProcess:
        """Launch the runner; it waits for the database and migrates on its own."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                module_command("bot_runner"),
                env=clean_environment({"LOG_LEVEL": "INFO", **self.settings}),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                bufsize=1,
            )
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        return self

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(END)

    def _next(self, deadline: float | None) -> dict[str, Any]:
        # No deadline: wait for the child's next line or its exit (both are signals); the
        # test's own timeout bounds a hang. A load-dependent clock here only adds flakiness.
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            line = self._lines.get(timeout=wait)
        except queue.Empty:
            silent = f"bot runner silent past the deadline:\n{self.log_tail()}"
            raise TimeoutError(silent) from None
        if line is END:
            raise RuntimeError(f"bot runner exited:\n{self.log_tail()}")
        payload: dict[str, Any] = json.loads(line)
        return payload

    def wait_ready(self, timeout: float | None = None) -> None:
        """Wait for the runner's ready line (or its exit); ``timeout`` bounds it when given."""
        if not self._next(_deadline(timeout)).get("ready"):
            raise RuntimeError(f"bot runner did not announce readiness:\n{self.log_tail()}")

    def send(self, updates: Iterable[Update]) -> None:
        """Send a batch of updates (handled concurrently by the child) and its barrier."""
        assert self.process is not None and self.process.stdin is not None
        for update in updates:
            self.process.stdin.write(update.model_dump_json(exclude_none=True) + "\n")
        self.process.stdin.write("\n")
        self.process.stdin.flush()

    def collect(self, timeout: float | None = None) -> list[dict[str, Any]]:
        """Return the outcome of every update of the batch sent last (waits for its barrier)."""
        deadline = _deadline(timeout)
        outcomes = []
        while "batch_done" not in (payload := self._next(deadline)):
            outcomes.append(payload)
        return outcomes

    def stop(self, timeout: float = 10.0) -> None:
        """Close the child's input (it finishes and exits), killing it if it does not."""
        if self.process is None or self.process.poll() is not None:
            return
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def log_tail(self, characters: int = 3000) -> str:
        """Return the end of what the child logged."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-characters:]
        except OSError:
            return ""

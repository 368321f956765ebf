"""Run an iterator in its own thread, a few items ahead of the code consuming it."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ReadAhead(Generic[T]):
    """Iterate ``source`` in a thread, at most ``depth`` items ahead; use as a context manager.

    Made for SQLite reads: SQLite runs its queries without holding the GIL, so reading the
    next batches overlaps the Python work on the current one. An exception of ``source`` is
    raised where the item it prevented would have been consumed. Leaving the context stops
    the thread (and closes ``source`` in it).
    """

    def __init__(self, source: Iterator[T], depth: int = 2, name: str = "read-ahead") -> None:
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(source,), name=name, daemon=True)

    def __enter__(self) -> ReadAhead[T]:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        kind, value = self._queue.get()
        if kind == "item":
            return value  # type: ignore[no-any-return]
        if kind == "error":
            raise value
        raise StopIteration

    def _run(self, source: Iterator[T]) -> None:
        try:
            for item in source:
                if not self._put(("item", item)):
                    return
            self._put(("end", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(("error", exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    def _put(self, entry: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

"""ReadAhead: items in order, the source's exception where it happened, an early stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from bandwise.ops.importer.readahead import ReadAhead


def test_items_arrive_in_order_and_the_source_runs_in_another_thread() -> None:
    threads: set[str] = set()

    def source() -> Iterator[int]:
        for item in range(100):
            threads.add(threading.current_thread().name)
            yield item

    with ReadAhead(source(), depth=3, name="reader") as items:
        assert list(items) == list(range(100))
    assert threads == {"reader"}


def test_the_sources_exception_is_raised_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("bad page")

    seen: list[int] = []
    with pytest.raises(ValueError, match="bad page"), ReadAhead(source()) as items:
        seen.extend(items)
    assert seen == [1, 2]


def test_leaving_early_stops_the_thread_and_closes_the_source() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            item = 0
            while True:
                yield item
                item += 1
        finally:
            closed.set()

    with ReadAhead(endless(), depth=2) as items:
        assert next(items) == 0
    assert closed.is_set()

"""Read and convert the snapshot table by table, handing batches to the COPY over a queue.

Two producers share one protocol: :class:`ThreadProducer` converts in a thread of the
importer's process; :class:`ProcessProducer` converts in a worker process, so reading and
converting (Python-bound) and COPY encoding run on separate cores. Both run the same
:class:`Converter` over the same snapshot and give identical rows, figures and checksums;
the worker hands its converter (report figures, transformations, bad rows) back at the end.
Memory stays bounded: the batches waiting in the queue hold at most :data:`QUEUE_BYTES`
(estimated), which lets the conversion run ahead while the connection is busy verifying or
re-creating constraints of a table already loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import multiprocessing
import pickle
import queue
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from bandwise.ops.importer.canonical import row_digester
from bandwise.ops.importer.convert import Converter
from bandwise.ops.importer.ratemerged import all_canonical_ahead, may_be_plain
from bandwise.ops.importer.ratesql import rate_limit_text, uses_rate_sql_path
from bandwise.ops.importer.snapshot import Snapshot
from bandwise.ops.importer.sqlfast import TEXT_BATCH_ROWS, text_batches, uses_sql_path
from bandwise.ops.importer.tables import TABLE_ORDER, TABLES, TableSpec

# What the converted batches waiting for the COPY may hold (an estimate of their memory). Large
# enough for the conversion to keep going while the connection checks a loaded table.
QUEUE_BYTES = 16 * 2**20
# The budget is counted in units of this size (a semaphore's count): a batch takes at least one.
_UNIT = 256 * 2**10
QUEUE_UNITS = QUEUE_BYTES // _UNIT
_SAMPLED_ROWS = 16


@dataclass(frozen=True)
class Batch:
    """Converted rows of ``table`` (or a chunk of its COPY text); ``read``: source rows so far."""

    table: str
    rows: Any
    read: int
    units: int = 1  # of the queue's byte budget, given back when the batch is taken


def batch_units(rows: Any) -> int:
    """Return the budget units a batch takes: its bytes, or its rows' estimated memory."""
    if isinstance(rows, bytes | bytearray | memoryview):
        size = len(rows)
    else:
        # Rows of one batch are alike: a few spread over it stand for all (summing every
        # value of every row would cost a noticeable share of the conversion).
        count = len(rows)
        step = max(1, count // _SAMPLED_ROWS)
        sample = rows[::step]
        sampled = sum(
            sys.getsizeof(row) + sum(sys.getsizeof(value) for value in row) for row in sample
        )
        size = sampled * count // max(1, len(sample))
    return min(QUEUE_UNITS, max(1, -(-size // _UNIT)))


@dataclass(frozen=True)
class TableEnd:
    """``table`` has no more batches."""

    table: str


@dataclass(frozen=True)
class Done:
    """The conversion ended; a worker process sends its converter (figures, bad rows) back."""

    converter: Converter | None = None
    peak_rss_mb: float = 0.0


@dataclass(frozen=True)
class Failed:
    """The conversion failed with ``error`` (re-raised where the items are taken)."""

    error: BaseException


# What a producer hands over, in this order: per table in load order its batches, then its
# end; then Done. Failed instead, whenever the conversion fails.
Item = Batch | TableEnd | Done | Failed


def converted_tables(
    snapshot: Snapshot, converter: Converter, *, sql_path: bool = True
) -> Iterator[tuple[str, Iterator[Any]]]:
    """Yield (table, converted batches) in load order.

    A batch is a list of converted rows, or, for a table on an SQL path (``sql_path`` and
    :func:`sends_text`), one chunk of COPY text (bytes).
    """
    rates = TABLES["rate_limits"]
    with contextlib.ExitStack() as stack:
        # rate_limits' spellings are tested while the tables before it are converted, unless
        # its orphans or Telegram ids (known now) already send it to the Python merge.
        rates_canonical = (
            stack.enter_context(all_canonical_ahead(snapshot, rates))
            if sql_path
            and uses_rate_sql_path(rates, snapshot.source_columns(rates))
            and may_be_plain(converter, rates)
            else None
        )
        yield from _converted_tables(snapshot, converter, sql_path, rates_canonical)


def _converted_tables(
    snapshot: Snapshot,
    converter: Converter,
    sql_path: bool,
    rates_canonical: Callable[[], bool] | None,
) -> Iterator[tuple[str, Iterator[Any]]]:
    """Yield (table, converted batches) in load order (``rates_canonical``: as started)."""
    for name in TABLE_ORDER:
        spec = TABLES[name]
        columns = snapshot.source_columns(spec)
        if sql_path and uses_sql_path(spec, columns):
            yield name, text_batches(snapshot, converter, spec, columns, TEXT_BATCH_ROWS)
        elif sql_path and name == "rate_limits" and uses_rate_sql_path(spec, columns):
            next_id = snapshot.max_id(name) + 1
            text = rate_limit_text(snapshot, converter, spec, columns, next_id, rates_canonical)
            yield name, text
        elif name == "rate_limits":
            yield (
                name,
                converter.convert_rate_limits(
                    spec,
                    columns,
                    # By user as repaired: a re-attached row merges with that user's rows.
                    snapshot.batches(
                        name,
                        columns,
                        order_by=snapshot.repaired_user_order(name, "user_id")
                        if converter.repairs.get(name)
                        else "user_id, id",
                    ),
                    snapshot.user_counters(),
                    next_id=snapshot.max_id(name) + 1,
                ),
            )
        else:
            yield name, converter.convert_table(spec, columns, snapshot.batches(name, columns))


def sends_text(spec: TableSpec, source_columns: tuple[str, ...]) -> bool:
    """Tell whether a thread producer hands ``spec``'s table over as COPY text (else rows)."""
    return uses_sql_path(spec, source_columns) or uses_rate_sql_path(spec, source_columns)


class Stopped(Exception):
    """The consumer went away; the producer ends."""


def _reserve(budget: Any, item: Item, stopped: Callable[[], bool]) -> None:
    """Take ``item``'s units from ``budget`` (a semaphore), waiting while the queue is full.

    Raises Stopped when ``stopped()`` tells that the consumer went away.
    """
    for _ in range(item.units if isinstance(item, Batch) else 0):
        while not budget.acquire(timeout=0.2):
            if stopped():
                raise Stopped
    if stopped():
        raise Stopped


def _give_back(budget: Any, item: Item) -> None:
    """Return the units of a batch taken from the queue to ``budget``."""
    for _ in range(item.units if isinstance(item, Batch) else 0):
        budget.release()


def _produce(
    snapshot: Snapshot, converter: Converter, put: Callable[[Item], None], *, sql_path: bool
) -> None:
    """Convert every table, handing each batch and each table's end to ``put``."""
    for name, batches in converted_tables(snapshot, converter, sql_path=sql_path):
        figures = converter.report.figures(name)
        started = time.perf_counter()
        for batch in batches:
            put(Batch(name, batch, figures.source_rows, batch_units(batch)))
        figures.seconds += time.perf_counter() - started
        put(TableEnd(name))


class Producer(Protocol):
    """Where the COPY takes converted batches from."""

    converter: Converter

    def start(self) -> None:
        """Start reading and converting."""

    async def next_item(self) -> Batch | TableEnd | Done:
        """Return the next item; re-raise a failure."""

    async def finish(self) -> None:
        """Wait for the end of the conversion; the converter then holds every figure."""

    def close(self) -> None:
        """Stop the conversion (on failure too) and release its resources."""


class ThreadProducer:
    """Convert in a thread of this process (used where one core is enough)."""

    def __init__(self, snapshot: Snapshot, converter: Converter) -> None:
        self.snapshot = snapshot
        self.converter = converter
        self.queue: queue.Queue[Item] = queue.Queue()  # bounded by ``budget``
        self.budget = threading.Semaphore(QUEUE_UNITS)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="import-reader", daemon=True)

    def _put(self, item: Item) -> None:
        _reserve(self.budget, item, self.stop.is_set)
        self.queue.put(item)

    def _run(self) -> None:
        try:
            _produce(self.snapshot, self.converter, self._put, sql_path=True)
            self._put(Done())
        except Stopped:
            return
        except BaseException as exc:  # handed to the event loop, which re-raises it
            try:
                self._put(Failed(exc))
            except Stopped:
                return

    def start(self) -> None:
        """Start the reader thread."""
        self.thread.start()

    async def next_item(self) -> Batch | TableEnd | Done:
        """Return the next item the reader produced; re-raise its failure."""
        item = await asyncio.get_running_loop().run_in_executor(None, self.queue.get)
        _give_back(self.budget, item)
        if isinstance(item, Failed):
            raise item.error
        return item

    async def finish(self) -> None:
        """Wait for the reader's last message (the converter is shared: nothing to merge)."""
        item = await self.next_item()
        assert isinstance(item, Done), f"reader sent {type(item).__name__} after the last table"

    def close(self) -> None:
        """Stop the reader thread."""
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)


def _run_worker(
    snapshot: Snapshot, converter: Converter, out: Any, budget: Any, stop: Any
) -> None:  # pragma: no cover - runs in the worker process (its effects are tested)
    """Worker process body: convert everything, then send the converter back."""
    parent = multiprocessing.parent_process()

    def stopped() -> bool:
        # Give up when the importer stops us or dies (kill -9): never block forever.
        return bool(stop.is_set()) or (parent is not None and not parent.is_alive())

    def put(item: Item) -> None:
        _reserve(budget, item, stopped)
        out.put(item)

    try:
        # Rows, not COPY text: this process sums their checksums (see ProcessProducer).
        _produce(snapshot, converter, put, sql_path=False)
        converter.forget_caches()
        put(Done(converter, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    except Stopped:
        out.cancel_join_thread()  # nobody reads the queue any more: exit without flushing it
    except BaseException as exc:
        try:
            put(Failed(_picklable(exc)))
        except Stopped:
            out.cancel_join_thread()


def _picklable(exc: BaseException) -> BaseException:
    """Return ``exc`` if it survives pickling, else a RuntimeError describing it."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, just made
    except Exception:
        return RuntimeError(f"conversion worker failed: {type(exc).__name__}: {exc}")
    return exc


class ProcessProducer:
    """Convert in a worker process; batches come back pickled over a bounded queue."""

    def __init__(self, snapshot: Snapshot, converter: Converter) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        self.snapshot = snapshot
        self.converter = converter
        self.queue: Any = context.Queue()  # bounded by ``budget``
        self.budget: Any = context.Semaphore(QUEUE_UNITS)
        self.stop: Any = context.Event()
        # The worker converts; this process sums the checksums of what it receives, which
        # shares the Python work between the two cores more evenly.
        worker_converter = copy.copy(converter)
        worker_converter.checksums = False
        self.digesters = {
            name: row_digester(spec.kinds, spec.nullable) for name, spec in TABLES.items()
        }
        self.checksums = dict.fromkeys(TABLES, 0)
        self.process = context.Process(
            target=_run_worker,
            args=(snapshot, worker_converter, self.queue, self.budget, self.stop),
            name="bandwise-import-convert",
            daemon=True,
        )
        self.worker_peak_rss_mb = 0.0

    def start(self) -> None:
        """Start the worker process."""
        self.process.start()

    async def next_item(self) -> Batch | TableEnd | Done:
        """Return the next item the worker produced; re-raise its failure."""
        item = await asyncio.get_running_loop().run_in_executor(None, self._get)
        if isinstance(item, Failed):
            raise item.error
        return item

    def _get(self) -> Item:
        while True:
            try:
                item: Item = self.queue.get(timeout=1.0)
            except queue.Empty:
                if not self.process.is_alive():
                    raise RuntimeError(
                        f"the conversion worker ended unexpectedly (exit code "
                        f"{self.process.exitcode})"
                    ) from None
                continue
            _give_back(self.budget, item)
            if isinstance(item, Batch):
                digest = self.digesters[item.table]
                self.checksums[item.table] += sum([digest(row) for row in item.rows])
            return item

    async def finish(self) -> None:
        """Take the worker's converter and adopt its figures, transformations and bad rows."""
        item = await self.next_item()
        assert isinstance(item, Done) and item.converter is not None, (
            f"worker sent {type(item).__name__} after the last table"
        )
        self.converter.adopt(item.converter)
        for name, checksum in self.checksums.items():
            self.converter.report.figures(name).expected_checksum = checksum
        self.worker_peak_rss_mb = item.peak_rss_mb
        await asyncio.get_running_loop().run_in_executor(None, self.process.join, 10)

    def close(self) -> None:
        """Stop the worker process (terminate it if it does not stop within seconds)."""
        self.stop.set()
        if self.process.pid is None:  # never started
            return
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)
        self.queue.close()
        self.queue.cancel_join_thread()

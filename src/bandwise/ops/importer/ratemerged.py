"""The rate-limit merge done by SQLite, for a ``rate_limits`` table every row of which is plain.

When every row is in the legacy bot's canonical spelling and none needs the careful path (no
orphan, no set-aside user, no Telegram id to re-attach), one SQLite query merges the days and
writes the COPY text in C: per user and day the kept row (the lowest id), the summed count and
the earliest ``created_at`` (canonical timestamps compare as text), raised to the user's legacy
counter of that day when the counter is larger; one row per user, its days' lines joined. The
kept users' counters wait in a temporary table (copied by SQLite; hand-made spellings parsed
as ``ratelimits`` parses them). Python never looks at a kept row except to hash it: per user
it reads the figures, lists the merged duplicates (while the report has room: the rest are
only counted) and absorbs the counter as ``ratelimits`` does, in the same order (user; its
duplicates by id, then the counters of the users without rows before it, then its own), so
ids, rows, figures, checksums and transformations are the Python path's.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import operator
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from bandwise.legacy.schema import LEGACY_ONLY_USER_COLUMNS
from bandwise.ops.importer.canonical import Kind, bytes_digest
from bandwise.ops.importer.convert import MAX_LISTED_TRANSFORMATIONS
from bandwise.ops.importer.ratelimits import TABLE, NewRows, valid_counters
from bandwise.ops.importer.readahead import ReadAhead
from bandwise.ops.importer.report import Transformation
from bandwise.ops.importer.sqlfast import column_condition
from bandwise.ops.importer.tables import ColumnSpec, TableSpec
from bandwise.ops.importer.values import RowState, decode_text

if TYPE_CHECKING:
    from bandwise.ops.importer.convert import Converter
    from bandwise.ops.importer.snapshot import Snapshot

COUNTERS = "temp.bandwise_rate_counters"
# Users per batch: ~30 rate-limit days each in the heaviest shape, a few thousand lines.
USERS_PER_BATCH = 200
_COLUMN = "submission_count"
# Per user and day: the kept id, the summed count, the earliest created_at, the rows merged,
# "kept id:every id" when there are several, and the user's legacy counter if of that day.
_DAYS = (
    "SELECT user_id AS u, submission_date AS d, min(id) AS id, sum(submission_count) AS n, "
    "min(created_at) AS at, count(*) AS rows, "
    "CASE WHEN count(*) > 1 THEN min(id) || ':' || group_concat(id) END AS dups, "
    f"(SELECT c.n FROM {COUNTERS} c WHERE c.u = user_id AND c.d = submission_date) AS c "
    # NOT INDEXED: one pass in file order, then a sort. The user index would cost a row
    # lookup per entry, scattered where the bot wrote rows in time order (users interleaved).
    f'FROM main."{TABLE}" NOT INDEXED GROUP BY user_id, submission_date'
)
# Per user: its days' canonical texts (an empty lengths part, then the COPY fields), the rows
# read, the days kept, the kept id and summed count of its counter's day, the merged days,
# and its counter's day and count.
_USERS = (
    "SELECT u, CAST(group_concat(printf('\t%d\t%d\t%s\t%d\t%s', id, u, d, "
    "CASE WHEN c > n THEN c ELSE n END, at), char(10)) AS BLOB), sum(rows), count(*), "
    "max(CASE WHEN c IS NOT NULL THEN id END), max(CASE WHEN c IS NOT NULL THEN n END), "
    f"group_concat(dups, ';'), (SELECT k.d FROM {COUNTERS} k WHERE k.u = g.u), "
    f"(SELECT k.n FROM {COUNTERS} k WHERE k.u = g.u) FROM ({_DAYS}) AS g GROUP BY u ORDER BY u"
)
# The counters of users without rate-limit rows, in the same shape.
_ALONE = (
    f"SELECT u, NULL, 0, 0, NULL, NULL, NULL, d, n FROM {COUNTERS} "
    f'WHERE u NOT IN (SELECT user_id FROM main."{TABLE}") ORDER BY u'
)


def may_be_plain(converter: Converter, spec: TableSpec) -> bool:
    """Tell whether the converter itself sends no row of ``spec``'s table to the careful path.

    No orphan, no Telegram id to re-attach, no set-aside user; then :func:`all_canonical`.
    """
    return not (
        converter.orphans.get(spec.name)
        or converter.repairs.get(spec.name)
        or converter.set_aside["users"]
    )


def all_canonical(connection: sqlite3.Connection, spec: TableSpec) -> bool:
    """Tell whether every row of ``spec``'s table is in the legacy bot's canonical spelling."""
    canonical = " AND ".join(f"({column_condition(column)})" for column in spec.columns)
    query = f'SELECT EXISTS (SELECT 1 FROM "{spec.name}" WHERE NOT coalesce({canonical}, 0))'
    return not connection.execute(query).fetchone()[0]


@contextlib.contextmanager
def all_canonical_ahead(snapshot: Snapshot, spec: TableSpec) -> Iterator[Callable[[], bool]]:
    """Start :func:`all_canonical` in a thread now; yield the wait for its answer.

    It is a whole scan of the table (1.0 s of rate_heavy's 7 s at 20,000 users): begun before
    the tables converted ahead of ``rate_limits``, it is done when they are. It reads on its
    own connection; SQLite threads of this process no longer slow each other down once the
    library's memory statistics are off (``bandwise.db.sqlite_library``). Leaving before it
    ends interrupts it (a query that has not begun yet runs to its end, then the exit goes on).
    """
    with (
        snapshot.reading("rates", repair=False) as connection,
        ThreadPoolExecutor(1, thread_name_prefix="rate-test") as pool,
    ):
        answer = pool.submit(all_canonical, connection, spec)
        try:
            yield answer.result
        finally:
            if not answer.done():
                connection.interrupt()  # the pool's exit then waits for a query that stops


def load_counters(connection: sqlite3.Connection, snapshot: Snapshot, converter: Converter) -> bool:
    """Put the kept users' legacy counters in a temporary table; tell whether SQLite may merge.

    SQLite copies the counters the bot wrote itself (integers, canonical days); Python parses
    the others as ``ratelimits`` does. The Python path takes the counters in the order of
    ``users.id``: when an id is not an integer that order is not the users' (SQLite sorts text
    after numbers), and the merge is left to the Python path. Call after :func:`may_be_plain`
    (no set-aside user: every counter of a kept user counts).
    """
    connection.execute(f"DROP TABLE IF EXISTS {COUNTERS}")
    connection.execute(
        f"CREATE TABLE {COUNTERS} (u INTEGER PRIMARY KEY, d TEXT NOT NULL, n INTEGER NOT NULL)"
    )
    daily, day = LEGACY_ONLY_USER_COLUMNS
    if not set(LEGACY_ONLY_USER_COLUMNS) <= set(snapshot.columns.get("users", ())):
        return True  # no counters (as ``Snapshot.user_counters``)
    if connection.execute(
        "SELECT EXISTS (SELECT 1 FROM main.users WHERE typeof(id) <> 'integer')"
    ).fetchone()[0]:
        return False
    spelled: tuple[tuple[str, Kind], ...] = (("id", "int"), (daily, "int"), (day, "date"))
    canonical = " AND ".join(
        f"({column_condition(ColumnSpec(name, kind))})" for name, kind in spelled
    )
    connection.execute(
        f'INSERT INTO {COUNTERS} SELECT id, "{day}", "{daily}" FROM main.users '
        f'WHERE {canonical} AND "{daily}" > 0'
    )
    # Hand-made spellings (rare): read with invalid UTF-8 repaired, as the Python path reads.
    connection.text_factory = decode_text
    try:
        odd = connection.execute(
            f'SELECT id, "{daily}", "{day}" FROM main.users WHERE NOT coalesce({canonical}, 0)'
        ).fetchall()
    finally:
        connection.text_factory = str
    connection.executemany(
        f"INSERT INTO {COUNTERS} VALUES (?, ?, ?)",
        [
            (counter.user_id, counter.day.isoformat(), counter.daily)
            for counter in valid_counters(odd, converter.set_aside["users"])
        ],
    )
    return True


def drop_counters(connection: sqlite3.Connection) -> None:
    """Drop the counters' temporary table."""
    connection.execute(f"DROP TABLE IF EXISTS {COUNTERS}")


@contextlib.contextmanager
def merged_users(connection: sqlite3.Connection) -> Iterator[Iterator[list[tuple[Any, ...]]]]:
    """Run the merge (after :func:`load_counters`) in a thread; yield its batches of users.

    SQLite joins the next users' lines (without the GIL) while the caller hashes a batch.
    The canonical test must have answered first (it decides whether this runs at all); it
    runs ahead of the tables before rate_limits (:func:`all_canonical_ahead`).
    """

    def batches() -> Iterator[list[tuple[Any, ...]]]:
        key = operator.itemgetter(0)
        users = heapq.merge(connection.execute(_USERS), connection.execute(_ALONE), key=key)
        while batch := list(itertools.islice(users, USERS_PER_BATCH)):
            yield batch

    with ReadAhead(batches(), name="rate-merge") as ahead:
        yield ahead


def merged_text(
    users: Iterable[list[tuple[Any, ...]]], converter: Converter, next_id: int
) -> Iterator[bytes]:
    """Yield ``rate_limits`` as COPY text from :func:`merged_users`' batches."""
    walk = _Walk(converter, next_id)
    for batch in users:
        texts: list[bytes] = []
        for user in batch:
            walk.add(user, texts)
        if texts:
            yield _account(converter, texts)
    if texts := walk.finish():
        yield _account(converter, texts)


class _Walk(NewRows):
    """Take SQLite's merged users in order; list their merges, absorb their legacy counters.

    In the Python path's order: a user's merged duplicates, then the counters of the users
    without rows before it, then its own counter.
    """

    def __init__(self, converter: Converter, next_id: int) -> None:
        super().__init__(converter, next_id)
        self.alone: list[tuple[int, str, int]] = []  # (user, day, count) of users without rows

    def add(self, user: tuple[Any, ...], texts: list[bytes]) -> None:
        """Take one user's row (see ``_USERS``; ``_ALONE`` for a user without rows)."""
        user_id, lines, rows, days, counter_id, counter_total, dups, day, daily = user
        if lines is None:
            self.alone.append((user_id, day, daily))
            return
        texts += lines.split(b"\n")
        self.figures.source_rows += rows
        if rows > days:
            self._merged(rows - days, dups)
        texts += self.finish()
        if day is None:
            return
        if counter_id is None:
            texts.append(self.new_text(user_id, day, daily))
        elif daily > counter_total:
            self.converter.note_now(
                RowState(TABLE, counter_id),
                _COLUMN,
                "counter_raised",
                f"users.daily_submissions={daily} > {counter_total}",
            )
        else:
            self.converter.report.count(TABLE, _COLUMN, "counter_absorbed")

    def finish(self) -> list[bytes]:
        """Return the rows of the counters of users without rows met so far."""
        texts = [self.new_text(*counter) for counter in self.alone]
        self.alone = []
        return texts

    def _merged(self, count: int, dups: str) -> None:
        """Report one user's ``count`` merged duplicates: listed by id while there is room.

        As ``Converter.report_notes`` reports them, without a row state per duplicate.
        """
        self.figures.transformed += count
        report = self.converter.report
        report.count(TABLE, _COLUMN, "rate_limit_merged", count)
        room = MAX_LISTED_TRANSFORMATIONS - len(report.transformations)
        if room < count:
            report.transformations_truncated = True
        if room > 0:
            report.transformations += [
                Transformation(
                    TABLE,
                    kept_id,
                    _COLUMN,
                    "rate_limit_merged",
                    f"duplicate row id={row_id} merged (counts summed)",
                )
                for row_id, kept_id in sorted(_duplicates(dups))[:room]
            ]

    def new_text(self, user_id: int, day: str, daily: int) -> bytes:
        """Return the canonical text of the row a counter becomes (created at its day's start)."""
        return f"\t{self.moved()}\t{user_id}\t{day}\t{daily}\t{day} 00:00:00.000000".encode()


def _duplicates(dups: str) -> Iterator[tuple[int, int]]:
    """Yield (duplicate id, kept id) from SQLite's "kept:id,id,…" per merged day."""
    for day in dups.split(";"):
        kept, ids = day.split(":")
        kept_id = int(kept)
        for row_id in map(int, ids.split(",")):
            if row_id != kept_id:
                yield row_id, kept_id


def _account(converter: Converter, texts: list[bytes]) -> bytes:
    """Return the rows' COPY text (their canonical texts without the empty lengths part).

    Count them and add their checksums.
    """
    figures = converter.report.figures(TABLE)
    figures.imported += len(texts)
    if converter.checksums:
        figures.expected_checksum += sum(map(bytes_digest, texts))
    return (b"\n" + b"\n".join(texts)).replace(b"\n\t", b"\n")[1:] + b"\n"

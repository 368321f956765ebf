"""Read the SQL fast path's rows a page per SQLite step, on two threads at once.

Stepping a query row by row releases and takes back the GIL at every row; beside the threads
converting and sending, those handoffs cost more than the rows' SQL (measured on a legacy
file with short rows, SQLite's memory statistics off: the two SQL tables' queries in two
threads took 2.9 s together stepped row by row, 1.4 s a page per step). So where ``id`` is
the table's rowid (the legacy schema's ``PRIMARY KEY (id)``), SQLite folds a page of rows
into one result row (:func:`page_query`), and Python unpacks it with a few C-level splits.
The table is cut into ranges of ids, taken in turn by two threads on two read transactions
of the same snapshot, so SQLite's work runs on both cores (assessments of 160,568 short
rows: 1.28 s on one thread, 0.69 s on two); the pages come out in id order. Otherwise one
query is stepped row by row in one thread.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Generator, Iterator
from typing import Any

from bandwise.ops.importer.readahead import ReadAhead

# (id, parent id as stored, convertible?, respelling code, canonical text): see
# ``sqlfast.fast_columns``, the query's columns.
FastRow = tuple[int, Any, Any, int, bytes | None]

_LOWEST_ID, _HIGHEST_ID = -(2**63), 2**63 - 1


def fast_rows(
    connections: tuple[sqlite3.Connection, sqlite3.Connection],
    table: str,
    columns: str,
    batch_rows: int,
) -> Generator[list[FastRow], None, None]:
    """Yield the rows of ``columns`` (the fast query's) from ``table`` by id, in batches.

    ``connections``: two read transactions of one snapshot, each used by one thread.
    """
    first = connections[0]
    quoted = f'"{table}"'
    if not _id_is_rowid(first, quoted):
        query = f"SELECT {columns} FROM {quoted} ORDER BY id"
        with ReadAhead(_stepped(first, query, batch_rows)) as batches:
            yield from batches
        return
    low, high, count = first.execute(
        f"SELECT min(rowid), max(rowid), count(*) FROM {quoted}"
    ).fetchone()
    if not count:
        return
    # Ranges of about a batch each where the ids are dense; a range holding more rows than a
    # batch (ids bunched) is read in several pages, so a page never exceeds ``batch_rows``.
    width = max(batch_rows, (high - low + 1) * batch_rows // count)
    ranges = range(low, high + 1, width)
    readers = [
        _ranges(connection, quoted, columns, ranges[start::2], width, batch_rows)
        for start, connection in enumerate(connections)
    ]
    with (
        ReadAhead(readers[0], name="pages-0") as even,
        ReadAhead(readers[1], name="pages-1") as odd,
    ):
        for reader in itertools.islice(itertools.cycle((even, odd)), len(ranges)):
            while (page := next(reader)) is not None:
                yield page


def _stepped(connection: sqlite3.Connection, query: str, rows: int) -> Iterator[list[FastRow]]:
    cursor = connection.execute(query)
    while batch := cursor.fetchmany(rows):
        yield batch


def _ranges(
    connection: sqlite3.Connection,
    table: str,
    columns: str,
    starts: range,
    width: int,
    batch_rows: int,
) -> Iterator[list[FastRow] | None]:
    """Yield the pages of the ranges of ids from each of ``starts`` on, each range ended by None."""
    page = page_query(columns, table, batch_rows)
    between = f"SELECT {columns} FROM {table} WHERE rowid BETWEEN ? AND ? ORDER BY rowid"
    for start in starts:
        low, end = start, min(start + width - 1, _HIGHEST_ID)
        while low <= end:
            count, high, *lists = connection.execute(page, (low, end)).fetchone()
            if not count:
                break
            unpacked = _unpacked(count, *lists)
            if unpacked is None:  # a text holds the separator, or a NULL was left out
                unpacked = connection.execute(between, (low, high)).fetchall()
            yield unpacked
            if count < batch_rows or high == end:
                break
            low = high + 1
        yield None


def page_query(columns: str, table: str, rows: int) -> str:
    """Return the query folding the first ``rows`` rows with ids in ``?``..``?`` into one row.

    (rows, last id, then per column its values joined: ids, parent ids ('' for none),
    convertible? digits, codes, canonical texts apart by U+001E); see :func:`_unpacked`.
    By rowid, which the caller checked ``id`` is: by ``id``, SQLite may walk an index on it
    (the legacy schema has one) and look each row up.
    """
    return (
        f"WITH page(i, p, c, k, x) AS (SELECT {columns} FROM {table} "
        f"WHERE rowid BETWEEN ? AND ? ORDER BY rowid LIMIT {int(rows)}) "
        "SELECT count(*), max(i), group_concat(i), group_concat(coalesce(p, '')), "
        "group_concat(coalesce(c, 0), ''), group_concat(k), "
        "CAST(group_concat(x, char(30)) AS BLOB) FROM page"
    )


def _unpacked(
    count: int, ids: str, parents: str, convertible: str, codes: str | None, texts: bytes | None
) -> list[FastRow] | None:
    """Return a page's rows from its joined columns; None when they do not add up to ``count``."""
    if codes is None or texts is None:  # NULLs only (group_concat leaves NULLs out)
        return None
    id_list = list(map(int, ids.split(",")))
    parent_list = [int(parent) if parent else None for parent in parents.split(",")]
    code_list = codes.split(",")
    text_list = texts.split(b"\x1e")
    if not (
        len(id_list)
        == len(parent_list)
        == len(convertible)
        == len(code_list)
        == len(text_list)
        == count
    ):
        return None
    rows: list[FastRow] = list(
        zip(
            id_list, parent_list, map(int, convertible), map(int, code_list), text_list, strict=True
        )
    )
    if id_list != sorted(id_list):  # the page's order is SQLite's choice: id order is ours
        rows.sort(key=lambda row: row[0])
    return rows


def _id_is_rowid(connection: sqlite3.Connection, table: str) -> bool:
    """Tell whether ``table``'s ``id`` is its rowid (unique, an integer, the table's order).

    It is when ``id`` alone is the primary key and SQLite keeps no index for that key (it keeps
    one for any other primary key, and for a table without rowid).
    """
    keys = [row[1] for row in connection.execute(f"PRAGMA table_info({table})") if row[5]]
    indexes = connection.execute(f"PRAGMA index_list({table})").fetchall()
    return keys == ["id"] and not any(index[3] == "pk" for index in indexes)

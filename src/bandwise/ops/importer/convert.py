"""Turn legacy rows into typed target rows, or into bad values naming what and where.

One :class:`Converter` runs over the tables in load order (users, submissions, rate_limits,
assessments) so that it knows which parents were set aside when it meets their children.
It never drops a row silently: each legacy row ends up converted, or quarantined (or, in abort
mode, counted as bad), and every change to a value is counted or listed in the report.

This module keeps the rows' accounting; canonical rows take the fast path (``fast``), the
others have their values converted one by one (``values``), and rate-limit rows are merged
per user and day (``ratelimits``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, TypeVar

from bandwise.legacy import values as legacy
from bandwise.ops.importer.canonical import row_digest, row_digester
from bandwise.ops.importer.fast import NeedsCareful, row_converter
from bandwise.ops.importer.ratelimits import RateLimitRow, check_counters, merge_rate_limits
from bandwise.ops.importer.report import (
    MAX_LISTED_BAD_VALUES,
    BadValue,
    ImportReport,
    QuarantinedRow,
    Transformation,
)
from bandwise.ops.importer.rowids import NO_REPAIRS, RowIdMap
from bandwise.ops.importer.tables import MISSING, ColumnSpec, TableSpec
from bandwise.ops.importer.values import Bad, ReplacedText, RowState, convert_value

BadRowPolicy = Literal["abort", "quarantine"]
Row = TypeVar("Row", bound=tuple[Any, ...])
MAX_LISTED_TRANSFORMATIONS = 100_000
# Kinds of transformation listed row by row (lossy or structural); the rest are only counted.
LISTED_KINDS = frozenset(
    {
        "nul_removed",
        "utf8_replaced",
        "rate_limit_merged",
        "suggestions_text_to_list",
        "counter_raised",
        "user_id_from_telegram_id",
    }
)
# The legacy bot stored the Telegram id where these tables expect users.id (repaired).
TELEGRAM_ID_TABLES = ("submissions", "rate_limits")
# Called with each users row: the legacy counters it carries move to rate_limits.
RowCheck = Callable[["Converter", RowState, dict[str, Any]], None]


class Converter:
    """Convert legacy rows table by table, tracking set-aside parents and the report."""

    def __init__(
        self, report: ImportReport, *, policy: BadRowPolicy, strict: bool, checksums: bool = True
    ) -> None:
        self.report = report
        self.policy = policy
        self.strict = strict
        # False: the consumer sums the expected checksums of the rows it receives instead
        # (every row yielded is one imported row, so both sums are the same).
        self.checksums = checksums
        self.strict_violations = 0
        self.set_aside: dict[str, set[int]] = {"users": set(), "submissions": set()}
        self.orphans: dict[str, frozenset[Any]] = {}
        # Per table: source row id → the users.id whose telegram_id its user_id holds.
        self.repairs: dict[str, RowIdMap] = {}
        self._digesters: dict[str, Callable[[tuple[Any, ...]], int]] = {}

    def forget_caches(self) -> None:
        """Drop cached helper functions (they cannot be pickled to another process)."""
        self._digesters.clear()

    def adopt(self, other: Converter) -> None:
        """Take over what ``other``, a copy that converted in a worker process, recorded.

        Per-table ``seconds`` stay this side's: here they time the COPY of each table.
        """
        mine, theirs = self.report, other.report
        for name, figures in theirs.tables.items():
            figures.seconds = mine.figures(name).seconds
            mine.tables[name] = figures
        mine.transformation_counts = theirs.transformation_counts
        mine.transformations = theirs.transformations
        mine.transformations_truncated = theirs.transformations_truncated
        mine.quarantined = theirs.quarantined
        mine.bad_value_totals = theirs.bad_value_totals
        mine.bad_row_totals = theirs.bad_row_totals
        mine.bad_values = theirs.bad_values
        self.strict_violations = other.strict_violations
        self.set_aside = other.set_aside

    # --- values ------------------------------------------------------------------------------
    def note(self, state: RowState, column: str, kind: str, detail: str = "") -> None:
        """Note one transformation of a value of the row (reported if the row is imported)."""
        state.note(column, kind, detail)

    def report_notes(self, state: RowState) -> None:
        """Report the row's transformations (counted; listed too for the lossy kinds)."""
        for note in state.notes:
            self.report.count(state.table, note.column, note.kind)
            if note.kind in LISTED_KINDS:
                if len(self.report.transformations) < MAX_LISTED_TRANSFORMATIONS:
                    self.report.transformations.append(
                        Transformation(
                            state.table, state.source_id, note.column, note.kind, note.detail
                        )
                    )
                else:
                    self.report.transformations_truncated = True
        state.notes.clear()

    def note_now(self, state: RowState, column: str, kind: str, detail: str = "") -> None:
        """Report one transformation of a row already known to be imported."""
        self.note(state, column, kind, detail)
        self.report_notes(state)

    def value(self, state: RowState, spec: ColumnSpec, value: Any) -> Any:
        """Return the target value of one legacy value (raise ``Bad`` when impossible)."""
        return convert_value(state, spec, value, strict=self.strict)

    # --- rows --------------------------------------------------------------------------------
    def reject(self, state: RowState, column: str | None, value: Any, bad: Bad) -> None:
        """Record one bad value of the row being converted (the row will be set aside)."""
        problem = BadValue(state.table, state.source_id, column, _show(value), bad.kind, bad.reason)
        state.problems.append(problem)
        totals = self.report.bad_value_totals
        totals[bad.kind] = totals.get(bad.kind, 0) + 1
        if bad.kind in ("nul_byte", "invalid_utf8"):
            self.strict_violations += 1
        if len(self.report.bad_values) < MAX_LISTED_BAD_VALUES:
            self.report.bad_values.append(problem)

    def convert_row(
        self,
        spec: TableSpec,
        source_columns: tuple[str, ...],
        raw: tuple[Any, ...],
        *,
        extra: RowCheck | None = None,
        account: bool = True,
    ) -> tuple[Any, ...] | None:
        """Return the converted row, or None when the row is set aside (recorded)."""
        record = dict(zip(source_columns, raw, strict=True))
        state = RowState(spec.name, record.get("id"))
        out: list[Any] = []
        for column in spec.columns:
            if column.name in record:
                try:
                    out.append(self.value(state, column, record[column.name]))
                except Bad as bad:
                    self.reject(state, column.name, record[column.name], bad)
                    out.append(None)
            else:
                out.append(self._default(spec, column, record))
        if extra is not None:
            extra(self, state, record)
        if spec.parent is not None:
            self._check_parent(spec, state, record, out)
        figures = self.report.figures(spec.name)
        figures.source_rows += 1
        if state.problems:
            self._set_aside(spec, state, record)
            return None
        self.report_notes(state)
        row = tuple(out)
        figures.transformed += state.changed
        if account:
            figures.imported += 1
            if self.checksums:
                figures.expected_checksum += row_digest(spec.kinds, row)
        return row

    def _default(self, spec: TableSpec, column: ColumnSpec, record: dict[str, Any]) -> Any:
        if column.derive is not None:
            return column.derive.compute(record.get(column.derive.source))
        if column.default is MISSING:  # pragma: no cover - required columns are checked up front
            raise AssertionError(f"{spec.name}.{column.name} has no default")
        return column.default

    def _check_parent(
        self, spec: TableSpec, state: RowState, record: dict[str, Any], out: list[Any]
    ) -> None:
        assert spec.parent is not None
        column, parent = spec.parent
        at = spec.column_names.index(column)
        parent_id = out[at]
        if parent_id is None:  # the column itself could not be converted (already recorded)
            return
        repaired = self.repairs.get(spec.name, NO_REPAIRS).get(state.source_id)
        if repaired is not None:
            self.note(
                state,
                column,
                "user_id_from_telegram_id",
                f"{column}={parent_id} is the Telegram id of users.id={repaired}",
            )
            out[at] = parent_id = repaired
        elif state.source_id in self.orphans.get(spec.name, frozenset()):
            self.reject(
                state,
                column,
                record.get(column),
                Bad("orphan", f"no {parent} row with id {parent_id}"),
            )
        elif parent_id in self.set_aside.get(parent, ()):
            self.reject(
                state,
                column,
                record.get(column),
                Bad("parent_set_aside", f"its {parent} row id={parent_id} was set aside"),
            )

    def _set_aside(self, spec: TableSpec, state: RowState, record: dict[str, Any]) -> None:
        self.report.figures(spec.name).quarantined += 1
        totals = self.report.bad_row_totals
        for kind in {problem.kind for problem in state.problems}:
            totals[kind] = totals.get(kind, 0) + 1
        if spec.name in self.set_aside:
            with contextlib.suppress(ValueError):
                self.set_aside[spec.name].add(legacy.parse_int(state.source_id))
        reason = "; ".join(
            (f"{p.column}={p.value}: " if p.column else "") + f"{p.reason} ({p.kind})"
            for p in state.problems
        )
        if self.policy == "quarantine":
            self.report.quarantined.append(
                QuarantinedRow(spec.name, _source_id(state.source_id), reason, _json_safe(record))
            )

    # --- tables ------------------------------------------------------------------------------
    def convert_table(
        self,
        spec: TableSpec,
        source_columns: tuple[str, ...],
        batches: Iterable[list[tuple[Any, ...]]],
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Yield batches of converted rows of a users, submissions or assessments table."""
        yield from self._convert_batches(spec, source_columns, batches, account=True)

    def _convert_batches(
        self,
        spec: TableSpec,
        source_columns: tuple[str, ...],
        batches: Iterable[list[tuple[Any, ...]]],
        *,
        account: bool,
    ) -> Iterator[list[tuple[Any, ...]]]:
        if not source_columns:  # the source has no such table
            return
        extra = check_counters if spec.moved_columns else None
        parent_set_aside = self.set_aside.get(spec.parent[1]) if spec.parent else None
        fast = row_converter(
            spec, source_columns, self.orphans.get(spec.name, frozenset()), parent_set_aside
        )
        digest = row_digester(spec.kinds, spec.nullable)
        summing = self.checksums
        figures = self.report.figures(spec.name)
        for batch in batches:
            out: list[tuple[Any, ...]] = []
            checksum = 0
            for raw in batch:
                try:
                    row = fast(raw)
                except (NeedsCareful, ValueError, TypeError, KeyError, ArithmeticError):
                    careful = self.convert_row(
                        spec, source_columns, raw, extra=extra, account=account
                    )
                    if careful is not None:
                        out.append(careful)
                    continue
                figures.source_rows += 1
                if account:
                    figures.imported += 1
                    if summing:
                        checksum += digest(row)
                out.append(row)
            figures.expected_checksum += checksum
            yield out

    def convert_rate_limits(
        self,
        spec: TableSpec,
        source_columns: tuple[str, ...],
        batches: Iterable[list[tuple[Any, ...]]],
        counters: Iterable[tuple[Any, Any, Any]],
        next_id: int,
    ) -> Iterator[list[RateLimitRow]]:
        """Yield rate-limit rows with duplicates merged and the legacy user counters absorbed.

        ``batches`` must be ordered by (user_id, id) and ``counters`` (user id, daily count,
        last day) by user id (see ``ratelimits``).
        """
        converted = self._convert_batches(spec, source_columns, batches, account=False)
        for rows in merge_rate_limits(self, converted, counters, next_id):
            yield self._account(spec, rows)

    def _account(self, spec: TableSpec, rows: list[Row]) -> list[Row]:
        figures = self.report.figures(spec.name)
        figures.imported += len(rows)
        if self.checksums:
            digest = self._digesters.get(spec.name)
            if digest is None:
                digest = self._digesters[spec.name] = row_digester(spec.kinds, spec.nullable)
            figures.expected_checksum += sum(digest(row) for row in rows)
        return rows


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _source_id(value: Any) -> int | None:
    try:
        return legacy.parse_int(value)
    except (ValueError, TypeError):
        return None


def _json_safe(record: dict[str, Any]) -> dict[str, Any]:
    """Return a legacy row as jsonb-safe data: NUL-free, valid Unicode text; bytes as hex."""
    safe: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, bytes):
            safe[key] = {"hex": value.hex()}
        elif isinstance(value, str) and (
            "\x00" in value or type(value) is ReplacedText or not _encodable(value)
        ):
            safe[key] = {"hex": value.encode("utf-8", errors="surrogatepass").hex()}
        elif isinstance(value, float) and value != value:
            safe[key] = "NaN"
        else:
            safe[key] = value
    return safe


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

"""Turn legacy rows into typed target rows, or into bad values naming what and where.

One :class:`Converter` runs over the tables in load order (users, submissions, rate_limits,
assessments) so that it knows which parents were set aside when it meets their children.
It never drops a row silently: each legacy row ends up converted, or quarantined (or, in abort
mode, counted as bad), and every change to a value is counted or listed in the report.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from bandwise.legacy import values as legacy
from bandwise.ops.importer.canonical import jsonb_text, row_digest, row_digester
from bandwise.ops.importer.fast import NeedsCareful, row_converter
from bandwise.ops.importer.report import (
    MAX_LISTED_BAD_VALUES,
    BadValue,
    ImportReport,
    QuarantinedRow,
    Transformation,
)
from bandwise.ops.importer.tables import MISSING, SUGGESTIONS_COLUMN, ColumnSpec, TableSpec
from bandwise.wording import plural

BadRowPolicy = Literal["abort", "quarantine"]
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
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
_CANONICAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")


class ReplacedText(str):
    """Text decoded from invalid UTF-8 with replacement characters (reported as such)."""

    __slots__ = ()


def decode_text(raw: bytes) -> str:
    """Decode SQLite text as UTF-8; invalid bytes become U+FFFD in a :class:`ReplacedText`."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return ReplacedText(raw.decode("utf-8", errors="replace"))


class _Bad(Exception):
    """One column of one row cannot be converted."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass
class _RowState:
    """Changes and problems met while converting one row."""

    table: str
    source_id: Any
    changed: bool = False
    problems: list[BadValue] = field(default_factory=list)
    # (column, kind, detail) of each change, reported once the row is known to be imported.
    notes: list[tuple[str, str, str]] = field(default_factory=list)


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
        self.orphans: dict[str, set[int]] = {}
        # Per table: source row id → the users.id whose telegram_id its user_id holds.
        self.repairs: dict[str, dict[Any, int]] = {}
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
    def note(self, state: _RowState, column: str, kind: str, detail: str = "") -> None:
        """Note one transformation of a value of the row (reported if the row is imported)."""
        state.changed = True
        state.notes.append((column, kind, detail))

    def report_notes(self, state: _RowState) -> None:
        """Report the row's transformations (counted; listed too for the lossy kinds)."""
        for column, kind, detail in state.notes:
            self.report.count(state.table, column, kind)
            if kind in LISTED_KINDS:
                if len(self.report.transformations) < MAX_LISTED_TRANSFORMATIONS:
                    self.report.transformations.append(
                        Transformation(state.table, state.source_id, column, kind, detail)
                    )
                else:
                    self.report.transformations_truncated = True
        state.notes.clear()

    def note_now(self, state: _RowState, column: str, kind: str, detail: str = "") -> None:
        """Report one transformation of a row already known to be imported."""
        self.note(state, column, kind, detail)
        self.report_notes(state)

    def _text(self, state: _RowState, spec: ColumnSpec, value: Any) -> str:
        if isinstance(value, bytes):
            value = decode_text(value)
        elif not isinstance(value, str):
            self.note(state, spec.name, "number_as_text")
            value = str(value)
        if type(value) is ReplacedText:
            if self.strict:
                raise _Bad("invalid_utf8", "invalid UTF-8 (--strict)")
            self.note(state, spec.name, "utf8_replaced", "invalid UTF-8 bytes → U+FFFD")
            value = str(value)
        if "\x00" in value:
            if self.strict:
                raise _Bad("nul_byte", "NUL byte in text (--strict)")
            self.note(
                state,
                spec.name,
                "nul_removed",
                f"{plural(value.count(chr(0)), 'NUL byte')} removed",
            )
            value = value.replace("\x00", "")
        if spec.max_length is not None and len(value) > spec.max_length:
            raise _Bad("too_long", f"longer than {spec.max_length} characters ({len(value)})")
        return str(value)

    def _datetime(self, state: _RowState, spec: ColumnSpec, value: Any) -> datetime:
        if isinstance(value, str) and _CANONICAL_DATETIME.match(value):
            return legacy.parse_datetime(value)
        parsed = legacy.parse_datetime(value)
        kind = "epoch_to_datetime" if isinstance(value, int | float) else "datetime_respelled"
        self.note(state, spec.name, kind)
        return parsed

    def _json(self, state: _RowState, spec: ColumnSpec, value: Any) -> str:
        text = self._text(state, spec, value)
        if spec.name != SUGGESTIONS_COLUMN:  # a bandwise JSON document: moved as it is
            document = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
            if "\\u" in text:
                document = self._clean_json(state, spec, document)
            return jsonb_text(document)
        suggestions, converted = legacy.parse_suggestions_exact(text)
        if converted:
            self.note(
                state,
                spec.name,
                "suggestions_text_to_list",
                "legacy text kept as a one-element list",
            )
        if "\\u" in text:
            suggestions = self._clean_json(state, spec, suggestions)
        return jsonb_text(suggestions)

    def _clean_json(self, state: _RowState, spec: ColumnSpec, value: Any) -> Any:
        if isinstance(value, str):
            cleaned = value
            if "\x00" in cleaned:
                if self.strict:
                    raise _Bad("nul_byte", "NUL escape in JSON (--strict)")
                self.note(state, spec.name, "nul_removed", "\\u0000 removed from JSON text")
                cleaned = cleaned.replace("\x00", "")
            try:
                cleaned.encode("utf-8")
            except UnicodeEncodeError:
                if self.strict:
                    raise _Bad("invalid_utf8", "lone surrogate escape in JSON (--strict)") from None
                self.note(state, spec.name, "utf8_replaced", "lone surrogate → U+FFFD")
                cleaned = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in cleaned)
            return cleaned
        if isinstance(value, list):
            return [self._clean_json(state, spec, item) for item in value]
        if isinstance(value, dict):
            return {
                self._clean_json(state, spec, key): self._clean_json(state, spec, item)
                for key, item in value.items()
            }
        return value

    def _int(self, state: _RowState, spec: ColumnSpec, value: Any, *, bits: int = 64) -> int:
        parsed = legacy.parse_int(value)
        if not isinstance(value, int):
            self.note(state, spec.name, "int_from_text")
        if bits == 32 and not INT32_MIN <= parsed <= INT32_MAX:
            raise _Bad("unconvertible", "integer out of 32-bit range")
        return parsed

    def _bool(self, state: _RowState, spec: ColumnSpec, value: Any) -> bool:
        parsed = legacy.parse_bool(value)
        if not (isinstance(value, int) and value in (0, 1)):
            self.note(state, spec.name, "bool_from_text")
        return parsed

    def _enum(self, state: _RowState, spec: ColumnSpec, value: Any) -> str:
        parse: Callable[[Any], Enum] = (
            legacy.parse_task_type if spec.name == "task_type" else legacy.parse_processing_status
        )
        member = parse(value)
        if value != member.name:
            self.note(state, spec.name, "enum_respelled")
        return str(member.value)

    def _date(self, state: _RowState, spec: ColumnSpec, value: Any) -> date:
        parsed = legacy.parse_date(value)
        if not (isinstance(value, str) and len(value) == 10):
            self.note(state, spec.name, "date_respelled")
        return parsed

    def _band(self, state: _RowState, spec: ColumnSpec, value: Any) -> Decimal:
        if isinstance(value, str):
            self.note(state, spec.name, "band_from_text")
        return legacy.parse_band(value)

    def value(self, state: _RowState, spec: ColumnSpec, value: Any) -> Any:
        """Return the target value of one legacy value (raise ``_Bad`` when impossible)."""
        if value is None:
            if spec.nullable:
                return None
            raise _Bad("missing_value", "NULL in a required column")
        try:
            if spec.kind == "text":
                return self._text(state, spec, value)
            if spec.kind == "ts":
                return self._datetime(state, spec, value)
            if spec.kind == "int":
                bits = 32 if spec.name in ("word_count", "submission_count") else 64
                return self._int(state, spec, value, bits=bits)
            if spec.kind == "bool":
                return self._bool(state, spec, value)
            if spec.kind == "enum":
                return self._enum(state, spec, value)
            if spec.kind == "date":
                return self._date(state, spec, value)
            if spec.kind == "band":
                return self._band(state, spec, value)
            return self._json(state, spec, value)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise _Bad("unconvertible", str(exc)) from exc

    # --- rows --------------------------------------------------------------------------------
    def reject(self, state: _RowState, column: str | None, value: Any, bad: _Bad) -> None:
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
        extra: Callable[[Converter, _RowState, dict[str, Any]], None] | None = None,
        account: bool = True,
    ) -> tuple[Any, ...] | None:
        """Return the converted row, or None when the row is set aside (recorded)."""
        record = dict(zip(source_columns, raw, strict=True))
        state = _RowState(spec.name, record.get("id"))
        out: list[Any] = []
        for column in spec.columns:
            if column.name in record:
                try:
                    out.append(self.value(state, column, record[column.name]))
                except _Bad as bad:
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
        if column.name == "word_count":
            text = record.get("text")
            return len(str(text).split()) if text is not None else 0
        if column.default is MISSING:  # pragma: no cover - required columns are checked up front
            raise AssertionError(f"{spec.name}.{column.name} has no default")
        return column.default

    def _check_parent(
        self, spec: TableSpec, state: _RowState, record: dict[str, Any], out: list[Any]
    ) -> None:
        assert spec.parent is not None
        column, parent = spec.parent
        at = spec.column_names.index(column)
        parent_id = out[at]
        if parent_id is None:  # the column itself could not be converted (already recorded)
            return
        repaired = self.repairs.get(spec.name, {}).get(state.source_id)
        if repaired is not None:
            self.note(
                state,
                column,
                "user_id_from_telegram_id",
                f"{column}={parent_id} is the Telegram id of users.id={repaired}",
            )
            out[at] = parent_id = repaired
        elif state.source_id in self.orphans.get(spec.name, ()):
            self.reject(
                state,
                column,
                record.get(column),
                _Bad("orphan", f"no {parent} row with id {parent_id}"),
            )
        elif parent_id in self.set_aside.get(parent, ()):
            self.reject(
                state,
                column,
                record.get(column),
                _Bad("parent_set_aside", f"its {parent} row id={parent_id} was set aside"),
            )

    def _set_aside(self, spec: TableSpec, state: _RowState, record: dict[str, Any]) -> None:
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
        extra = _check_counters if spec.name == "users" else None
        parent_set_aside = self.set_aside.get(spec.parent[1]) if spec.parent else None
        fast = row_converter(
            spec, source_columns, self.orphans.get(spec.name, set()), parent_set_aside
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
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Yield rate-limit rows with duplicates merged and the legacy user counters absorbed.

        ``batches`` must be ordered by (user_id, id) and ``counters`` (user id, daily count,
        last day) by user id: both streams are merged like a join, so memory holds one user.
        """
        merger = RateLimitMerger(self, spec, iter(counters), next_id)
        for converted in self._convert_batches(spec, source_columns, batches, account=False):
            out: list[tuple[Any, ...]] = []
            for row in converted:
                out.extend(merger.add(row))
            yield self._account(spec, out)
        yield self._account(spec, merger.finish())

    def _account(self, spec: TableSpec, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        figures = self.report.figures(spec.name)
        figures.imported += len(rows)
        if self.checksums:
            digest = self._digesters.setdefault(spec.name, row_digester(spec.kinds, spec.nullable))
            figures.expected_checksum += sum(digest(row) for row in rows)
        return rows


def _check_counters(converter: Converter, state: _RowState, record: dict[str, Any]) -> None:
    """Validate a user's legacy counters: their data moves to rate_limits, so it must convert."""
    for column, parse in (
        ("daily_submissions", legacy.parse_int),
        ("last_submission_date", legacy.parse_date),
    ):
        value = record.get(column)
        if value is None:
            continue
        try:
            parsed = parse(value)
        except (ValueError, TypeError) as exc:
            converter.reject(state, column, value, _Bad("unconvertible", str(exc)))
            continue
        if isinstance(parsed, int) and not 0 <= parsed <= INT32_MAX:
            converter.reject(state, column, value, _Bad("unconvertible", "counter out of range"))


def _valid_counters(
    counters: Iterator[tuple[Any, Any, Any]], set_aside: set[int]
) -> Iterator[tuple[int, date, int]]:
    """Yield (user id, day, count) of users kept whose legacy counter says something."""
    for raw_id, raw_daily, raw_day in counters:
        try:
            user_id = legacy.parse_int(raw_id)
            daily = legacy.parse_int(raw_daily) if raw_daily is not None else 0
            day = legacy.parse_date(raw_day) if raw_day is not None else None
        except (ValueError, TypeError):
            continue  # the users row itself was set aside for this value
        if user_id in set_aside or day is None or daily <= 0:
            continue
        yield user_id, day, daily


class RateLimitMerger:
    """Merge one user's rate-limit rows at a time with that user's legacy counter."""

    def __init__(
        self,
        converter: Converter,
        spec: TableSpec,
        counters: Iterator[tuple[Any, Any, Any]],
        next_id: int,
    ) -> None:
        self.converter = converter
        self.spec = spec
        # (user id, day, count); the day is a date here, text on the SQL path (ratesql).
        self.counters: Iterator[tuple[int, Any, int]] = _valid_counters(
            counters, converter.set_aside["users"]
        )
        self.pending: tuple[int, Any, int] | None = next(self.counters, None)
        self.next_id = next_id
        self.user_id: int | None = None
        self.days: dict[date, list[Any]] = {}

    def add(self, row: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Take one converted row (in user order); return the rows of users now complete."""
        out: list[tuple[Any, ...]] = []
        if row[1] != self.user_id:
            out = self._flush()
            self.user_id = row[1]
        kept = self.days.get(row[2])
        if kept is None:
            self.days[row[2]] = list(row)
            return out
        kept[3] += row[3]
        kept[4] = min(kept[4], row[4])
        self.converter.report.figures("rate_limits").transformed += 1
        self.converter.note_now(
            _RowState("rate_limits", kept[0]),
            "submission_count",
            "rate_limit_merged",
            f"duplicate row id={row[0]} merged (counts summed)",
        )
        return out

    def _counters_before(self, user_id: int | None) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        while self.pending is not None and (user_id is None or self.pending[0] < user_id):
            out.append(self._new_row(*self.pending))
            self.pending = next(self.counters, None)
        return out

    def _flush(self) -> list[tuple[Any, ...]]:
        user_id = self.user_id
        if user_id is None:
            return []
        out = self._counters_before(user_id)
        if self.pending is not None and self.pending[0] == user_id:
            _, day, daily = self.pending
            self.pending = next(self.counters, None)
            kept = self.days.get(day)
            if kept is None:
                out.append(self._new_row(user_id, day, daily))
            elif daily > kept[3]:
                self.converter.note_now(
                    _RowState("rate_limits", kept[0]),
                    "submission_count",
                    "counter_raised",
                    f"users.daily_submissions={daily} > {kept[3]}",
                )
                kept[3] = daily
            else:
                self.converter.report.count("rate_limits", "submission_count", "counter_absorbed")
        out.extend(tuple(kept) for kept in sorted(self.days.values(), key=lambda item: item[0]))
        self.days = {}
        return out

    def _new_row(self, user_id: int, day: date, daily: int) -> tuple[Any, ...]:
        # Created "at" the start of its day: deterministic, so a later verify-import agrees.
        row = (self.next_id, user_id, day, daily, datetime.combine(day, time(), tzinfo=UTC))
        self.next_id += 1
        self.converter.report.figures("rate_limits").transformed += 1
        self.converter.report.count("rate_limits", "submission_count", "counter_moved")
        return row

    def finish(self) -> list[tuple[Any, ...]]:
        """Return the last user's rows and the counters of users after it."""
        out = self._flush()
        self.user_id = None
        out.extend(self._counters_before(None))
        return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value PostgreSQL accepts")


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

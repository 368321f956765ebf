"""The rate-limit merge: one row per user and day, the legacy user counters absorbed.

The legacy bot could write two ``rate_limits`` rows for one user and day (their counts are
summed), and kept a second counter on ``users`` (``daily_submissions`` on
``last_submission_date``), which now lives in ``rate_limits`` too: it becomes a row of its
own, raises a smaller count of that day, or is absorbed by a larger one. Every change is
reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from bandwise.legacy import values as legacy
from bandwise.legacy.schema import LEGACY_ONLY_USER_COLUMNS
from bandwise.ops.importer.tables import TABLES
from bandwise.ops.importer.values import Bad, RowState

if TYPE_CHECKING:
    from bandwise.ops.importer.convert import Converter

TABLE = "rate_limits"
# The legacy counters move to rate_limits.submission_count: they must fit there.
COUNTER_MAX = TABLES[TABLE].column("submission_count").int_range[1]


class RateLimitRow(NamedTuple):
    """One converted rate_limits row, in COPY order."""

    id: int
    user_id: int
    submission_date: date
    submission_count: int
    created_at: datetime


if RateLimitRow._fields != TABLES[TABLE].column_names:  # pragma: no cover - a schema change
    raise TypeError(f"RateLimitRow lists {RateLimitRow._fields}: the model has other columns")


class Counter(NamedTuple):
    """A kept user's legacy counter: ``daily`` submissions on ``day``."""

    user_id: int
    day: date
    daily: int


def check_counters(converter: Converter, state: RowState, record: dict[str, Any]) -> None:
    """Validate a user's legacy counters: their data moves to rate_limits, so it must convert."""
    daily, day = LEGACY_ONLY_USER_COLUMNS
    for column, parse in ((daily, legacy.parse_int), (day, legacy.parse_date)):
        value = record.get(column)
        if value is None:
            continue
        try:
            parsed = parse(value)
        except (ValueError, TypeError) as exc:
            converter.reject(state, column, value, Bad("unconvertible", str(exc)))
            continue
        if isinstance(parsed, int) and not 0 <= parsed <= COUNTER_MAX:
            converter.reject(state, column, value, Bad("unconvertible", "counter out of range"))


def valid_counters(
    counters: Iterable[tuple[Any, Any, Any]], set_aside: set[int]
) -> Iterator[Counter]:
    """Yield the counters of users kept whose legacy counter says something."""
    for raw_id, raw_daily, raw_day in counters:
        try:
            user_id = legacy.parse_int(raw_id)
            daily = legacy.parse_int(raw_daily) if raw_daily is not None else 0
            day = legacy.parse_date(raw_day) if raw_day is not None else None
        except (ValueError, TypeError):
            continue  # the users row itself was set aside for this value
        if user_id in set_aside or day is None or daily <= 0:
            continue
        yield Counter(user_id, day, daily)


def merge_rate_limits(
    converter: Converter,
    converted: Iterable[list[tuple[Any, ...]]],
    counters: Iterable[tuple[Any, Any, Any]],
    next_id: int,
) -> Iterator[list[RateLimitRow]]:
    """Yield the rows of ``converted`` batches merged, with the legacy counters absorbed.

    ``converted`` must be ordered by (user_id, id) and ``counters`` (user id, daily count,
    last day) by user id: both streams are merged like a join, so memory holds one user.
    """
    merger = _Merger(converter, counters, next_id)
    for batch in converted:
        out: list[RateLimitRow] = []
        for row in batch:
            out.extend(merger.add(RateLimitRow._make(row)))
        yield out
    yield merger.finish()


class NewRows:
    """Number the legacy counters that become rows of their own, after the table's ids."""

    def __init__(self, converter: Converter, next_id: int) -> None:
        self.converter = converter
        self.figures = converter.report.figures(TABLE)
        self.next_id = next_id

    def moved(self) -> int:
        """Count one counter becoming a row of its own; return that row's id."""
        row_id = self.next_id
        self.next_id += 1
        self.figures.transformed += 1
        self.converter.report.count(TABLE, "submission_count", "counter_moved")
        return row_id


class CounterQueue(NewRows):
    """The kept users' legacy counters, taken in user order as the rate-limit rows go by."""

    def __init__(
        self, converter: Converter, counters: Iterable[tuple[Any, Any, Any]], next_id: int
    ) -> None:
        super().__init__(converter, next_id)
        self.counters = valid_counters(counters, converter.set_aside["users"])
        self.pending: Counter | None = next(self.counters, None)
        self.user_id: int | None = None

    def before(self, user_id: int | None) -> list[Counter]:
        """Take the counters of users before ``user_id`` (all that are left if None)."""
        out: list[Counter] = []
        while self.pending is not None and (user_id is None or self.pending.user_id < user_id):
            out.append(self.pending)
            self.pending = next(self.counters, None)
        return out

    def of(self, user_id: int) -> Counter | None:
        """Take ``user_id``'s counter, if it has one (call after :meth:`before`)."""
        counter = self.pending
        if counter is None or counter.user_id != user_id:
            return None
        self.pending = next(self.counters, None)
        return counter


class _Merger(CounterQueue):
    """Merge one user's rate-limit rows at a time with that user's legacy counter."""

    def __init__(
        self, converter: Converter, counters: Iterable[tuple[Any, Any, Any]], next_id: int
    ) -> None:
        super().__init__(converter, counters, next_id)
        self.days: dict[date, RateLimitRow] = {}

    def add(self, row: RateLimitRow) -> list[RateLimitRow]:
        """Take one converted row (in user order); return the rows of users now complete."""
        out: list[RateLimitRow] = []
        if row.user_id != self.user_id:
            out = self._flush()
            self.user_id = row.user_id
        kept = self.days.get(row.submission_date)
        if kept is None:
            self.days[row.submission_date] = row
            return out
        self.days[row.submission_date] = kept._replace(
            submission_count=kept.submission_count + row.submission_count,
            created_at=min(kept.created_at, row.created_at),
        )
        self.figures.transformed += 1
        self.converter.note_now(
            RowState(TABLE, kept.id),
            "submission_count",
            "rate_limit_merged",
            f"duplicate row id={row.id} merged (counts summed)",
        )
        return out

    def _counters_before(self, user_id: int | None) -> list[RateLimitRow]:
        return [self._new_row(counter) for counter in self.before(user_id)]

    def _flush(self) -> list[RateLimitRow]:
        user_id = self.user_id
        if user_id is None:
            return []
        out = self._counters_before(user_id)
        counter = self.of(user_id)
        if counter is not None:
            kept = self.days.get(counter.day)
            if kept is None:
                out.append(self._new_row(counter))
            elif counter.daily > kept.submission_count:
                self.converter.note_now(
                    RowState(TABLE, kept.id),
                    "submission_count",
                    "counter_raised",
                    f"users.daily_submissions={counter.daily} > {kept.submission_count}",
                )
                self.days[counter.day] = kept._replace(submission_count=counter.daily)
            else:
                self.converter.report.count(TABLE, "submission_count", "counter_absorbed")
        out.extend(sorted(self.days.values(), key=_by_id))
        self.days = {}
        return out

    def _new_row(self, counter: Counter) -> RateLimitRow:
        # Created "at" the start of its day: deterministic, so a later verify-import agrees.
        return RateLimitRow(
            self.moved(),
            counter.user_id,
            counter.day,
            counter.daily,
            datetime.combine(counter.day, time(), tzinfo=UTC),
        )

    def finish(self) -> list[RateLimitRow]:
        """Return the last user's rows and the counters of users after it."""
        out = self._flush()
        self.user_id = None
        out.extend(self._counters_before(None))
        return out


_by_id = attrgetter("id")

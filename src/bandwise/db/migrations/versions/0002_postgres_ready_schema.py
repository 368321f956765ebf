"""PostgreSQL-ready schema: BIGINT ids, timestamptz, enums, JSON, cascades, unique limits.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Where legacy data moves:
- ``users.daily_submissions``/``last_submission_date`` → ``rate_limits`` (the row of that user
  and day; its count becomes the larger of the two counters, which counted the same checks);
- duplicate ``rate_limits`` rows of one (user, day) → one row, counts summed, lowest id kept;
- ``improvement_suggestions`` plain text → a one-element JSON list;
- enum member names ('TASK_2', any case) → values ('task_2'); naive datetimes → UTC;
- a rate-limit row made from a user's counters is created at 00:00 UTC of its day;
- (SQLite) a ``submissions``/``rate_limits`` ``user_id`` holding a user's Telegram id (as the
  legacy bot's handlers stored it) → that user's id, then duplicates merged as above.
A value that cannot be converted exactly stops the migration (rolled back) with the rows named.
A row whose parent does not exist (users deleted without cascade) stops it too, unless the
upgrade was asked to quarantine them (``bandwise db upgrade --quarantine-orphans``): then they
wait in a scratch table that 0003 moves into ``import_quarantine``. The rules are the
importer's, frozen in ``bandwise.db.migrations.legacy_rules_0002``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from bandwise.db.migrations import legacy_rules_0002 as legacy
from bandwise.legacy.schema import legacy_metadata

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCORES = (
    "task_achievement_score",
    "coherence_cohesion_score",
    "lexical_resource_score",
    "grammatical_accuracy_score",
    "overall_band_score",
)
JUSTIFICATIONS = (
    "task_achievement_justification",
    "coherence_cohesion_justification",
    "lexical_resource_justification",
    "grammatical_accuracy_justification",
)
TASK_TYPES = ("task_1", "task_2")
STATUSES = ("pending", "completed", "failed")
MAX_REPORTED = 20

# --- the schema this revision creates, frozen here (models may move on in later revisions) ---
v2 = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ts = sa.DateTime(timezone=True)
_band = sa.Numeric(4, 2)
_json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_task_type = sa.Enum(*TASK_TYPES, name="task_type", create_constraint=True)
_status = sa.Enum(*STATUSES, name="processing_status", create_constraint=True)

v2_users = sa.Table(
    "users",
    v2,
    sa.Column("id", _id, primary_key=True, autoincrement=True),
    sa.Column("telegram_id", sa.BigInteger, nullable=False),
    sa.Column("username", sa.String(255)),
    sa.Column("first_name", sa.String(255)),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("is_pro", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("pro_until", _ts),
    sa.Index(None, "telegram_id", unique=True),
)
v2_submissions = sa.Table(
    "submissions",
    v2,
    sa.Column("id", _id, primary_key=True, autoincrement=True),
    sa.Column("user_id", _id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("task_type", _task_type, nullable=False),
    sa.Column("word_count", sa.Integer, nullable=False),
    sa.Column("submitted_at", _ts, nullable=False),
    sa.Column("processing_status", _status, nullable=False),
    sa.Index(None, "user_id"),
    sa.Index("ix_submissions_user_id_submitted_at", "user_id", "submitted_at"),
)
v2_rate_limits = sa.Table(
    "rate_limits",
    v2,
    sa.Column("id", _id, primary_key=True, autoincrement=True),
    sa.Column("user_id", _id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("submission_date", sa.Date, nullable=False),
    sa.Column("submission_count", sa.Integer, nullable=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.UniqueConstraint("user_id", "submission_date"),
    sa.Index(None, "user_id"),
    sa.Index(None, "submission_date"),
)
v2_assessments = sa.Table(
    "assessments",
    v2,
    sa.Column("id", _id, primary_key=True, autoincrement=True),
    sa.Column(
        "submission_id", _id, sa.ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False
    ),
    *(sa.Column(name, _band, nullable=False) for name in SCORES),
    sa.Column("detailed_feedback", sa.Text, nullable=False),
    sa.Column("improvement_suggestions", _json, nullable=False),
    *(
        sa.Column(name, sa.Text, nullable=False, server_default=sa.text("''"))
        for name in JUSTIFICATIONS
    ),
    sa.Column("assessor", sa.String(100), nullable=False, server_default=sa.text("'legacy'")),
    sa.Column("assessed_at", _ts, nullable=False),
    sa.Index(None, "submission_id", unique=True),
    *(sa.CheckConstraint(f"{name} >= 0 AND {name} <= 9", name=f"{name}_range") for name in SCORES),
)
V2_ORDER = (v2_users, v2_submissions, v2_rate_limits, v2_assessments)


class _BadValues:
    """Collect unconvertible values and fail once with the first ones named."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.count = 0

    def add(self, table: str, row_id: Any, column: str, value: Any, reason: str) -> None:
        self.count += 1
        if len(self.items) < MAX_REPORTED:
            self.items.append(f"{table} id={row_id} {column}={value!r}: {reason}")

    def raise_if_any(self) -> None:
        if self.count:
            listed = "\n  ".join(self.items)
            raise ValueError(
                f"{self.count} legacy value(s) cannot be converted exactly in place:\n  {listed}\n"
                "Fix them, or import the file into PostgreSQL with "
                "`bandwise db import-sqlite --on-bad-rows quarantine`."
            )


def _exact_band(value: Any) -> Decimal:
    number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    if number != number.quantize(Decimal("0.01")) or not Decimal(0) <= number <= Decimal(9):
        raise ValueError("band must be between 0 and 9 with at most two decimals")
    return number.quantize(Decimal("0.01"))


def _convert(
    bad: _BadValues, table: str, row: dict[str, Any], column: str, parse: Callable[[Any], Any]
) -> Any:
    try:
        return parse(row[column])
    except (ValueError, TypeError, ArithmeticError) as exc:
        bad.add(table, row.get("id"), column, row[column], str(exc))
        return None


# --- SQLite: rebuild each table (SQLite cannot alter column types) -----------------------------


def _chunks(bind: sa.Connection, table: str, size: int = 2000) -> Iterator[list[dict[str, Any]]]:
    last: Any = None
    while True:
        where = "" if last is None else "WHERE id > :last"
        rows = (
            bind.execute(
                sa.text(f"SELECT * FROM {table} {where} ORDER BY id LIMIT {size}"), {"last": last}
            )
            .mappings()
            .all()
        )
        if not rows:
            return
        yield [dict(row) for row in rows]
        last = rows[-1]["id"]


def _rebuild(bind: sa.Connection, target: sa.Table, rows: Iterator[list[dict[str, Any]]]) -> None:
    scratch = sa.MetaData()
    for table in target.metadata.sorted_tables:  # so that foreign keys resolve
        if table is not target:
            table.to_metadata(scratch)
    temp = target.to_metadata(scratch, name=f"_bw_new_{target.name}")
    for index in list(temp.indexes):
        temp.indexes.discard(index)
    temp.create(bind)
    for batch in rows:
        if batch:
            bind.execute(temp.insert(), batch)
    op.drop_table(target.name)
    op.rename_table(temp.name, target.name)
    for index in target.indexes:
        index.create(bind)


def _orphan_policy() -> str:
    config = getattr(op.get_context(), "config", None)
    policy = str(config.attributes.get("legacy_orphans", "refuse")) if config else "refuse"
    if policy not in legacy.ORPHAN_POLICIES:
        raise ValueError(f"unknown orphan policy {policy!r}")
    return policy


class _Parents:
    """Which legacy rows move re-attached, and which are set aside (orphans), before any write."""

    def __init__(self, bind: sa.Connection) -> None:
        self.repairs: dict[str, dict[Any, int]] = {
            table: {
                row[0]: row[1] for row in bind.execute(sa.text(legacy.repaired_user_query(table)))
            }
            for table in ("submissions", "rate_limits")
        }
        # (table, id, reason, row) of each row set aside, in the importer's order.
        self.set_aside: list[tuple[str, Any, str, dict[str, Any]]] = []
        self.ids: dict[str, set[Any]] = {"submissions": set(), "rate_limits": set()}
        for table in ("submissions", "rate_limits"):
            for row in bind.execute(
                sa.text(
                    f"SELECT * FROM {table} WHERE user_id NOT IN (SELECT id FROM users) ORDER BY id"
                )
            ).mappings():
                if row["id"] in self.repairs[table]:
                    continue
                reason = legacy.orphan_reason("user_id", row["user_id"], "users", row["user_id"])
                self.set_aside.append((table, row["id"], reason, dict(row)))
                self.ids[table].add(row["id"])
        self.ids["assessments"] = set()
        set_aside_submissions = self.ids["submissions"]
        for row in bind.execute(
            sa.text(
                "SELECT a.*, NOT EXISTS (SELECT 1 FROM submissions s WHERE s.id = a.submission_id) "
                "AS _bw_orphan FROM assessments a WHERE _bw_orphan OR a.submission_id IN "
                "(SELECT id FROM submissions WHERE user_id NOT IN (SELECT id FROM users)) "
                "ORDER BY a.id"
            )
        ).mappings():
            record = {key: value for key, value in row.items() if key != "_bw_orphan"}
            value = row["submission_id"]
            if row["_bw_orphan"]:
                reason = legacy.orphan_reason("submission_id", value, "submissions", value)
            elif value in set_aside_submissions:
                reason = legacy.set_aside_reason("submission_id", value, "submissions", value)
            else:
                continue
            self.set_aside.append(("assessments", row["id"], reason, record))
            self.ids["assessments"].add(row["id"])

    def refuse(self) -> None:
        """Raise, naming the rows set aside, when the upgrade was not asked to quarantine them."""
        if not self.set_aside:
            return
        listed = "\n  ".join(
            f"{table} id={row_id}: {reason}"
            for table, row_id, reason, _ in self.set_aside[:MAX_REPORTED]
        )
        more = len(self.set_aside) - MAX_REPORTED
        tail = f"\n  … and {more} more" if more > 0 else ""
        raise ValueError(
            f"{len(self.set_aside)} legacy row(s) point at no parent (their user or submission "
            f"was deleted):\n  {listed}{tail}\nNothing was changed. Run `bandwise db upgrade "
            "--quarantine-orphans` to move them into import_quarantine, or import the file "
            "with `bandwise db import-sqlite --on-bad-rows quarantine`."
        )

    def keep(self, bind: sa.Connection) -> None:
        """Move the rows set aside into a scratch table (0003 files them in import_quarantine)."""
        if not self.set_aside:
            return
        bind.execute(
            sa.text(
                f"CREATE TABLE {legacy.SET_ASIDE_TABLE} (position INTEGER PRIMARY KEY, "
                "source_table VARCHAR(64) NOT NULL, source_id BIGINT, reason TEXT NOT NULL, "
                "row_data TEXT NOT NULL, quarantined_at VARCHAR(32) NOT NULL)"
            )
        )
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        bind.execute(
            sa.text(
                f"INSERT INTO {legacy.SET_ASIDE_TABLE} (source_table, source_id, reason, "
                "row_data, quarantined_at) VALUES (:table, :id, :reason, :data, :now)"
            ),
            [
                {
                    "table": table,
                    "id": row_id,
                    "reason": reason,
                    "data": json.dumps(legacy.json_safe(row), default=str),
                    "now": now,
                }
                for table, row_id, reason, row in self.set_aside
            ],
        )

    def user_id(self, table: str, row: dict[str, Any]) -> Any:
        """Return the row's user_id, re-attached when it held a Telegram id."""
        return self.repairs[table].get(row["id"], row["user_id"])


def _sqlite_upgrade(bind: sa.Connection) -> None:
    bad = _BadValues()
    counters: dict[int, tuple[Any, int]] = {}
    parents = _Parents(bind)
    if _orphan_policy() == "refuse":
        parents.refuse()
    parents.keep(bind)
    first_new_rate_limit_id = (
        bind.execute(
            sa.text("SELECT max(id) FROM rate_limits WHERE typeof(id) = 'integer'")
        ).scalar_one_or_none()
        or 0
    ) + 1

    def users() -> Iterator[list[dict[str, Any]]]:
        for chunk in _chunks(bind, "users"):
            out = []
            for row in chunk:
                date = _convert(
                    bad,
                    "users",
                    row,
                    "last_submission_date",
                    lambda v: None if v is None else legacy.parse_date(v),
                )
                daily = _convert(bad, "users", row, "daily_submissions", legacy.parse_int)
                if date is not None and daily:
                    counters[row["id"]] = (date, daily)
                out.append(
                    {
                        "id": row["id"],
                        "telegram_id": _convert(bad, "users", row, "telegram_id", legacy.parse_int),
                        "username": row["username"],
                        "first_name": row["first_name"],
                        "created_at": _convert(
                            bad, "users", row, "created_at", legacy.parse_datetime
                        ),
                        "is_pro": _convert(bad, "users", row, "is_pro", legacy.parse_bool),
                        "pro_until": None,
                    }
                )
            yield out

    def submissions() -> Iterator[list[dict[str, Any]]]:
        for chunk in _chunks(bind, "submissions"):
            yield [
                {
                    "id": row["id"],
                    "user_id": _convert(
                        bad,
                        "submissions",
                        {**row, "user_id": parents.user_id("submissions", row)},
                        "user_id",
                        legacy.parse_int,
                    ),
                    "text": row["text"],
                    "task_type": getattr(
                        _convert(bad, "submissions", row, "task_type", legacy.parse_task_type),
                        "value",
                        None,
                    ),
                    "word_count": _convert(bad, "submissions", row, "word_count", legacy.parse_int),
                    "submitted_at": _convert(
                        bad, "submissions", row, "submitted_at", legacy.parse_datetime
                    ),
                    "processing_status": getattr(
                        _convert(
                            bad,
                            "submissions",
                            row,
                            "processing_status",
                            legacy.parse_processing_status,
                        ),
                        "value",
                        None,
                    ),
                }
                for row in chunk
                if row["id"] not in parents.ids["submissions"]
            ]

    def rate_limits() -> Iterator[list[dict[str, Any]]]:
        merged: dict[tuple[Any, Any], dict[str, Any]] = {}
        for chunk in _chunks(bind, "rate_limits"):
            for row in chunk:
                if row["id"] in parents.ids["rate_limits"]:
                    continue
                row = {**row, "user_id": parents.user_id("rate_limits", row)}
                item = {
                    "id": row["id"],
                    "user_id": _convert(bad, "rate_limits", row, "user_id", legacy.parse_int),
                    "submission_date": _convert(
                        bad, "rate_limits", row, "submission_date", legacy.parse_date
                    ),
                    "submission_count": _convert(
                        bad, "rate_limits", row, "submission_count", legacy.parse_int
                    ),
                    "created_at": _convert(
                        bad, "rate_limits", row, "created_at", legacy.parse_datetime
                    ),
                }
                key = (item["user_id"], item["submission_date"])
                if key in merged:
                    kept = merged[key]
                    kept["submission_count"] = (kept["submission_count"] or 0) + (
                        item["submission_count"] or 0
                    )
                    if (
                        item["created_at"]
                        and kept["created_at"]
                        and item["created_at"] < kept["created_at"]
                    ):
                        kept["created_at"] = item["created_at"]
                else:
                    merged[key] = item
        next_id = first_new_rate_limit_id
        for user_id, (day, daily) in sorted(counters.items()):
            key = (user_id, day)
            if key in merged:
                merged[key]["submission_count"] = max(merged[key]["submission_count"] or 0, daily)
            else:
                # Created "at" the start of its day, with the id the importer gives it.
                merged[key] = {
                    "new_id": next_id,
                    "user_id": user_id,
                    "submission_date": day,
                    "submission_count": daily,
                    "created_at": datetime.combine(day, time(), tzinfo=UTC),
                }
                next_id += 1
        yield [row for row in merged.values() if "id" in row]
        yield [{"id": row.pop("new_id"), **row} for row in merged.values() if "new_id" in row]

    def assessments() -> Iterator[list[dict[str, Any]]]:
        for chunk in _chunks(bind, "assessments"):
            out = []
            for row in chunk:
                if row["id"] in parents.ids["assessments"]:
                    continue
                converted: dict[str, Any] = {
                    "id": row["id"],
                    "submission_id": _convert(
                        bad, "assessments", row, "submission_id", legacy.parse_int
                    ),
                    "detailed_feedback": row["detailed_feedback"],
                    "improvement_suggestions": legacy.parse_suggestions(
                        row["improvement_suggestions"]
                    )[0],
                    "assessed_at": _convert(
                        bad, "assessments", row, "assessed_at", legacy.parse_datetime
                    ),
                    "assessor": "legacy",
                }
                for name in SCORES:
                    converted[name] = _convert(bad, "assessments", row, name, _exact_band)
                for name in JUSTIFICATIONS:
                    converted[name] = ""
                out.append(converted)
            yield out

    def checked(rows: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
        for batch in rows:
            bad.raise_if_any()
            yield batch
        bad.raise_if_any()

    # users first: reading them fills the counters that rate_limits absorbs.
    _rebuild(bind, v2_users, checked(users()))
    _rebuild(bind, v2_submissions, checked(submissions()))
    _rebuild(bind, v2_rate_limits, checked(rate_limits()))
    _rebuild(bind, v2_assessments, checked(assessments()))


def _sqlite_downgrade(bind: sa.Connection) -> None:
    latest: dict[int, tuple[Any, int]] = {}
    for chunk in _chunks(bind, "rate_limits"):
        for row in chunk:
            day = legacy.parse_date(row["submission_date"])
            if row["user_id"] not in latest or latest[row["user_id"]][0] < day:
                latest[row["user_id"]] = (day, row["submission_count"])

    def naive(value: Any) -> Any:
        return None if value is None else legacy.parse_datetime(value).replace(tzinfo=None)

    def users() -> Iterator[list[dict[str, Any]]]:
        for chunk in _chunks(bind, "users"):
            yield [
                {
                    "id": row["id"],
                    "telegram_id": row["telegram_id"],
                    "username": row["username"],
                    "first_name": row["first_name"],
                    "created_at": naive(row["created_at"]),
                    "is_pro": bool(row["is_pro"]),
                    "daily_submissions": latest.get(row["id"], (None, 0))[1],
                    "last_submission_date": latest.get(row["id"], (None, 0))[0],
                }
                for row in chunk
            ]

    def submissions() -> Iterator[list[dict[str, Any]]]:
        for chunk in _chunks(bind, "submissions"):
            yield [
                {
                    **row,
                    "task_type": row["task_type"].upper(),
                    "processing_status": row["processing_status"].upper(),
                    "submitted_at": naive(row["submitted_at"]),
                }
                for row in chunk
            ]

    def rate_limits() -> Iterator[list[dict[str, Any]]]:
        for chunk in _chunks(bind, "rate_limits"):
            yield [
                {
                    **row,
                    "created_at": naive(row["created_at"]),
                    "submission_date": legacy.parse_date(row["submission_date"]),
                }
                for row in chunk
            ]

    def assessments() -> Iterator[list[dict[str, Any]]]:
        import json

        for chunk in _chunks(bind, "assessments"):
            yield [
                {
                    "id": row["id"],
                    "submission_id": row["submission_id"],
                    **{name: float(row[name]) for name in SCORES},
                    "detailed_feedback": row["detailed_feedback"],
                    "improvement_suggestions": row["improvement_suggestions"]
                    if isinstance(row["improvement_suggestions"], str)
                    else json.dumps(row["improvement_suggestions"]),
                    "assessed_at": naive(row["assessed_at"]),
                }
                for row in chunk
            ]

    tables = legacy_metadata.tables
    _rebuild(bind, tables["users"], users())
    _rebuild(bind, tables["submissions"], submissions())
    _rebuild(bind, tables["rate_limits"], rate_limits())
    _rebuild(bind, tables["assessments"], assessments())


# --- PostgreSQL: alter in place (transactional DDL: all or nothing) -----------------------------


def _drop_foreign_keys(bind: sa.Connection, table: str) -> None:
    for fk in sa.inspect(bind).get_foreign_keys(table):
        if fk["name"]:  # PostgreSQL always names them
            op.drop_constraint(fk["name"], table, type_="foreignkey")


def _drop_index_if_exists(name: str) -> None:
    op.execute(sa.text(f'DROP INDEX IF EXISTS "{name}"'))


def _bigint_ids(table: str, *columns: str) -> None:
    for column in columns:
        op.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE BIGINT"))
    # Widen the id sequence and move it past rows inserted with explicit ids (legacy copies).
    op.execute(
        sa.text(
            f"DO $$ DECLARE seq text := pg_get_serial_sequence('{table}', 'id'); top bigint; BEGIN "
            f"IF seq IS NOT NULL THEN "
            f"  EXECUTE format('ALTER SEQUENCE %s AS BIGINT', seq); "
            f"  SELECT max(id) INTO top FROM {table}; "
            f"  PERFORM setval(seq, COALESCE(top, 1), top IS NOT NULL); "
            f"END IF; END $$"
        )
    )


def _to_timestamptz(table: str, *columns: str) -> None:
    for column in columns:
        op.execute(
            sa.text(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE TIMESTAMPTZ "
                f"USING {column} AT TIME ZONE 'UTC'"
            )
        )


def _check_values(bind: sa.Connection) -> None:
    bad = _BadValues()
    checks = [
        ("submissions", "task_type", f"lower(task_type::text) NOT IN {TASK_TYPES}"),
        ("submissions", "processing_status", f"lower(processing_status::text) NOT IN {STATUSES}"),
        *(
            (
                "assessments",
                name,
                f"({name} * 100) <> round(({name} * 100)::numeric) OR {name} < 0 OR {name} > 9",
            )
            for name in SCORES
        ),
    ]
    for table, column, condition in checks:
        for row_id, value in bind.execute(
            sa.text(
                f"SELECT id, {column} FROM {table} WHERE {condition} ORDER BY id LIMIT {MAX_REPORTED}"
            )
        ):
            bad.add(table, row_id, column, value, "cannot be converted exactly")
    bad.raise_if_any()


def _postgres_upgrade(bind: sa.Connection) -> None:
    _check_values(bind)
    for table in ("submissions", "rate_limits", "assessments"):
        _drop_foreign_keys(bind, table)
    for name in ("ix_users_id", "ix_submissions_id", "ix_rate_limits_id", "ix_assessments_id"):
        _drop_index_if_exists(name)

    # users
    _bigint_ids("users", "id", "telegram_id")
    _to_timestamptz("users", "created_at")
    op.alter_column("users", "is_pro", server_default=sa.false())
    op.add_column("users", sa.Column("pro_until", _ts))

    # rate_limits: merge duplicates, then absorb the legacy per-user counters
    _bigint_ids("rate_limits", "id", "user_id")
    _to_timestamptz("rate_limits", "created_at")
    op.execute(
        sa.text(
            "UPDATE rate_limits r SET submission_count = d.total, created_at = d.first_created "
            "FROM (SELECT min(id) AS keep, sum(submission_count) AS total, min(created_at) AS first_created "
            "      FROM rate_limits GROUP BY user_id, submission_date HAVING count(*) > 1) d "
            "WHERE r.id = d.keep"
        )
    )
    op.execute(
        sa.text(
            "DELETE FROM rate_limits r WHERE r.id NOT IN "
            "(SELECT min(id) FROM rate_limits GROUP BY user_id, submission_date)"
        )
    )
    op.execute(
        sa.text(
            "UPDATE rate_limits r SET submission_count = GREATEST(r.submission_count, u.daily_submissions) "
            "FROM users u WHERE u.id = r.user_id AND u.last_submission_date = r.submission_date"
        )
    )
    op.execute(
        sa.text(
            "INSERT INTO rate_limits (user_id, submission_date, submission_count, created_at) "
            "SELECT u.id, u.last_submission_date, u.daily_submissions, "
            "u.last_submission_date::timestamp AT TIME ZONE 'UTC' FROM users u "
            "WHERE u.last_submission_date IS NOT NULL AND u.daily_submissions > 0 AND NOT EXISTS "
            "(SELECT 1 FROM rate_limits r WHERE r.user_id = u.id "
            " AND r.submission_date = u.last_submission_date)"
        )
    )
    op.create_unique_constraint(
        "uq_rate_limits_user_id_submission_date", "rate_limits", ["user_id", "submission_date"]
    )
    op.drop_column("users", "daily_submissions")
    op.drop_column("users", "last_submission_date")

    # submissions
    _task_type.create(bind, checkfirst=True)
    _status.create(bind, checkfirst=True)
    _bigint_ids("submissions", "id", "user_id")
    _to_timestamptz("submissions", "submitted_at")
    op.execute(
        sa.text(
            "ALTER TABLE submissions "
            "ALTER COLUMN task_type TYPE task_type USING lower(task_type::text)::task_type, "
            "ALTER COLUMN processing_status TYPE processing_status "
            "USING lower(processing_status::text)::processing_status"
        )
    )
    op.execute(sa.text("DROP TYPE IF EXISTS tasktype"))
    op.execute(sa.text("DROP TYPE IF EXISTS processingstatus"))
    op.create_index(
        "ix_submissions_user_id_submitted_at", "submissions", ["user_id", "submitted_at"]
    )

    # assessments
    _bigint_ids("assessments", "id", "submission_id")
    _to_timestamptz("assessments", "assessed_at")
    for name in SCORES:
        op.execute(
            sa.text(
                f"ALTER TABLE assessments ALTER COLUMN {name} TYPE NUMERIC(4, 2) "
                f"USING round({name}::numeric, 2)"
            )
        )
        op.create_check_constraint(
            f"ck_assessments_{name}_range", "assessments", f"{name} >= 0 AND {name} <= 9"
        )
    op.execute(
        sa.text(
            "CREATE FUNCTION pg_temp.bw_suggestions(value text) RETURNS jsonb LANGUAGE plpgsql AS $$ "
            "DECLARE parsed jsonb; BEGIN "
            "  BEGIN parsed := value::jsonb; "
            "  EXCEPTION WHEN others THEN "
            "    RETURN CASE WHEN btrim(value) = '' THEN '[]'::jsonb ELSE jsonb_build_array(value) END; "
            "  END; "
            "  RETURN CASE WHEN jsonb_typeof(parsed) = 'array' THEN parsed "
            "              ELSE jsonb_build_array(parsed) END; "
            "END $$"
        )
    )
    op.execute(
        sa.text(
            "ALTER TABLE assessments ALTER COLUMN improvement_suggestions TYPE JSONB "
            "USING pg_temp.bw_suggestions(improvement_suggestions)"
        )
    )
    op.execute(sa.text("DROP FUNCTION pg_temp.bw_suggestions(text)"))
    for name in JUSTIFICATIONS:
        op.add_column(
            "assessments", sa.Column(name, sa.Text, nullable=False, server_default=sa.text("''"))
        )
    op.add_column(
        "assessments",
        sa.Column("assessor", sa.String(100), nullable=False, server_default=sa.text("'legacy'")),
    )

    # relationships, now enforced with cascades
    op.create_foreign_key(
        "fk_submissions_user_id_users",
        "submissions",
        "users",
        ["user_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        "fk_rate_limits_user_id_users",
        "rate_limits",
        "users",
        ["user_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        "fk_assessments_submission_id_submissions",
        "assessments",
        "submissions",
        ["submission_id"],
        ["id"],
        ondelete="CASCADE",
    )


def _postgres_downgrade(bind: sa.Connection) -> None:
    for table in ("submissions", "rate_limits", "assessments"):
        _drop_foreign_keys(bind, table)
    op.add_column(
        "users", sa.Column("daily_submissions", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column("users", sa.Column("last_submission_date", sa.Date))
    op.execute(
        sa.text(
            "UPDATE users u SET daily_submissions = r.submission_count, "
            "last_submission_date = r.submission_date FROM "
            "(SELECT DISTINCT ON (user_id) user_id, submission_date, submission_count "
            " FROM rate_limits ORDER BY user_id, submission_date DESC) r WHERE r.user_id = u.id"
        )
    )
    op.alter_column("users", "daily_submissions", server_default=None)
    op.drop_column("users", "pro_until")
    op.alter_column("users", "is_pro", server_default=None)
    op.drop_constraint("uq_rate_limits_user_id_submission_date", "rate_limits", type_="unique")
    op.drop_index("ix_submissions_user_id_submitted_at", "submissions")
    op.execute(
        sa.text(
            "ALTER TABLE submissions "
            "ALTER COLUMN task_type TYPE VARCHAR(6) USING upper(task_type::text), "
            "ALTER COLUMN processing_status TYPE VARCHAR(9) USING upper(processing_status::text)"
        )
    )
    op.execute(sa.text("DROP TYPE IF EXISTS task_type"))
    op.execute(sa.text("DROP TYPE IF EXISTS processing_status"))
    for name in SCORES:
        op.drop_constraint(f"ck_assessments_{name}_range", "assessments", type_="check")
        op.execute(sa.text(f"ALTER TABLE assessments ALTER COLUMN {name} TYPE DOUBLE PRECISION"))
    op.execute(
        sa.text(
            "ALTER TABLE assessments ALTER COLUMN improvement_suggestions TYPE TEXT "
            "USING improvement_suggestions::text"
        )
    )
    for name in (*JUSTIFICATIONS, "assessor"):
        op.drop_column("assessments", name)
    for table, columns in (
        ("users", ("created_at",)),
        ("submissions", ("submitted_at",)),
        ("rate_limits", ("created_at",)),
        ("assessments", ("assessed_at",)),
    ):
        for column in columns:
            op.execute(
                sa.text(
                    f"ALTER TABLE {table} ALTER COLUMN {column} TYPE TIMESTAMP "
                    f"USING {column} AT TIME ZONE 'UTC'"
                )
            )
    for name, table, column in (
        ("ix_users_id", "users", "id"),
        ("ix_submissions_id", "submissions", "id"),
        ("ix_rate_limits_id", "rate_limits", "id"),
        ("ix_assessments_id", "assessments", "id"),
    ):
        op.create_index(name, table, [column])
    op.create_foreign_key(None, "submissions", "users", ["user_id"], ["id"])
    op.create_foreign_key(None, "rate_limits", "users", ["user_id"], ["id"])
    op.create_foreign_key(None, "assessments", "submissions", ["submission_id"], ["id"])


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _sqlite_upgrade(bind)
    else:
        _postgres_upgrade(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _sqlite_downgrade(bind)
    else:
        _postgres_downgrade(bind)

"""The legacy schema exactly as the old bot's SQLAlchemy ``create_all`` wrote it."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

LEGACY_TABLES = ("users", "submissions", "rate_limits", "assessments")
# Columns the new schema no longer keeps on the table (their data moves, see migration 0002).
LEGACY_ONLY_USER_COLUMNS = ("daily_submissions", "last_submission_date")

legacy_metadata = MetaData()

legacy_users = Table(
    "users",
    legacy_metadata,
    Column("id", Integer, primary_key=True),
    Column("telegram_id", Integer, nullable=False),
    Column("username", String(255)),
    Column("first_name", String(255)),
    Column("created_at", DateTime, nullable=False),
    Column("is_pro", Boolean, nullable=False),
    Column("daily_submissions", Integer, nullable=False),
    Column("last_submission_date", Date),
    Index("ix_users_telegram_id", "telegram_id", unique=True),
    Index("ix_users_id", "id"),
)

legacy_submissions = Table(
    "submissions",
    legacy_metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("text", Text, nullable=False),
    Column("task_type", String(6), nullable=False),
    Column("word_count", Integer, nullable=False),
    Column("submitted_at", DateTime, nullable=False),
    Column("processing_status", String(9), nullable=False),
    Index("ix_submissions_id", "id"),
    Index("ix_submissions_user_id", "user_id"),
)

legacy_rate_limits = Table(
    "rate_limits",
    legacy_metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("submission_date", Date, nullable=False),
    Column("submission_count", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_rate_limits_id", "id"),
    Index("ix_rate_limits_user_id", "user_id"),
    Index("ix_rate_limits_submission_date", "submission_date"),
)

legacy_assessments = Table(
    "assessments",
    legacy_metadata,
    Column("id", Integer, primary_key=True),
    Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
    Column("task_achievement_score", Float, nullable=False),
    Column("coherence_cohesion_score", Float, nullable=False),
    Column("lexical_resource_score", Float, nullable=False),
    Column("grammatical_accuracy_score", Float, nullable=False),
    Column("overall_band_score", Float, nullable=False),
    Column("detailed_feedback", Text, nullable=False),
    Column("improvement_suggestions", Text, nullable=False),
    Column("assessed_at", DateTime, nullable=False),
    Index("ix_assessments_submission_id", "submission_id", unique=True),
    Index("ix_assessments_id", "id"),
)

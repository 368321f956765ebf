"""Enumerations stored in the database by value (``task_1``, ``completed``)."""

from __future__ import annotations

import enum

from sqlalchemy import Enum


class TaskType(enum.StrEnum):
    """IELTS Writing task: 1 describes visual data, 2 argues a position."""

    TASK_1 = "task_1"
    TASK_2 = "task_2"


class ProcessingStatus(enum.StrEnum):
    """Lifecycle of a submission."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


def db_enum(enum_class: type[enum.Enum], name: str) -> Enum:
    """Return a column type storing ``enum_class`` by value as PostgreSQL enum type ``name``."""
    return Enum(
        enum_class,
        name=name,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
        create_constraint=True,
    )


TASK_TYPE = db_enum(TaskType, "task_type")
PROCESSING_STATUS = db_enum(ProcessingStatus, "processing_status")

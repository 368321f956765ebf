"""The one family of domain exceptions.

Each entry point translates these in exactly one place: ``cli/errors.py`` (exit codes),
``api/errors.py`` (HTTP statuses) and ``bot/errors.py`` (messages to candidates).
Messages are written for the person who has to act on them and never contain secrets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class BandwiseError(Exception):
    """Base class of every error bandwise raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigurationError(BandwiseError):
    """Invalid configuration: names the variable and the problem."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


class DatabaseError(BandwiseError):
    """A database operation failed for a reason that is not the caller's input."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached (refused, timed out, restarting); retry later."""

    def __init__(self, message: str, *, host: str | None = None, port: int | None = None) -> None:
        super().__init__(message)
        self.host = host
        self.port = port


class DatabaseBusy(DatabaseError):
    """No connection could be had within the pool timeout, or the server is full; retry."""


class MigrationError(DatabaseError):
    """A schema migration failed; the message names the revision and the way back."""

    def __init__(self, message: str, *, revision: str | None = None) -> None:
        super().__init__(message)
        self.revision = revision


class SchemaNotAtHead(DatabaseError):
    """The database schema is older or newer than this code expects."""


class InvalidInput(BandwiseError):
    """Input rejected by a rule; ``field`` names what was wrong."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(BandwiseError):
    """The thing asked for does not exist."""


class Conflict(BandwiseError):
    """The request conflicts with the current state (e.g. a non-empty import target)."""


class DailyLimitReached(BandwiseError):
    """The candidate used today's free checks; ``resets_at`` says when more are available."""

    def __init__(self, message: str, *, limit: int, resets_at: datetime) -> None:
        super().__init__(message)
        self.limit = limit
        self.resets_at = resets_at


class AssessmentFailed(BandwiseError):
    """No assessor could score the essay."""


class MaintenanceMode(BandwiseError):
    """The service is in maintenance (e.g. a cutover); writes are frozen for a short while."""

    def __init__(self, message: str, *, retry_after_seconds: int = 30) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class OperationFailed(BandwiseError):
    """An operator's procedure (import, backup, cutover) failed; the message says why."""


class ProviderUnavailable(AssessmentFailed):
    """The language-model provider failed, timed out, or its circuit breaker is open."""


class InvalidAssessment(AssessmentFailed):
    """The provider answered, but not with a valid assessment (even after one repair)."""


# Backups (ops/backup) -------------------------------------------------------------------------
class BackupDamaged(OperationFailed):
    """A backup file is truncated, tampered with or otherwise not what its manifest says."""


class BackupKeyMismatch(OperationFailed):
    """An encrypted backup cannot be opened: BACKUP_ENCRYPTION_KEY is missing or not its key."""


class ImportFailed(OperationFailed):
    """An import committed nothing (bad rows, --strict, failed verification); see ``report``."""

    def __init__(self, message: str, report: Any) -> None:
        super().__init__(message)
        self.report = report

"""Backup-test helpers: seed and fingerprint a database, drop one, write backup manifests."""

from __future__ import annotations

import hashlib
import json
import subprocess
from decimal import Decimal
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bandwise.config import Settings
from bandwise.models import Assessment, ProcessingStatus, Submission, TaskType, User
from testkit.essays import TASK1_ESSAY, TASK2_ESSAY
from testkit.pg_cluster import find_bindir

SEEDED_TELEGRAM_ID = 10_000  # the first seeded candidate's; the next ones follow


async def seed(engine: AsyncEngine, users: int = 5, per_user: int = 3) -> None:
    """Insert ``users`` candidates with ``per_user`` assessed essays each."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        for number in range(users):
            user = User(
                telegram_id=SEEDED_TELEGRAM_ID + number,
                username=f"candidate{number}",
                first_name="Ünïcode ✓",
            )
            session.add(user)
            await session.flush()
            essays = [TASK2_ESSAY if index % 2 == 0 else TASK1_ESSAY for index in range(per_user)]
            submissions = [
                Submission(
                    user_id=user.id,
                    text=essay + f"\n#{number}-{index}",
                    task_type=TaskType.TASK_2 if index % 2 == 0 else TaskType.TASK_1,
                    word_count=len(essay.split()),
                    processing_status=ProcessingStatus.COMPLETED,
                )
                for index, essay in enumerate(essays)
            ]
            session.add_all(submissions)
            await session.flush()  # one flush per table: ids in insertion order
            for index, submission in enumerate(submissions):
                band = Decimal("6.5") + Decimal(index % 3) / 2
                session.add(
                    Assessment(
                        submission_id=submission.id,
                        task_achievement_score=band,
                        coherence_cohesion_score=band,
                        lexical_resource_score=band,
                        grammatical_accuracy_score=band,
                        overall_band_score=band,
                        detailed_feedback="Clear position; develop the second paragraph.",
                        improvement_suggestions=["linking words", {"note": "ещё"}],
                        assessor="heuristic",
                    )
                )
            await session.flush()


def _fingerprint(connection: Connection) -> dict[str, str]:
    result: dict[str, str] = {}
    preparer = connection.dialect.identifier_preparer
    inspector = inspect(connection)
    for table in sorted(inspector.get_table_names()):
        columns = [column["name"] for column in inspector.get_columns(table)]
        order = "id" if "id" in columns else ", ".join(preparer.quote(name) for name in columns)
        digest = hashlib.sha256()
        rows = connection.execute(text(f"SELECT * FROM {preparer.quote(table)} ORDER BY {order}"))
        for row in rows:
            digest.update(repr(tuple(row)).encode())
            digest.update(b"\n")
        result[table] = digest.hexdigest()
    return result


async def fingerprint(engine: AsyncEngine) -> dict[str, str]:
    """Return a SHA-256 over every row, in id order, of every table."""
    async with engine.connect() as connection:
        return await connection.run_sync(_fingerprint)


def drop(settings: Settings, database: str) -> None:
    """Drop ``database`` on the settings' server (forcing sessions off)."""
    url = make_url(settings.resolved_database_url)
    subprocess.run(
        [
            str(find_bindir() / "psql"),
            "-h",
            str(url.host),
            "-p",
            str(url.port),
            "-U",
            str(url.username),
            "-d",
            "postgres",
            "-c",
            f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
        ],
        check=True,
        capture_output=True,
    )


def write_manifest(backup_dir: Path, day: int, outcome: str | None) -> None:
    """Write a backup manifest for day ``day`` of 2099 with verify outcome ``outcome``."""
    backup_dir.mkdir(parents=True, exist_ok=True)
    (backup_dir / f"2099-01-{day:02d}.json").write_text(
        json.dumps(
            {
                "created_at": f"2099-01-{day:02d}T03:00:00Z",
                "size_bytes": 4096,
                "duration_seconds": 1.5,
                "verified_at": f"2099-01-{day:02d}T03:01:00Z" if outcome else None,
                "verify_outcome": outcome,
            }
        )
    )

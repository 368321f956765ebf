"""The daily limit is exact with concurrent requests split across two processes (PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from sqlalchemy import text

from bandwise.config import load_settings
from bandwise.db.engine import create_engine
from testkit.service import subprocess_env

WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import date
    from bandwise.config import load_settings
    from bandwise.db.engine import create_engine, create_sessionmaker
    from bandwise.db.retry import run_transaction
    from bandwise.repositories import rate_limits, users

    async def main(url: str) -> None:
        engine = create_engine(load_settings(database_url=url))
        sessions = create_sessionmaker(engine)

        async def attempt() -> bool:
            async def work(session):
                user = await users.get_or_create(session, 8_888_888_888)
                return await rate_limits.consume(session, user.id, date(2026, 11, 24), 3)
            return await run_transaction(sessions, work, attempts=20) is not None

        granted = sum(await asyncio.gather(*(attempt() for _ in range(25))))
        await engine.dispose()
        print(granted)

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_fifty_requests_from_two_processes_grant_exactly_the_limit(pg_database: str) -> None:
    engine = create_engine(load_settings(database_url=pg_database))
    from bandwise.db import migrate

    await migrate.upgrade(engine)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, pg_database],
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    granted = sum(int(out.strip()) for out, _ in outputs)
    assert granted == 3
    async with engine.connect() as connection:
        count = (
            await connection.execute(text("SELECT submission_count FROM rate_limits"))
        ).scalar_one()
    assert count == 3
    await engine.dispose()

"""Running out of connections: the pool (DB_POOL_TIMEOUT) and the server (max_connections)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import asyncpg  # type: ignore[import-untyped]
import pytest

from testkit.faults import (
    APP_DATABASE,
    ServiceFactory,
    hold_lock,
    make_cluster,
    submit_many,
    wait_ready_async,
)
from testkit.pg_cluster import PgCluster

POOL_TIMEOUT = 0.5


@pytest.mark.timeout(60)
async def test_pool_exhaustion_gives_clear_503_and_recovers(
    private_cluster: PgCluster, service_factory: ServiceFactory
) -> None:
    """One pooled connection stuck behind a lock: the others wait DB_POOL_TIMEOUT, then 503."""
    service = service_factory(
        private_cluster.url(APP_DATABASE),
        db_pool_size="1",
        db_max_overflow="0",
        db_pool_timeout=str(POOL_TIMEOUT),
        db_statement_timeout="5",
    )
    await asyncio.to_thread(service.wait_ready)
    holder = hold_lock(private_cluster, "rate_limits", seconds=2.5)
    try:
        results = await submit_many(service.base_url, 5)
    finally:
        holder.wait(10)
    codes = sorted(code for code, _, _ in results)
    # The request holding the connection waits for the lock and then succeeds; the rest are
    # refused with a clear, retryable "busy" after about DB_POOL_TIMEOUT (no deadlock).
    assert codes.count(201) >= 1
    busy = [(body, seconds) for code, body, seconds in results if code == 503]
    assert busy, results
    for body, seconds in busy:
        assert body["error"] == "DatabaseBusy" and body["retryable"] is True, body
        # The body stays generic (no internals to clients); the operator's log names the cause.
        assert "no free connection" in service.log_text()
        assert seconds < POOL_TIMEOUT * 3 + 2.5  # queued behind the lock holder at most
    assert not [code for code in codes if code not in (201, 503)]
    await wait_ready_async(service.base_url, bound=5)
    assert {code for code, _, _ in await submit_many(service.base_url, 5, telegram_id=900)} == {201}


@pytest.mark.timeout(90)
@pytest.mark.postgres
async def test_server_at_max_connections(service_factory: ServiceFactory) -> None:
    """Every server slot taken by others: a clear retryable 503, then recovery when freed."""
    cluster = make_cluster(max_connections="12", superuser_reserved_connections="0")
    cluster.start()
    cluster.create_database(APP_DATABASE)
    hogs: list[asyncpg.Connection] = []
    try:
        service = service_factory(
            cluster.url(APP_DATABASE), db_pool_size="10", db_max_overflow="0", db_pool_timeout="3"
        )
        await asyncio.to_thread(service.wait_ready)
        while True:  # take every remaining slot
            try:
                hogs.append(
                    await asyncpg.connect(
                        host=cluster.host, port=cluster.port, user="postgres", database="postgres"
                    )
                )
            except asyncpg.TooManyConnectionsError:
                break
            assert len(hogs) < 20
        started = time.monotonic()
        results = await submit_many(service.base_url, 6)
        assert time.monotonic() - started < 10
        codes = [code for code, _, _ in results]
        assert set(codes) <= {201, 503}, results
        refused = [body for code, body, _ in results if code == 503]
        assert refused, "every request found a pooled connection; the test did not bite"
        for body in refused:
            assert body["error"] == "DatabaseBusy" and body["retryable"] is True, body
            assert "too many connections" in service.log_text()  # the body stays generic
        for hog in hogs:
            await hog.close()
        hogs.clear()
        await wait_ready_async(service.base_url, bound=5)
        assert {code for code, _, _ in await submit_many(service.base_url, 6, telegram_id=700)} == {
            201
        }
    finally:
        for hog in hogs:
            with contextlib.suppress(Exception):
                await hog.close()
        cluster.destroy()

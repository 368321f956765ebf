"""Running out of connections: the pool (DB_POOL_TIMEOUT) and the server (max_connections).

How soon a request is refused is measured in benchmarks/fault_recovery.py.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from testkit.faults import APP_DATABASE, ServiceFactory, make_cluster, submit_many, wait_ready_async
from testkit.load import essay_for
from testkit.locks import lock_held
from testkit.pg_cluster import PgCluster

POOL_TIMEOUT = 0.5
REQUESTS = 5


async def _submit(client: httpx.AsyncClient, index: int) -> tuple[int, dict[str, object]]:
    response = await client.post(
        "/api/v1/submissions", json={"telegram_id": 42 + index, "text": essay_for(index, 1)}
    )
    return response.status_code, response.json()


@pytest.mark.timeout(60)
async def test_pool_exhaustion_gives_clear_503_and_recovers(
    private_cluster: PgCluster, service_factory: ServiceFactory
) -> None:
    """One pooled connection stuck behind a lock: the others are refused, not queued behind it."""
    service = service_factory(
        private_cluster.url(APP_DATABASE),
        db_pool_size="1",
        db_max_overflow="0",
        db_pool_timeout=str(POOL_TIMEOUT),
        db_statement_timeout="0",  # the stuck request waits for the lock as long as it is held
    )
    await asyncio.to_thread(service.wait_ready)
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as client:
        lock = "LOCK TABLE rate_limits IN ACCESS EXCLUSIVE MODE"
        async with lock_held(private_cluster.url(APP_DATABASE), lock):
            pending = {asyncio.create_task(_submit(client, i)) for i in range(REQUESTS)}
            answered: list[tuple[int, dict[str, object]]] = []
            while len(answered) < REQUESTS - 1:  # each waits DB_POOL_TIMEOUT for the connection
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                answered += [task.result() for task in done]
            # The lock is still held: one request holds the connection behind it, and every
            # other was answered meanwhile with a clear, retryable "busy" (no deadlock, no queue).
            assert len(pending) == 1
            assert {code for code, _ in answered} == {503}, answered
            for _, body in answered:
                assert body["error"] == "DatabaseBusy" and body["retryable"] is True, body
        # The lock released, the request that waited behind it succeeds.
        (stuck,) = pending
        assert (await stuck)[0] == 201
    # The body stays generic (no internals to clients); the operator's log names the cause.
    assert "no free connection" in service.log_text()
    await wait_ready_async(service.base_url, bound=30)
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
        results = await submit_many(service.base_url, 6)
        codes = [code for code, _, _ in results]
        assert set(codes) <= {201, 503}, results
        refused = [body for code, body, _ in results if code == 503]
        assert refused, "every request found a pooled connection; the test did not bite"
        for body in refused:
            assert body["error"] == "DatabaseBusy" and body["retryable"] is True, body
            assert "too many connections" in service.log_text()  # the body stays generic
        # Refused at once: a full server is not worth a retry (no retry line for it).
        assert "transient database failure (too_many_connections)" not in service.log_text()
        for hog in hogs:
            await hog.close()
        hogs.clear()
        await wait_ready_async(service.base_url, bound=30)
        assert {code for code, _, _ in await submit_many(service.base_url, 6, telegram_id=700)} == {
            201
        }
    finally:
        for hog in hogs:
            with contextlib.suppress(Exception):
                await hog.close()
        cluster.destroy()

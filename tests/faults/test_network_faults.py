"""A misbehaving network between the service and PostgreSQL: every request ends in its bound.

The service reaches PostgreSQL through ``testkit/tcp_proxy.py`` on loopback, which
blackholes or resets connections on demand; a lock held by another session makes a statement
run into ``DB_STATEMENT_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from bandwise.db.engine import CLIENT_TIMEOUT_MARGIN
from testkit.faults import APP_DATABASE, ServiceFactory, hold_lock, submit_many, wait_ready_async
from testkit.pg_cluster import PgCluster
from testkit.service import ServiceProcess
from testkit.tcp_proxy import TcpProxy

CONNECT_TIMEOUT = 1.0
STATEMENT_TIMEOUT = 1.0
ATTEMPTS = 2


@pytest.fixture
def proxy(private_cluster: PgCluster) -> Iterator[TcpProxy]:
    """Run a TCP proxy in front of the private cluster."""
    running = TcpProxy(private_cluster.host, private_cluster.port).start()
    yield running
    running.stop()


def _proxied_url(proxy: TcpProxy) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{APP_DATABASE}"


def _service(service_factory: ServiceFactory, url: str, **extra: str) -> ServiceProcess:
    return service_factory(
        url,
        db_connect_timeout=str(CONNECT_TIMEOUT),
        db_statement_timeout=str(STATEMENT_TIMEOUT),
        db_retry_attempts=str(ATTEMPTS),
        db_pool_size="4",
        db_max_overflow="0",
        **extra,
    )


@pytest.mark.timeout(60)
async def test_blackholed_network_requests_end_within_their_bound(
    proxy: TcpProxy, service_factory: ServiceFactory
) -> None:
    """Pooled and new connections blackholed: 503 after the client-side timeouts; recovery."""
    service = _service(service_factory, _proxied_url(proxy))
    await asyncio.to_thread(service.wait_ready)
    assert {code for code, _, _ in await submit_many(service.base_url, 4)} == {201}

    proxy.blackhole_all()
    # Per attempt: a stale pooled connection's ping (statement timeout + margin), SQLAlchemy's
    # graceful close of the dead connection (2 s), and a new connection's connect timeout.
    bound = ATTEMPTS * (STATEMENT_TIMEOUT + CLIENT_TIMEOUT_MARGIN + 2 + CONNECT_TIMEOUT) + 1
    results = await submit_many(service.base_url, 4, telegram_id=100)
    for code, body, seconds in results:
        assert code == 503, body
        assert body["retryable"] is True
        print(f"blackholed request answered 503 in {seconds:.2f} s")
        assert seconds < bound, f"request took {seconds:.1f} s (bound {bound:.1f} s)"

    proxy.heal()
    await wait_ready_async(service.base_url, bound=5)
    assert {code for code, _, _ in await submit_many(service.base_url, 4, telegram_id=200)} == {201}


@pytest.mark.timeout(60)
async def test_reset_connections_fail_fast_and_recover(
    proxy: TcpProxy, service_factory: ServiceFactory
) -> None:
    """Connections reset by the network: a quick retryable 503, then recovery."""
    service = _service(service_factory, _proxied_url(proxy))
    await asyncio.to_thread(service.wait_ready)
    proxy.reset_all()
    for code, body, seconds in await submit_many(service.base_url, 3):
        assert code == 503, body
        assert seconds < 2 * CONNECT_TIMEOUT + 1
    proxy.heal()
    await wait_ready_async(service.base_url, bound=5)
    assert {code for code, _, _ in await submit_many(service.base_url, 3, telegram_id=300)} == {201}


@pytest.mark.timeout(60)
async def test_statement_timeout_fires_on_a_blocked_statement(
    private_cluster: PgCluster, service_factory: ServiceFactory
) -> None:
    """A table lock held elsewhere: the server cancels after DB_STATEMENT_TIMEOUT; a clear 503."""
    service = _service(service_factory, private_cluster.url(APP_DATABASE))
    await asyncio.to_thread(service.wait_ready)
    holder = hold_lock(private_cluster, "rate_limits", seconds=4)
    try:
        results = await submit_many(service.base_url, 2, telegram_id=400)
    finally:
        holder.wait(10)
    for code, body, seconds in results:
        assert code == 503, body
        assert "statement_timeout" in service.log_text()  # the body stays generic
        assert STATEMENT_TIMEOUT * 0.9 < seconds < STATEMENT_TIMEOUT + 1.5
    assert {code for code, _, _ in await submit_many(service.base_url, 2, telegram_id=500)} == {201}


@pytest.mark.timeout(60)
async def test_slow_network_succeeds_below_the_timeouts_and_fails_fast_above(
    proxy: TcpProxy, service_factory: ServiceFactory
) -> None:
    """Latency under the timeouts only slows requests; latency over them gives a bounded 503."""
    service = _service(service_factory, _proxied_url(proxy))
    await asyncio.to_thread(service.wait_ready)

    proxy.set_mode("pass", delay=0.02)  # each direction of each round trip
    slow = await submit_many(service.base_url, 3, telegram_id=600)
    assert {code for code, _, _ in slow} == {201}, slow
    assert min(seconds for _, _, seconds in slow) > 0.04

    proxy.set_mode("pass", delay=STATEMENT_TIMEOUT + CLIENT_TIMEOUT_MARGIN + 0.5)
    bound = ATTEMPTS * (STATEMENT_TIMEOUT + CLIENT_TIMEOUT_MARGIN + 2 + CONNECT_TIMEOUT) + 1
    for code, body, seconds in await submit_many(service.base_url, 3, telegram_id=610):
        assert code == 503, body
        assert seconds < bound, f"request took {seconds:.1f} s (bound {bound:.1f} s)"

    proxy.heal()
    await wait_ready_async(service.base_url, bound=10)
    assert {code for code, _, _ in await submit_many(service.base_url, 3, telegram_id=620)} == {201}

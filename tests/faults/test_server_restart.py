"""Restart and kill -9 the PostgreSQL server under load: bounded recovery, nothing lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from testkit.faults import APP_DATABASE, ServiceFactory, completed_submission_ids, wait_ready_async
from testkit.load import HttpDriver, LoadReport, Outcome, run_load
from testkit.pg_cluster import PgCluster

USERS = 8
LOAD_SECONDS = 6.0
REQUEST_BOUND = 10.0  # no request may take longer than this, whatever the server does
READY_BOUND = 2.0  # ready again this soon after the server accepts connections
RETRYABLE = {"unavailable_503", "busy_503"}


class _Watched:
    """A driver that tells when a submission was acknowledged, and when one was refused."""

    def __init__(self, driver: HttpDriver) -> None:
        self.driver = driver
        self.name = driver.name
        self.acknowledged = asyncio.Event()
        self.refused = asyncio.Event()

    async def submit(self, telegram_id: int, text: str) -> Outcome:
        outcome = await self.driver.submit(telegram_id, text)
        (self.acknowledged if outcome.ok else self.refused).set()
        return outcome


async def _load_with_fault(
    cluster: PgCluster, base_url: str, fault: Callable[[], None]
) -> tuple[LoadReport, float]:
    async with HttpDriver(base_url, timeout=REQUEST_BOUND + 5) as driver:
        watched = _Watched(driver)
        load = asyncio.create_task(run_load(watched, users=USERS, duration=LOAD_SECONDS))
        async with asyncio.timeout(REQUEST_BOUND):  # the load flows before the fault
            await watched.acknowledged.wait()
        watched.refused.clear()
        await asyncio.to_thread(fault)
        async with asyncio.timeout(REQUEST_BOUND):  # a request has met the dead server
            await watched.refused.wait()
        await asyncio.to_thread(cluster.start)  # returns once it accepts connections
        ready_after = await wait_ready_async(base_url, bound=10)
        report = await load
    return report, ready_after


def _check(report: LoadReport, ready_after: float, cluster: PgCluster) -> None:
    kinds = report.errors
    slowest = max(outcome.seconds for outcome in report.outcomes)
    print(  # shown with -s: what the fault cost
        f"acknowledged {len(report.acknowledged)}, failed {dict(kinds)}, "
        f"ready {ready_after:.3f} s after the server accepted, slowest request {slowest:.2f} s"
    )
    assert report.acknowledged, "no submission succeeded at all"
    assert ready_after < READY_BOUND, f"ready {ready_after:.2f} s after the server came back"
    unexpected = {kind: n for kind, n in kinds.items() if kind not in RETRYABLE}
    assert not unexpected, f"non-retryable failures: {unexpected}; sample: " + str(
        [o.detail for o in report.outcomes if o.kind in unexpected][:3]
    )
    assert slowest < REQUEST_BOUND, f"a request took {slowest:.1f} s"
    # Count both sides: every acknowledged submission is stored, and nothing else completed.
    stored = completed_submission_ids(cluster, APP_DATABASE)
    acknowledged = set(report.acknowledged)
    assert acknowledged - stored == set(), f"acknowledged but lost: {sorted(acknowledged - stored)}"
    assert stored == acknowledged


@pytest.mark.timeout(60)
async def test_restart_mid_load(
    private_cluster: PgCluster, service_factory: ServiceFactory
) -> None:
    """A fast restart costs a few retryable 503s and no acknowledged submission."""
    service = service_factory(private_cluster.url(APP_DATABASE))
    await asyncio.to_thread(service.wait_ready)
    report, ready_after = await _load_with_fault(
        private_cluster, service.base_url, private_cluster.stop
    )
    _check(report, ready_after, private_cluster)
    assert "Traceback" not in service.log_text()


@pytest.mark.timeout(60)
async def test_kill_9_mid_transaction(
    private_cluster: PgCluster, service_factory: ServiceFactory
) -> None:
    """kill -9 of the postmaster and its backends: same guarantees after crash recovery."""
    service = service_factory(private_cluster.url(APP_DATABASE))
    await asyncio.to_thread(service.wait_ready)
    started = time.monotonic()
    report, ready_after = await _load_with_fault(
        private_cluster, service.base_url, private_cluster.kill
    )
    _check(report, ready_after, private_cluster)
    assert time.monotonic() - started < 30
    assert "Traceback" not in service.log_text()

"""Restart and kill -9 the PostgreSQL server under load: recovery without a restart, nothing lost.

How fast the service is ready again is measured in benchmarks/fault_recovery.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest

from testkit.faults import APP_DATABASE, ServiceFactory, completed_submission_ids, wait_ready_async
from testkit.load import HttpDriver, LoadReport, Outcome, run_load
from testkit.pg_cluster import PgCluster
from testkit.service import ServiceProcess

USERS = 8
LOAD_BOUND = 120.0  # the load stops once recovery is seen; this only bounds it
CLIENT_TIMEOUT = 30.0  # a request hanging past this shows up as a "timeout" outcome
RETRYABLE = {"unavailable_503", "busy_503"}
RETRY_LINE = re.compile(r"transient database failure \((\w+)\), retry (\d+)/(\d+) in")
ATTEMPTS = 3  # DB_RETRY_ATTEMPTS of the service under test


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
    """Run the load through ``fault`` and the server's start; stop it once writes succeed again."""
    recovered = asyncio.Event()
    async with HttpDriver(base_url, timeout=CLIENT_TIMEOUT) as driver:
        watched = _Watched(driver)
        load = asyncio.create_task(
            run_load(watched, users=USERS, duration=LOAD_BOUND, until=recovered)
        )
        await watched.acknowledged.wait()  # the load flows before the fault
        watched.refused.clear()
        await asyncio.to_thread(fault)
        await watched.refused.wait()  # a request has met the dead server
        await asyncio.to_thread(cluster.start)  # returns once it accepts connections
        watched.acknowledged.clear()
        ready_after = await wait_ready_async(base_url, bound=LOAD_BOUND)
        await watched.acknowledged.wait()  # a write acknowledged after the server came back
        recovered.set()
        report = await load
    return report, ready_after


def _check(
    report: LoadReport, ready_after: float, cluster: PgCluster, service: ServiceProcess
) -> None:
    kinds = report.errors
    log = service.log_text()
    retries = [(int(n), int(of)) for _, n, of in RETRY_LINE.findall(log)]
    print(  # shown with -s: what the fault cost
        f"acknowledged {len(report.acknowledged)}, failed {dict(kinds)}, {len(retries)} retries, "
        f"ready {ready_after:.3f} s after the server accepted"
    )
    assert report.acknowledged, "no submission succeeded at all"
    # Every failure was a clear, retryable refusal: none hung (that would be a client
    # "timeout"), none was a 500.
    unexpected = {kind: n for kind, n in kinds.items() if kind not in RETRYABLE}
    assert not unexpected, f"non-retryable failures: {unexpected}; sample: " + str(
        [o.detail for o in report.outcomes if o.kind in unexpected][:3]
    )
    # The dead server was retried, and boundedly: each unit of work at most ATTEMPTS times.
    assert retries, "no request was retried: the fault did not reach a transaction"
    assert all(of == ATTEMPTS - 1 and 1 <= n <= of for n, of in retries), retries
    assert "Traceback" not in log
    # Count both sides: every acknowledged submission is stored, and nothing else completed.
    stored = completed_submission_ids(cluster, APP_DATABASE)
    acknowledged = set(report.acknowledged)
    assert acknowledged - stored == set(), f"acknowledged but lost: {sorted(acknowledged - stored)}"
    assert stored == acknowledged
    assert service.process is not None and service.process.poll() is None  # never restarted


@pytest.mark.timeout(120)
async def test_restart_mid_load(
    private_cluster: PgCluster, service_factory: ServiceFactory
) -> None:
    """A fast restart costs a few retryable 503s and no acknowledged submission."""
    service = service_factory(private_cluster.url(APP_DATABASE), db_retry_attempts=str(ATTEMPTS))
    await asyncio.to_thread(service.wait_ready)
    report, ready_after = await _load_with_fault(
        private_cluster, service.base_url, private_cluster.stop
    )
    _check(report, ready_after, private_cluster, service)


@pytest.mark.timeout(120)
async def test_kill_9_mid_transaction(
    private_cluster: PgCluster, service_factory: ServiceFactory
) -> None:
    """kill -9 of the postmaster and its backends: same guarantees after crash recovery."""
    service = service_factory(private_cluster.url(APP_DATABASE), db_retry_attempts=str(ATTEMPTS))
    await asyncio.to_thread(service.wait_ready)
    report, ready_after = await _load_with_fault(
        private_cluster, service.base_url, private_cluster.kill
    )
    _check(report, ready_after, private_cluster, service)

"""Readiness checks shared by /health/ready, `bandwise db status` and the alerter."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from bandwise.db import migrate
from bandwise.db.errors import is_lock_wait, read_failure
from bandwise.db.readiness import ping
from bandwise.ops.maintenance import maintenance_state
from bandwise.runtime import Runtime

READY_TIMEOUT = 2.0


@dataclass
class Check:
    """One named check with its outcome."""

    name: str
    ok: bool
    detail: str
    seconds: float = 0.0


@dataclass
class ReadinessReport:
    """The outcome of every readiness check (no secrets, no personal data)."""

    checks: list[Check] = field(default_factory=list)
    maintenance: bool = False
    in_flight: int = 0

    @property
    def ready(self) -> bool:
        """Tell whether the service can take requests."""
        return not self.maintenance and all(check.ok for check in self.checks)

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON body of /health/ready."""
        status = "maintenance" if self.maintenance else ("ok" if self.ready else "unavailable")
        return {
            "status": status,
            "in_flight": self.in_flight,
            "checks": {
                c.name: {"ok": c.ok, "detail": c.detail, "seconds": round(c.seconds, 4)}
                for c in self.checks
            },
        }


def pool_usage(runtime: Runtime) -> tuple[int, int]:
    """Return (connections checked out, maximum the pool allows)."""
    pool: Any = runtime.engine.pool
    checked_out = int(pool.checkedout()) if hasattr(pool, "checkedout") else 0
    capacity = runtime.settings.db_pool_size + runtime.settings.db_max_overflow
    return checked_out, capacity


async def check_readiness(runtime: Runtime, timeout: float = READY_TIMEOUT) -> ReadinessReport:
    """Run the readiness checks, each bounded by ``timeout`` seconds."""
    report = ReadinessReport(
        maintenance=maintenance_state(runtime.settings.maintenance_flag_path) is not None,
        in_flight=runtime.in_flight,
    )
    started = time.monotonic()
    try:
        await ping(runtime.engine, timeout)
        report.checks.append(
            Check("database", True, runtime.engine.dialect.name, time.monotonic() - started)
        )
    except Exception as error:
        if is_lock_wait(error):  # it answered: another connection holds a lock readers need
            detail = read_failure(error)
        elif _pool_full(runtime):  # the probe waited for a connection, not for the server
            detail = "not checked: every pooled connection is in use"
        elif isinstance(error, asyncio.TimeoutError | TimeoutError):
            detail = "unreachable: timed out"
        else:
            detail = f"unreachable: {type(error).__name__}"
        report.checks.append(Check("database", False, detail, time.monotonic() - started))
        if _pool_full(runtime):
            _check_pool(runtime, report)
        _check_bot(runtime, report)
        return report
    started = time.monotonic()
    try:
        current = await asyncio.wait_for(migrate.current_revision(runtime.engine), timeout)
        head = migrate.head_revision()
        report.checks.append(
            Check(
                "schema",
                current == head,
                f"at {current or 'base'}, code expects {head}",
                time.monotonic() - started,
            )
        )
    except Exception as error:  # busy (a lock held) answers at once: it is no reason to hang
        report.checks.append(
            Check("schema", False, f"unknown: {read_failure(error)}", time.monotonic() - started)
        )
    _check_pool(runtime, report)
    _check_bot(runtime, report)
    return report


def _pool_full(runtime: Runtime) -> bool:
    """Tell whether every connection the pool allows is checked out."""
    checked_out, capacity = pool_usage(runtime)
    return checked_out >= capacity


def _check_pool(runtime: Runtime, report: ReadinessReport) -> None:
    """Report how many of the pool's connections are in use (full is not ready)."""
    checked_out, capacity = pool_usage(runtime)
    report.checks.append(Check("pool", checked_out < capacity, f"{checked_out}/{capacity} in use"))


def _check_bot(runtime: Runtime, report: ReadinessReport) -> None:
    """Report the bot of this process (when it runs here): down counts after its start-up grace."""
    if runtime.bot is None:
        return
    link = runtime.bot.link
    state = link.state()
    detail = f"{runtime.bot.mode.value}, {link.describe()}"
    if runtime.bot.mode == "webhook":
        detail += ", webhook registered" if link.webhook_registered else ", webhook not registered"
    report.checks.append(Check("bot", state.value in ("up", "starting"), detail))

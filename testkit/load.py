"""Simulated candidates submitting essays concurrently, for benchmarks and fault tests.

A *driver* carries one submission through a real entry point and says how it ended
(``Outcome``); ``run_load`` runs N candidates against a driver for T seconds and returns a
``LoadReport`` (throughput, latency percentiles, errors by kind, acknowledged ids). The HTTP
driver is here; the bot driver (Telegram updates through the Dispatcher) is in ``bot_driver``.
"""

from __future__ import annotations

import asyncio
import math
import os
import resource
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

OK = "ok"

# A fixed Task 2 essay (~250 words) with a per-candidate sentence so texts differ.
ESSAY = (
    "Some people believe that universities should focus on practical skills, while others "
    "think that academic knowledge matters more. In my opinion, both are important, although "
    "practical training deserves more attention than it currently receives.\n\n"
    "Firstly, practical skills help graduates find jobs. For example, engineering students who "
    "complete internships are often hired faster than those who only studied theory. Moreover, "
    "employers value experience because it reduces the cost of training new staff.\n\n"
    "On the other hand, theoretical knowledge provides a foundation which allows people to "
    "adapt when technology changes. A programmer who understands algorithms can learn a new "
    "language quickly, whereas someone who memorised one tool may struggle. Therefore, "
    "universities should not abandon academic subjects.\n\n"
    "In conclusion, I believe that a balance between the two is the best solution for "
    "students, employers and society as a whole. Governments should encourage universities to "
    "cooperate with companies so that every course includes some practical experience."
)


def essay_for(candidate: int, attempt: int) -> str:
    """Return a valid essay, slightly different for each candidate and attempt."""
    return f"{ESSAY}\n\nThis is draft number {attempt} written by candidate {candidate}."


@dataclass(frozen=True)
class Outcome:
    """How one submission ended: ``kind`` is ``ok`` or a stable error label."""

    kind: str
    seconds: float
    submission_id: int | None = None
    status: int | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Tell whether the submission was acknowledged."""
        return self.kind == OK


class SubmissionDriver(Protocol):
    """One entry point a simulated candidate submits through (HTTP API, bot Dispatcher, …)."""

    name: str

    async def submit(self, telegram_id: int, text: str) -> Outcome:
        """Submit ``text`` as candidate ``telegram_id`` and report how it ended."""
        ...


def classify_response(status: int, body: dict[str, Any]) -> str:
    """Return the error label of an HTTP answer (``ok`` for 201)."""
    if status == 201:
        return OK
    detail = str(body.get("detail", "")).lower()
    if status == 429:
        return "daily_limit"
    if status == 503:
        if "locked" in detail:
            return "database_locked"
        if body.get("error") == "DatabaseBusy":
            return "busy_503"
        if body.get("error") == "DatabaseUnavailable":
            return "unavailable_503"
        return f"503_{body.get('error', 'unknown')}"
    return f"http_{status}"


@dataclass
class HttpDriver:
    """Submit through ``POST /api/v1/submissions`` of a running service."""

    base_url: str
    timeout: float = 30.0
    token: str | None = None
    name: str = "http"
    client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> HttpDriver:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=self.timeout,
            headers=headers,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=1000),
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def submit(self, telegram_id: int, text: str) -> Outcome:
        """Post one essay; timeouts and transport errors become outcomes, not exceptions."""
        assert self.client is not None, "use `async with HttpDriver(...)`"
        started = time.perf_counter()
        try:
            response = await self.client.post(
                "/api/v1/submissions", json={"telegram_id": telegram_id, "text": text}
            )
        except httpx.TimeoutException as error:
            return Outcome("client_timeout", time.perf_counter() - started, detail=repr(error))
        except httpx.TransportError as error:
            return Outcome("connection_error", time.perf_counter() - started, detail=repr(error))
        seconds = time.perf_counter() - started
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {"detail": response.text[:200]}
        kind = classify_response(response.status_code, body)
        submission_id = body.get("id") if kind == OK else None
        return Outcome(
            kind,
            seconds,
            submission_id=submission_id,
            status=response.status_code,
            detail=str(body.get("detail", ""))[:300],
        )


@dataclass
class SpreadDriver:
    """Spread candidates over several drivers (e.g. one per service instance) by telegram id."""

    drivers: list[SubmissionDriver]
    name: str = "spread"

    async def submit(self, telegram_id: int, text: str) -> Outcome:
        """Submit through the driver this candidate is pinned to."""
        return await self.drivers[telegram_id % len(self.drivers)].submit(telegram_id, text)


def percentile(values: list[float], fraction: float) -> float:
    """Return the ``fraction`` percentile of ``values`` (nearest rank; NaN when empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


Sampler = Callable[[], Awaitable[dict[str, float]]]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """Return the user + system CPU seconds process ``pid`` used so far (Linux ``/proc``).

    ``reaped_children`` adds what its exited and waited-for children used (a postmaster's
    backends that ended). NaN when the process is gone or ``/proc`` is unavailable.
    """
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return math.nan
    # Fields after the command name, which is in parentheses and may contain spaces.
    fields = raw[raw.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / CLOCK_TICKS


def child_pids(pid: int) -> list[int]:
    """Return the pids of the live children of ``pid`` (Linux ``/proc``)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        if int(raw[raw.rindex(")") + 2 :].split()[1]) == pid:
            children.append(int(entry.name))
    return children


def process_tree_cpu_seconds(pid: int) -> dict[int, float]:
    """Return CPU seconds of ``pid`` (with its reaped children) and of each live child."""
    usage = {pid: process_cpu_seconds(pid, reaped_children=True)}
    for child in child_pids(pid):
        usage[child] = process_cpu_seconds(child)
    return {key: value for key, value in usage.items() if not math.isnan(value)}


def tree_cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """Return the CPU seconds a process tree used between two ``process_tree_cpu_seconds``.

    A child that exited in between is counted in its parent's reaped-children total, so the
    sum of the ``after`` values minus those of ``before`` still present (or reaped) is exact
    up to children that exited unreaped.
    """
    return sum(after.values()) - sum(before.values())


def self_cpu_seconds() -> float:
    """Return the CPU seconds (user + system) this process used so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class LoadReport:
    """What N candidates achieved in T seconds through one driver."""

    driver: str
    users: int
    seconds: float
    outcomes: list[Outcome] = field(default_factory=list)
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)

    @property
    def acknowledged(self) -> list[int]:
        """Return the ids of every acknowledged submission."""
        return [o.submission_id for o in self.outcomes if o.ok and o.submission_id is not None]

    @property
    def succeeded(self) -> int:
        """Return how many submissions succeeded (the bot path reports no ids)."""
        return sum(1 for o in self.outcomes if o.ok)

    @property
    def errors(self) -> Counter[str]:
        """Return the failed submissions counted by kind."""
        return Counter(o.kind for o in self.outcomes if not o.ok)

    @property
    def throughput(self) -> float:
        """Return successful submissions per second."""
        return self.succeeded / self.seconds if self.seconds > 0 else 0.0

    def latency(self, fraction: float, *, ok_only: bool = True) -> float:
        """Return a latency percentile in milliseconds."""
        chosen = [o.seconds for o in self.outcomes if o.ok or not ok_only]
        return percentile(chosen, fraction) * 1000

    def sample_max(self, key: str) -> float:
        """Return the largest sampled value of ``key`` (NaN when never sampled)."""
        values = [sample[key] for _, sample in self.samples if key in sample]
        return max(values) if values else math.nan


async def run_load(
    driver: SubmissionDriver,
    *,
    users: int,
    duration: float,
    first_telegram_id: int = 1_000_000,
    think_time: float = 0.0,
    samplers: list[Sampler] | None = None,
    sample_every: float = 1.0,
    on_sample: Callable[[float, dict[str, float]], None] | None = None,
    submissions_per_user: int | None = None,
    until: asyncio.Event | None = None,
) -> LoadReport:
    """Let ``users`` candidates submit back to back through ``driver`` for ``duration`` seconds.

    With ``submissions_per_user`` each candidate stops after that many (a test's exact count;
    ``duration`` then only bounds the run); with ``until``, once that event is set.
    """
    report = LoadReport(driver=driver.name, users=users, seconds=duration)
    started = time.monotonic()
    deadline = started + duration

    async def candidate(index: int) -> None:
        attempt = 0
        stopped = until.is_set if until is not None else lambda: False
        while time.monotonic() < deadline and attempt != submissions_per_user and not stopped():
            attempt += 1
            outcome = await driver.submit(first_telegram_id + index, essay_for(index, attempt))
            report.outcomes.append(outcome)
            if think_time > 0:
                await asyncio.sleep(think_time)
            elif not outcome.ok:
                await asyncio.sleep(0.05)  # a real client backs off after an error

    async def sample() -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(min(sample_every, max(0.0, deadline - time.monotonic())))
            merged: dict[str, float] = {}
            for sampler in samplers or []:
                try:
                    merged.update(await sampler())
                except Exception:
                    merged["sample_errors"] = merged.get("sample_errors", 0) + 1
            moment = time.monotonic() - started
            report.samples.append((moment, merged))
            if on_sample is not None:
                on_sample(moment, merged)

    tasks = [asyncio.create_task(candidate(index)) for index in range(users)]
    sampler_task = asyncio.create_task(sample()) if samplers else None
    await asyncio.gather(*tasks)
    report.seconds = time.monotonic() - started
    if sampler_task is not None:
        sampler_task.cancel()
        await asyncio.gather(sampler_task, return_exceptions=True)
    return report

"""Talk to the running bandwise service: is it there, frozen, idle, on which engine."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx


async def probe(service_url: str, timeout: float = 3.0) -> dict[str, Any] | None:
    """Return the service's readiness body, or None when nothing answers."""
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(f"{service_url.rstrip('/')}/health/ready")
    except httpx.HTTPError:
        return None
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        return None
    return body


async def wait_until(service_url: str, condition: str, timeout: float) -> dict[str, Any]:
    """Poll readiness until ``condition`` holds: ``frozen`` (maintenance, nothing in flight)
    or ``postgresql`` (answering from PostgreSQL). Raise TimeoutError naming what was seen."""
    deadline = time.monotonic() + timeout
    seen: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        seen = await probe(service_url)
        if seen is not None and _holds(seen, condition):
            return seen
        await asyncio.sleep(0.2)
    raise TimeoutError(
        f"the service at {service_url} did not become {condition} within "
        f"{timeout:g} s (last answer: {seen})"
    )


def _holds(body: dict[str, Any], condition: str) -> bool:
    if condition == "frozen":
        return body.get("status") == "maintenance" and int(body.get("in_flight", 0)) == 0
    database = body.get("checks", {}).get("database", {})
    return bool(database.get("ok")) and database.get("detail") == "postgresql"

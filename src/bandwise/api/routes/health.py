"""Liveness (the process only) and readiness (database, schema, pool, maintenance)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bandwise.api.deps import RuntimeDep
from bandwise.ops.health import check_readiness

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live")
async def live() -> dict[str, str]:
    """Answer while the process runs; never touches the database (no restart cascades)."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "Not ready: the failing checks"}})
async def ready(runtime: RuntimeDep) -> JSONResponse:
    """Answer 200 when the database answers, the schema is at head and the pool has room."""
    report = await check_readiness(runtime)
    return JSONResponse(report.as_dict(), status_code=200 if report.ready else 503)

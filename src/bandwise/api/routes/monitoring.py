"""/metrics (Prometheus) and /admin (the operator's page) over the runtime's monitoring."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import APIRouter, Cookie, Header, HTTPException, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from bandwise.api.deps import RuntimeDep
from bandwise.ops.health import pool_usage
from bandwise.ops.monitoring.admin_page import render_admin_page
from bandwise.ops.monitoring.backups import backup_origin, list_backups
from bandwise.ops.monitoring.service import Monitoring, monitoring_of
from bandwise.ops.monitoring.status import collect_status
from bandwise.runtime import Runtime

ADMIN_COOKIE = "bandwise_admin"


router = APIRouter(tags=["monitoring"])


def _monitoring(runtime: Runtime) -> Monitoring:
    monitoring = monitoring_of(runtime)
    if monitoring is None:
        raise HTTPException(status_code=503, detail="monitoring is not running")
    return monitoring


@router.get("/metrics", include_in_schema=False)
async def metrics(runtime: RuntimeDep) -> Response:
    """Expose every metric in the Prometheus text format."""
    return Response(_monitoring(runtime).metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def _token_digest(token: str) -> str:
    # The cookie holds a digest, so the token itself never sits in the browser.
    return hashlib.sha256(f"bandwise-admin:{token}".encode()).hexdigest()


def _authorised(runtime: Runtime, bearer: str | None, cookie: str | None) -> bool:
    expected = runtime.settings.admin_token
    if expected is None:
        raise HTTPException(status_code=404, detail="the admin page is off (set ADMIN_TOKEN)")
    secret = expected.get_secret_value()
    scheme, _, token = (bearer or "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), secret.encode()):
        return True
    return cookie is not None and hmac.compare_digest(
        cookie.encode(), _token_digest(secret).encode()
    )


@router.get("/admin", response_class=HTMLResponse, include_in_schema=False)
async def admin_page(
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Header()] = None,
    session: Annotated[str | None, Cookie(alias=ADMIN_COOKIE)] = None,
    token: Annotated[str | None, Query()] = None,
) -> Response:
    """Show the operator's page (ADMIN_TOKEN as bearer, cookie, or ``?token=`` once)."""
    if token is not None:
        expected = runtime.settings.admin_token
        if expected is None or not hmac.compare_digest(
            token.encode(), expected.get_secret_value().encode()
        ):
            raise HTTPException(status_code=401, detail="wrong admin token")
        # Trade the token in the URL for a cookie at once, so it leaves the address bar.
        redirect = RedirectResponse("/admin", status_code=303)
        redirect.set_cookie(
            ADMIN_COOKIE, _token_digest(token), httponly=True, samesite="strict", path="/admin"
        )
        return redirect
    if not _authorised(runtime, authorization, session):
        raise HTTPException(
            status_code=401,
            detail="missing or wrong admin token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    monitoring = _monitoring(runtime)
    checked_out, _ = pool_usage(runtime)
    status = await collect_status(
        monitoring.stats_engine,
        runtime.settings,
        stats=monitoring.stats.latest,
        firing=monitoring.alerter.firing(),
        checked_out=checked_out,
    )
    page = render_admin_page(
        status,
        monitoring.history.samples(),
        list(monitoring.alerter.recent),
        list_backups(runtime.settings.backup_dir, backup_origin(runtime.engine.url)),
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})

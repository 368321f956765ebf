"""Translate domain errors into HTTP responses: the one place that does it."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bandwise import errors

log = logging.getLogger(__name__)

STATUS_BY_ERROR: list[tuple[type[errors.BandwiseError], int]] = [
    (errors.InvalidInput, 422),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.DailyLimitReached, 429),
    (errors.MaintenanceMode, 503),
    (errors.DatabaseUnavailable, 503),
    (errors.DatabaseBusy, 503),
    (errors.SchemaNotAtHead, 503),
    (errors.DatabaseError, 503),
    (errors.AssessmentFailed, 502),
    (errors.ConfigurationError, 500),
]


def status_for(error: errors.BandwiseError) -> int:
    """Return the HTTP status of a domain error."""
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status
    return 500


def error_response(error: errors.BandwiseError) -> JSONResponse:
    """Render ``error`` as a JSON response with the right status and headers."""
    status = status_for(error)
    body: dict[str, object] = {"error": type(error).__name__, "detail": error.message}
    headers: dict[str, str] = {}
    if isinstance(error, errors.InvalidInput) and error.field:
        body["field"] = error.field
    if isinstance(error, errors.DailyLimitReached):
        body["resets_at"] = error.resets_at.isoformat()
        body["limit"] = error.limit
    if isinstance(error, errors.MaintenanceMode):
        headers["Retry-After"] = str(error.retry_after_seconds)
    elif status == 503:
        body["retryable"] = True
        headers["Retry-After"] = "5"
    if status >= 500:
        log.warning("request failed: %s", error)
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the domain-error handler on ``app``."""

    async def handle(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, errors.BandwiseError)
        return error_response(error)

    app.add_exception_handler(errors.BandwiseError, handle)

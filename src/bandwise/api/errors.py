"""Translate errors into HTTP responses: the one place that does it.

Domain errors, request validation, HTTP errors and driver errors that escaped a service all
leave as one JSON body (``ErrorOut``). A 5xx body says what happened in the client's terms,
never how: no URL, no driver message (the log has those).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from bandwise import errors
from bandwise.db.errors import CONNECTION_ERRORS, to_domain_error

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

# What a client is told about a server-side failure (the operator's message goes to the log).
PUBLIC_DETAIL: list[tuple[type[errors.BandwiseError], str]] = [
    (errors.MaintenanceMode, "bandwise is being upgraded; try again shortly"),
    (errors.SchemaNotAtHead, "the database schema is being upgraded; try again shortly"),
    (errors.DatabaseBusy, "the database is busy; try again shortly"),
    (errors.DatabaseError, "the database is unavailable; try again shortly"),
    (errors.AssessmentFailed, "the essay could not be scored right now; try again later"),
]
INTERNAL_DETAIL = "internal error; the operator's log has the details"

# Longest piece of a client's input quoted back in an error (huge input is never echoed).
MAX_QUOTED = 200


class FieldErrorOut(BaseModel):
    """One rejected field of a request."""

    field: str = Field(description="Dotted name of the field (body, path or query)")
    message: str = Field(description="What is wrong with it")


class ErrorOut(BaseModel):
    """The body of every error response."""

    error: str = Field(description="Kind of error, e.g. InvalidInput, DatabaseUnavailable")
    detail: str = Field(description="What happened, for a person")
    field: str | None = Field(default=None, description="The field at fault (422)")
    errors: list[FieldErrorOut] | None = Field(default=None, description="Every rejected field")
    retryable: bool | None = Field(default=None, description="True when a retry may succeed")
    limit: int | None = Field(default=None, description="Checks allowed per day (429)")
    resets_at: datetime | None = Field(default=None, description="When checks reset (429)")


DESCRIPTIONS = {
    401: "Missing or wrong bearer token (API_TOKEN)",
    404: "Not found",
    413: "Request body too large",
    422: "Invalid request: `field` names what was wrong",
    429: "Daily limit reached: `resets_at` says when more checks are available",
    502: "The essay could not be scored (the language-model provider failed)",
    503: "The database is unavailable or bandwise is in maintenance; retry after Retry-After",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return the OpenAPI ``responses`` entries documenting ``statuses`` with ``ErrorOut``."""
    return {status: {"model": ErrorOut, "description": DESCRIPTIONS[status]} for status in statuses}


def status_for(error: errors.BandwiseError) -> int:
    """Return the HTTP status of a domain error."""
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status
    return 500


def _public_detail(error: errors.BandwiseError, status: int) -> str:
    if status < 500:
        return error.message
    for error_type, detail in PUBLIC_DETAIL:
        if isinstance(error, error_type):
            return detail
    return INTERNAL_DETAIL


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    shown = {key: value for key, value in body.items() if value is not None}
    return JSONResponse(shown, status_code=status, headers=headers)


def error_response(error: errors.BandwiseError) -> JSONResponse:
    """Render ``error`` as a JSON response with the right status and headers."""
    status = status_for(error)
    body: dict[str, Any] = {"error": type(error).__name__, "detail": _public_detail(error, status)}
    headers: dict[str, str] = {}
    if isinstance(error, errors.InvalidInput) and error.field:
        body["field"] = error.field
    if isinstance(error, errors.DailyLimitReached):
        body["resets_at"] = error.resets_at.isoformat()
        body["limit"] = error.limit
    if isinstance(error, errors.MaintenanceMode):
        headers["Retry-After"] = str(error.retry_after_seconds)
        body["retryable"] = True
    elif status == 503:
        body["retryable"] = True
        headers["Retry-After"] = "5"
    if status >= 500:
        log.warning("request failed: %s", error)
    return _json(body, status, headers)


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(part) for part in location]
    if len(parts) > 1 and parts[0] in ("body", "path", "query", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def _quoted(text: str) -> str:
    # Drop what JSON cannot carry (lone surrogates) and keep it short.
    safe = text.encode("utf-8", "replace").decode("utf-8")
    return safe if len(safe) <= MAX_QUOTED else f"{safe[:MAX_QUOTED]}…"


def validation_response(error: RequestValidationError) -> JSONResponse:
    """Render a rejected request as 422 naming every field, without echoing the input."""
    fields = [
        {
            "field": _quoted(_field_name(item.get("loc", ()))),
            "message": _quoted(str(item["msg"]).removeprefix("Value error, ")),
        }
        for item in error.errors()
    ] or [{"field": "body", "message": "invalid request"}]
    first = fields[0]
    return _json(
        {
            "error": "InvalidInput",
            "detail": f"{first['field']}: {first['message']}",
            "field": first["field"],
            "errors": fields,
        },
        422,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers of domain, validation, HTTP and driver errors on ``app``."""

    async def domain(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, errors.BandwiseError)
        return error_response(error)

    async def invalid(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return validation_response(error)

    async def http(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        name = "Unauthorized" if error.status_code == 401 else "HTTPError"
        return _json(
            {"error": name, "detail": _quoted(str(error.detail))},
            error.status_code,
            dict(error.headers or {}),
        )

    async def driver(request: Request, error: Exception) -> JSONResponse:
        runtime = getattr(request.app.state, "runtime", None)
        target = runtime.settings.masked_database_url if runtime is not None else "database"
        return error_response(to_domain_error(error, target))

    app.add_exception_handler(errors.BandwiseError, domain)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http)
    # A driver error that escaped a service is an outage (503), never a 500.
    for error_type in CONNECTION_ERRORS:
        app.add_exception_handler(error_type, driver)

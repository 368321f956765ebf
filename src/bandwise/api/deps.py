"""FastAPI dependencies: the runtime the lifespan opened, and the bearer token."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from bandwise.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    """Return the runtime the lifespan created."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def require_api_token(
    runtime: RuntimeDep, authorization: str | None = Header(default=None)
) -> None:
    """Refuse the request unless it carries ``Authorization: Bearer <API_TOKEN>``."""
    expected = runtime.settings.api_token
    if expected is None:
        return  # only possible on loopback: create_app refuses otherwise
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.encode(), expected.get_secret_value().encode()
    ):
        raise HTTPException(
            status_code=401,
            detail="missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )

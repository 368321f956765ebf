"""FastAPI dependencies: the runtime built by the lifespan, sessions, and the bearer token."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession

from bandwise.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    """Return the runtime the lifespan created."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """Yield a session for a read-only request (writes go through services' transactions)."""
    async with runtime.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


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

"""FastAPI dependencies: the runtime the lifespan opened (the token is api/security.py's)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bandwise.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    """Return the runtime the lifespan created."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

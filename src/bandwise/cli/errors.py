"""Translate domain errors into messages and exit codes: the one place that does it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, TypeVar

from bandwise import errors

T = TypeVar("T")

EXIT_CODES: list[tuple[type[errors.BandwiseError], int]] = [
    (errors.ConfigurationError, 2),
    (errors.InvalidInput, 2),
    (errors.DatabaseUnavailable, 3),
    (errors.DatabaseBusy, 3),
    (errors.MigrationError, 4),
    (errors.SchemaNotAtHead, 4),
    (errors.Conflict, 5),
    (errors.NotFound, 6),
    (errors.OperationFailed, 1),
]


def exit_code_for(error: errors.BandwiseError) -> int:
    """Return the process exit code for a domain error."""
    for error_type, code in EXIT_CODES:
        if isinstance(error, error_type):
            return code
    return 1


def fail(error: errors.BandwiseError) -> NoReturn:
    """Print ``error`` to stderr (no traceback) and exit with its code."""
    print(f"error: {error.message}", file=sys.stderr)
    raise SystemExit(exit_code_for(error))


def guarded(function: Callable[[], T]) -> T:
    """Call ``function``; a domain error becomes a message and an exit code."""
    try:
        return function()
    except errors.BandwiseError as error:
        fail(error)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None


def run(coroutine_factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run an async library call from a command, translating domain errors."""
    return guarded(lambda: asyncio.run(coroutine_factory()))
